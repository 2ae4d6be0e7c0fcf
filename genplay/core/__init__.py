"""Qt-free core: datasets, images, models, checkpoints, training and metrics."""

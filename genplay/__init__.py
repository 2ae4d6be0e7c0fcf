"""genplay: a desktop playground for deep generative image models."""

__version__ = "0.1.0"

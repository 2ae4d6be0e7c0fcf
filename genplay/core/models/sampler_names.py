"""The names of the diffusion samplers: the one list the diffusion family, the command line
and the panels read (kept free of torch, so `genplay --help` builds its parser at once).
The samplers themselves are in diffusion_samplers."""

SAMPLERS = ("ddpm", "ddim", "dpmpp", "dpmpp-sde", "unipc")
# UniPC at 20 steps (denoising_model's default_steps): of the deterministic samplers the
# best at 20 steps on both shipped datasets (FID 21.85 MNIST, 7.06 Fashion-MNIST, against
# DPM-Solver++'s 22.83 and 7.68; benchmarks/results/samplers-vs-diffusers-*.txt).
# Deterministic, so a seed's image does not depend on what is drawn beside it.
DEFAULT_SAMPLER = "unipc"

# Where a sampler's steps fall in time ("grid"): "auto" is each sampler's own choice at
# that step count (diffusion_samplers.spacing_for); the others are
# TabulatedSchedule.spaced's spacings.
GRIDS = ("auto", "trailing", "logsnr", "time")

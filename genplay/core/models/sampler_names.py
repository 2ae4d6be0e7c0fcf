"""The names of the diffusion samplers: the one list the diffusion family, the command line
and the panels read (kept free of torch, so `genplay --help` builds its parser at once).
The samplers themselves are in diffusion_samplers."""

SAMPLERS = ("ddpm", "ddim", "dpmpp", "dpmpp-sde", "unipc")
DEFAULT_SAMPLER = "dpmpp"  # DPM-Solver++(2M): good images in 10-20 steps, deterministic

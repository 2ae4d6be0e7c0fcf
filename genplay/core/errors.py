"""Errors that describe a user's mistake or bad input.

The CLI prints them as one line (exit code 2) and the GUI shows them as a
message; anything else escaping is a bug and keeps its traceback.
"""


class GenplayError(Exception):
    """Base for every error whose message is meant for the user."""


class ImageError(GenplayError):
    """An image file that cannot be read, or should not be."""


class DatasetError(GenplayError):
    """A dataset that is missing or malformed."""


class CheckpointError(GenplayError):
    """A checkpoint folder that is missing, corrupt or inconsistent."""


class PickleRefused(CheckpointError):
    """Weights stored as a pickle (a diffusers .bin), refused until the user trusts them
    (--trust-pickle; the app asks): even then they are read with torch.load(weights_only=True),
    which runs no code."""

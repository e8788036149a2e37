"""Errors jiasu raises on bad input.

Every message says what was expected, what was received, and what to do next;
tests assert them verbatim. All derive from :class:`JiasuError`, so the CLI can
print them without a traceback.
"""

from __future__ import annotations


class JiasuError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class ModelLoadError(JiasuError):
    """A model file is missing, truncated, corrupt, or not a model at all."""


class UnsupportedOpError(JiasuError):
    """The graph holds an operator that no registered kernel implements."""


class InputError(JiasuError):
    """A feed has the wrong name, shape or dtype for the model's inputs."""


class AlgorithmError(JiasuError):
    """A convolution algorithm was asked for where it does not exist or apply."""


class BackendUnavailableError(JiasuError):
    """An optional backend's package is not installed."""


class DataError(JiasuError):
    """A dataset is missing, corrupt, or not in a format jiasu reads."""


def format_choices(names, per_line: int = 8) -> str:
    """Sorted names, comma-separated and wrapped, for 'supported: ...' lists."""
    names = sorted(names)
    lines = [", ".join(names[i : i + per_line]) for i in range(0, len(names), per_line)]
    return ",\n  ".join(lines)

"""`jiasu quantize` commands (registered on the shared app)."""

from __future__ import annotations

from . import app, _friendly_errors, console, MODEL_HELP  # noqa: F401

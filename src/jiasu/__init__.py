"""jiasu (加速): make trained networks fast where they run.

The public API: ``load`` any model into our graph, ``Engine`` to run it with
our kernels, and the stages (zoo, frontends, kernels, runtime) as subpackages.
``import jiasu`` stays light: optional backends import their packages lazily.
"""

from .errors import JiasuError
from .frontends import load
from .frontends.inputs import example_feeds
from .runtime import Engine, EngineOptions

__version__ = "0.1.0"

__all__ = ["Engine", "EngineOptions", "JiasuError", "example_feeds", "load", "__version__"]

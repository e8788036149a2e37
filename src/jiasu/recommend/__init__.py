"""Recommend: search the recipes for a model and pick the best one for a scenario under an accuracy budget.

>>> from jiasu.recommend import optimize, apply_recipe
>>> result = optimize("zoo:smallcnn?weights=fashion-mnist", "fashion-mnist-subset", output_dir="out")  # doctest: +SKIP
>>> result.chosen["label"], result.met_budget                                                         # doctest: +SKIP
>>> apply_recipe("out/recipe.yaml", output_dir="again")["matches"]                                     # doctest: +SKIP
True

Modules: ``recipe`` (the knobs as data, recipe files), ``build`` (a recipe's model), ``evaluate``
(accuracy, objectives, scenarios), ``search`` (the space and one trial), ``peers`` (peer defaults
and the final comparison), ``optimize`` (the whole run, outputs, ``apply_recipe``), ``distributed``
(the Ray Tune path).
"""

from .evaluate import SCENARIOS, Objective
from .optimize import DEFAULT_DATA, DEFAULT_MODEL, OptimizeResult, apply_recipe, optimize
from .recipe import Recipe, read_recipe, write_recipe

__all__ = [
    "DEFAULT_DATA",
    "DEFAULT_MODEL",
    "SCENARIOS",
    "Objective",
    "OptimizeResult",
    "Recipe",
    "apply_recipe",
    "optimize",
    "read_recipe",
    "write_recipe",
]

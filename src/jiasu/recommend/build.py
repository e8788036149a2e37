"""Build the model a recipe describes: prune and retrain (torch), export, convert the precision (ONNX).

The same recipe on the same source and data gives the same bytes: retraining is seeded, runs on a
fixed number of threads without background loader workers (whose scheduling would reorder nothing
but whose thread counts change float summation order in oneDNN's backward pass), and the ONNX is
serialized deterministically. ``jiasu apply`` relies on this and checks it against the sha256 the
recipe file records.

Built models are cached in memory and, with ``cache_dir``, on disk: trials that differ only in how
a model is run (backend, threads) share one build, and a resumed or distributed search reuses the
retraining done before.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

import onnx_ir as ir

from ..errors import JiasuError
from .recipe import Recipe, without_later_defaults

#: Threads used for retraining whatever the machine: fixed so the result is reproducible bit for bit.
TRAIN_THREADS = 2


@dataclass
class Source:
    """The model being optimized: its ONNX graph and, when the user gave torch weights, the module."""

    spec: str
    onnx: bytes
    module: Any = None  # torch.nn.Module in eval mode, or None for an ONNX file
    example: Any = None  # a batch-of-one example input of the module

    @cached_property
    def digest(self) -> str:
        """sha256 of the ONNX bytes: part of every cache key, computed once (a resnet is tens of MB)."""
        return sha256(self.onnx)

    @property
    def trainable(self) -> bool:
        return self.module is not None

    @property
    def model(self) -> ir.Model:
        from ..frontends import load_onnx

        return load_onnx(self.onnx, check=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """(1, C, H, W) of the model's image input."""
        from ..frontends.inputs import model_inputs

        graph_input = model_inputs(self.model)[0]
        dims = [d if isinstance(d, int) else 1 for d in graph_input.shape]
        return tuple(dims)


def load_source(spec: str) -> Source:
    """A :class:`Source` from ``zoo:NAME[?...]``, a jiasu-saved ``.pt`` (torch weights) or an ``.onnx`` file."""
    from ..frontends import ZOO_PREFIX, export_module, load_onnx
    from ..frontends.torch_module import load_torch

    text = str(spec)
    if text.startswith(ZOO_PREFIX) or text.endswith(".pt"):
        module, example = load_torch(text)
        module = module.eval()
        return Source(text, export_module(module, example), module, example)
    model = load_onnx(text)  # a clear ModelLoadError for a missing or corrupt file
    return Source(text, serialize(model))


def pool_phases(onnx: bytes) -> tuple[bytes, int]:
    """``onnx`` after :mod:`jiasu.passes.pool_phases`, and how many max pools it folded."""
    from ..frontends import load_onnx
    from ..passes import optimize

    model, (report,) = optimize(load_onnx(onnx, check=False), ["pool_phases"])
    return serialize(model), report.total_rewrites


def foldable_pools(onnx: bytes) -> int:
    """How many max pools :func:`pool_phases` would fold in ``onnx`` (the pass's own match, nothing rewritten)."""
    from ..frontends import load_onnx
    from ..passes.pool_phases import PoolPhases

    return PoolPhases.foldable(load_onnx(onnx, check=False))


def serialize(model: ir.Model) -> bytes:
    return ir.to_proto(model).SerializeToString(deterministic=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Built:
    """A recipe's model: the ONNX bytes every backend runs, the float model before precision changes, facts."""

    recipe: Recipe
    onnx: bytes
    float_onnx: bytes
    module: Any = None  # the retrained torch module (pruned recipes) or the source's
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return sha256(self.onnx)


class Builder:
    """Builds recipes on one source and data, with the caches described in the module docstring."""

    def __init__(self, source: Source, train_data: Any = None, calib_data: Any = None, cache_dir: Optional[Path] = None, progress: bool = False):
        self.source = source
        self.train_data = train_data
        self.calib_data = calib_data if calib_data is not None else train_data
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.progress = progress
        self._float: dict[str, tuple[bytes, Any, dict]] = {}
        self._built: dict[str, Built] = {}

    # ---- the float (pruned, retrained) model ------------------------------------------------

    def _prune_key(self, r: Recipe) -> str:
        r = r.normalized()
        data = without_later_defaults(
            {k: getattr(r, k) for k in ("prune", "prune_ratio", "finetune_epochs", "distill", "teacher", "seed", "lr", "schedule", "train_batch", "train_limit")}
        )
        data["source"] = self.source.digest
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def float_model(self, recipe: Recipe) -> tuple[bytes, Any, dict]:
        """(ONNX bytes, torch module or None, facts) of the recipe's model before its precision is changed."""
        recipe = recipe.normalized()
        if not recipe.trains:
            return self.source.onnx, self.source.module, {}
        key = self._prune_key(recipe)
        if key in self._float:
            return self._float[key]
        cached = self._disk(f"float-{key}.onnx")
        if cached is not None and cached.exists() and cached.with_suffix(".json").exists():
            result = (cached.read_bytes(), None, json.loads(cached.with_suffix(".json").read_text()))
        else:
            result = self._retrain(recipe)
            if cached is not None:
                cached.write_bytes(result[0])
                cached.with_suffix(".json").write_text(json.dumps(result[2]))
        self._float[key] = result
        return result

    def _retrain(self, recipe: Recipe) -> tuple[bytes, Any, dict]:
        import torch

        from ..compress.distill import DistillationLoss
        from ..compress.prune import count_macs_params, count_nonzero, iterative_prune, make_permanent, prune_channels
        from ..frontends import export_module
        from ..train import fit
        from ..train.loop import seed_everything

        if not self.source.trainable:
            raise JiasuError(f"recipe prunes the model ({recipe.prune}), which needs torch weights; {self.source.spec} is ONNX only")
        if self.train_data is None:
            raise JiasuError("recipe prunes and retrains the model, which needs training data; give --data")
        train = self.train_data.take(recipe.train_limit) if recipe.train_limit else self.train_data
        module = copy.deepcopy(self.source.module)
        example = self.source.example
        threads = torch.get_num_threads()
        torch.set_num_threads(TRAIN_THREADS)
        try:
            seed_everything(recipe.seed)
            teacher = self.teacher_for(recipe.teacher) if recipe.distill else None
            loss_fn = DistillationLoss(teacher) if teacher is not None else None
            fit_options = dict(lr=recipe.lr, schedule=recipe.schedule, batch_size=recipe.train_batch, num_workers=0, progress=self.progress, loss_fn=loss_fn)
            info: dict[str, Any] = {}
            if recipe.prune == "channel":
                macs_before, params_before = count_macs_params(module, example)
                prune_channels(module, example, recipe.prune_ratio)
                macs_after, params_after = count_macs_params(module, example)
                info.update(macs_before=macs_before, macs_after=macs_after, params_before=params_before, params_after=params_after)
                if recipe.finetune_epochs:
                    fit(module.train(), train, None, epochs=recipe.finetune_epochs, seed=recipe.seed, description="finetune", **fit_options)
            else:
                steps = max(1, recipe.finetune_epochs)
                iterative_prune(module, train, None, recipe.prune_ratio, steps=steps, epochs_per_step=1 if recipe.finetune_epochs else 0, method="magnitude", seed=recipe.seed, **fit_options)
                make_permanent(module)
            nonzero, total = count_nonzero(module)
            info.update(nonzero_params=nonzero, params_total=total)
            module.eval()
            onnx_bytes = export_module(module, example)
        finally:
            torch.set_num_threads(threads)
        from ..frontends import load_onnx

        return serialize(load_onnx(onnx_bytes, check=False)), module, info

    def teacher_for(self, spec: str) -> Any:
        """The distillation teacher, eval mode: the model ``spec`` names (a recipe's ``teacher``), or the original
        model for ''; checked against the student's outputs."""
        import torch

        if not spec:
            return copy.deepcopy(self.source.module).eval()
        from ..frontends.torch_module import load_torch

        teacher = load_torch(spec)[0].eval()
        example = self.source.example
        with torch.no_grad():
            try:
                got = tuple(teacher(example).shape)
            except Exception as e:  # a teacher built for other inputs fails inside its own layers
                raise JiasuError(f"teacher {spec} cannot run on the model's input of shape {tuple(example.shape)}: {type(e).__name__}: {e}") from None
            want = tuple(self.source.module(example).shape)
        if got != want:
            raise JiasuError(f"teacher {spec} gives outputs of shape {got}, the model {want}; a teacher must predict the same classes")
        return teacher

    # ---- precision ---------------------------------------------------------------------------

    def build(self, recipe: Recipe) -> Built:
        """The recipe's model (cached by :meth:`Recipe.build_key`)."""
        from ..frontends import load_onnx

        recipe = recipe.normalized()
        key = recipe.build_key() + "-" + self.source.digest[:12]
        if key in self._built:
            return self._built[key]
        float_onnx, module, info = self.float_model(recipe)
        if recipe.pool_phases:
            float_onnx, folded = pool_phases(float_onnx)
            info = dict(info, pool_phases=folded)
        cached = self._disk(f"model-{key}.onnx")
        if cached is not None and cached.exists():
            onnx_bytes = cached.read_bytes()
        else:
            onnx_bytes = self._convert(recipe, load_onnx(float_onnx, check=False))
            if cached is not None:
                cached.write_bytes(onnx_bytes)
        built = Built(recipe, onnx_bytes, float_onnx, module, dict(info, size_bytes=len(onnx_bytes)))
        self._built[key] = built
        return built

    def _convert(self, recipe: Recipe, model: ir.Model) -> bytes:
        from ..compress import quantize as q

        if recipe.precision == "fp32":
            return serialize(model)
        if recipe.precision in ("fp16", "bf16"):
            converted, _ = q.convert_float(model, recipe.precision, compute=True)
            return serialize(converted)
        if recipe.precision == "int8-dynamic":
            converted, _ = q.quantize_dynamic(model)
            return serialize(converted)
        if self.calib_data is None:
            raise JiasuError("static int8 needs calibration images; give --data")
        images = self.calib_data.images[: recipe.calib_limit].numpy()
        exclude: list[str] = []
        if recipe.float_layers:
            # Mixed precision: rank the layers by the output error each one alone causes in int8 (on the
            # calibration images: no labels needed, and the same images give the same ranking every time).
            from ..compress.quantize.sensitivity import layer_sensitivity

            ranking, _ = layer_sensitivity(model, images, images[:128], method=recipe.calibration, limit=recipe.calib_limit)
            exclude = [row.name for row in ranking[: recipe.float_layers]]
        result = q.quantize_static(model, images, method=recipe.calibration, limit=recipe.calib_limit, exclude=exclude)
        return serialize(result.model)

    def _disk(self, name: str) -> Optional[Path]:
        if self.cache_dir is None:
            return None
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        return self.cache_dir / name

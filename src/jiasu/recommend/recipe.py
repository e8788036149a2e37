"""A recipe: every choice that turns the original model into one deployable candidate, as data.

Each knob is declared once (:data:`KNOBS`: type, default, description, the values the search may
try) and a :class:`Recipe` is one value per knob. A recipe is what ``jiasu optimize`` searches over,
what it writes as ``recipe.yaml``, and what ``jiasu apply`` rebuilds the model from; building is
seeded, so the same recipe on the same source gives the same bytes (:mod:`.build`).

Knobs that do not apply to a recipe (the calibration method of an FP32 model, the conv plan of an
ONNX Runtime one) are kept at their defaults, so two recipes that build the same thing are equal
and share a label and a key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from ..errors import JiasuError
from ..runtime.options import knob

FORMAT = "jiasu-recipe"
VERSION = 1

PRUNE_METHODS = ("none", "channel", "magnitude")
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int8-dynamic")
CALIBRATIONS = ("minmax", "percentile", "entropy", "mse")

#: Precisions each backend computes in (and, for the others, why not): the search proposes only these.
#: ONNX Runtime's CPU provider has no BF16 convolution; OpenVINO reads INT8 from the QDQ model and FP16
#: from an FP16 model; our engine has no fast FP16 convolution on the CPU (use BF16 there).
BACKEND_PRECISIONS: dict[str, tuple[str, ...]] = {
    "jiasu": ("fp32", "bf16", "int8", "int8-dynamic"),
    "onnxruntime": ("fp32", "fp16", "int8", "int8-dynamic"),
    "openvino": ("fp32", "fp16", "int8"),
}


@dataclass(frozen=True)
class Recipe:
    """One candidate: how to compress the model, in which precision, and how to run it."""

    prune: str = knob("none", "none | channel (structured: channels removed) | magnitude (unstructured)", choices=PRUNE_METHODS)
    prune_ratio: float = knob(0.0, "fraction of channels (channel) or of weights (magnitude) removed", choices=(0.25, 0.5, 0.7, 0.9))
    finetune_epochs: int = knob(0, "epochs of retraining after pruning (on the training split of --data)", choices=(1, 2, 3))
    distill: bool = knob(False, "retrain with a teacher's soft labels as well as the true ones (knowledge distillation)", choices=(False, True))
    teacher: str = knob("", "teacher of distillation: '' for the original model, or a zoo:NAME?... spec or jiasu-saved .pt with the same outputs")
    pool_phases: bool = knob(
        False, "fold each max pool into the thin stride-1 conv before it (jiasu.passes.pool_phases; exact), in the model every backend runs", choices=(False, True)
    )
    precision: str = knob("fp32", "fp32 | fp16 | bf16 | int8 (static QDQ, u8 activations) | int8-dynamic (Gemm/MatMul weights)", choices=PRECISIONS)
    calibration: str = knob("minmax", "activation range observer of static int8", choices=CALIBRATIONS)
    float_layers: int = knob(0, "int8: the N layers int8 hurts most (output error, one layer quantized at a time) stay float: mixed precision", choices=(0, 1, 2))
    backend: str = knob("jiasu", "engine that runs the model", choices=tuple(BACKEND_PRECISIONS))
    threads: int = knob(1, "intra-op threads of the backend")
    passes: str = knob("default", "jiasu: graph passes (default | none)", choices=("default", "none"))
    conv_plan: str = knob("heuristic", "jiasu: per-conv algorithm by the heuristic or by timing every candidate", choices=("heuristic", "tuned"))
    strategy: str = knob("", "jiasu: multi-core strategy ('' : the kernels' own threads; batch: the batch split across cores)", choices=("", "batch"))
    batch: int = knob(1, "batch size the candidate is built and timed for (the scenario's, not searched)")
    seed: int = knob(0, "seed of retraining and calibration sampling")
    lr: float = knob(1e-3, "learning rate of retraining (Adam)")
    schedule: str = knob(
        "cosine", "learning-rate schedule of retraining: cosine (decays to 0, so retraining ends converged) or constant", choices=("cosine", "constant")
    )
    train_batch: int = knob(64, "batch size of retraining")
    train_limit: int = knob(0, "retrain on the first N training images (0: all)")
    calib_limit: int = knob(256, "calibration images of static int8")

    # ---- validation and normal form -------------------------------------------------------

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if f.name in ("prune_ratio", "finetune_epochs", "float_layers"):
                continue  # searched over listed values, but any sensible value may be written by hand
            if choices and value not in choices:
                raise JiasuError(f"recipe: {f.name} = {value!r} is not one of {', '.join(map(repr, choices))}")
        if self.prune != "none" and not 0.0 < self.prune_ratio < 1.0:
            raise JiasuError(f"recipe: prune_ratio must be in (0, 1) when prune = {self.prune!r}, got {self.prune_ratio}")
        if self.precision not in BACKEND_PRECISIONS[self.backend]:
            raise JiasuError(
                f"recipe: backend {self.backend!r} does not compute in {self.precision}; "
                f"it takes {', '.join(BACKEND_PRECISIONS[self.backend])}"
            )
        for name in ("threads", "batch", "train_batch"):
            if getattr(self, name) < 1:
                raise JiasuError(f"recipe: {name} must be >= 1, got {getattr(self, name)}")
        if self.finetune_epochs < 0 or self.train_limit < 0 or self.float_layers < 0 or self.calib_limit < 1:
            raise JiasuError("recipe: finetune_epochs, train_limit and float_layers must be >= 0 and calib_limit >= 1")

    def normalized(self) -> "Recipe":
        """The same candidate with every knob that does not apply set to its default."""
        d = defaults()
        changes: dict[str, Any] = {}
        if self.prune == "none":
            changes.update(prune_ratio=d.prune_ratio, finetune_epochs=d.finetune_epochs, distill=d.distill, teacher=d.teacher, lr=d.lr, schedule=d.schedule, train_batch=d.train_batch, train_limit=d.train_limit)
        elif self.finetune_epochs == 0 or not self.distill:
            changes.update(distill=False, teacher=d.teacher)
        if self.precision != "int8":
            changes.update(calibration=d.calibration, calib_limit=d.calib_limit, float_layers=d.float_layers)
        if self.backend != "jiasu":
            changes.update(passes=d.passes, conv_plan=d.conv_plan, strategy=d.strategy)
        if self.batch == 1:
            changes.update(strategy="")
        return dataclasses.replace(self, **changes)

    @property
    def trains(self) -> bool:
        return self.prune != "none"

    # ---- naming -----------------------------------------------------------------------------

    @property
    def label(self) -> str:
        """A short human name: ``channel 50% +KD, int8 (entropy) on onnxruntime, 2 threads``."""
        parts = []
        if self.prune != "none":
            kd = (f" +KD from {teacher_name(self.teacher)}" if self.teacher else " +KD") if self.distill else ""
            parts.append(f"{self.prune} {self.prune_ratio:.0%}{kd}")
        if self.pool_phases:
            parts.append("pool phases")
        mixed = f", {self.float_layers} layer{'s' if self.float_layers > 1 else ''} float" if self.float_layers else ""
        precision = self.precision + (f" ({self.calibration}{mixed})" if self.precision == "int8" else "")
        parts.append(precision)
        run = f"on {self.backend}, {self.threads} thread{'s' if self.threads > 1 else ''}"
        if self.backend == "jiasu":
            extras = [x for x in (self.conv_plan == "tuned" and "tuned", self.passes == "none" and "no passes", self.strategy and f"{self.strategy}-parallel") if x]
            if extras:
                run += f" ({', '.join(extras)})"
        return ", ".join(parts) + " " + run

    def build_key(self) -> str:
        """Key of the *model* this recipe builds (everything but how it is run): equal keys, equal bytes."""
        d = self.normalized()
        fields = ("prune", "prune_ratio", "finetune_epochs", "distill", "teacher", "pool_phases", "precision", "calibration", "float_layers", "seed", "lr", "schedule", "train_batch", "train_limit", "calib_limit")
        return _digest(without_later_defaults({k: getattr(d, k) for k in fields}))

    def key(self) -> str:
        """Key of the whole candidate (model and how it is run)."""
        return _digest(without_later_defaults(self.normalized().to_dict()))

    # ---- (de)serialisation ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Recipe":
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise JiasuError(f"recipe: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
        values = {}
        for name, value in data.items():
            default = known[name].default
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool)
            elif isinstance(default, float):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                value = float(value) if ok else value
            else:
                ok = isinstance(value, str)
            if not ok:
                raise JiasuError(f"recipe: {name} must be a {type(default).__name__}, got {value!r}")
            values[name] = value
        return cls(**values)


def defaults() -> Recipe:
    return Recipe()


def describe() -> dict[str, dict[str, Any]]:
    """Per knob: default, type, description and the values the search tries (for help texts and docs)."""
    out = {}
    for f in dataclasses.fields(Recipe):
        entry = {"default": f.default, "type": type(f.default).__name__, "help": f.metadata["help"]}
        if "choices" in f.metadata:
            entry["choices"] = list(f.metadata["choices"])
        out[f.name] = entry
    return out


def teacher_name(spec: str) -> str:
    """``zoo:resnet20?weights=fashion-mnist`` -> ``resnet20``; ``runs/big.pt`` -> ``big.pt``: for labels."""
    if spec.startswith("zoo:"):
        return spec[4:].split("?")[0]
    return Path(spec).name


def without_later_defaults(data: Mapping[str, Any], later: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """``data`` without knobs added after version 1 that are at their defaults, so keys written before them still match.

    ``later`` maps each such knob to its default: the recipe's (:data:`_LATER_KNOBS`) unless given; a
    search space passes its own, whose values are tuples of choices.
    """
    later = _LATER_KNOBS if later is None else later
    return {k: v for k, v in data.items() if not (k in later and v == later[k])}


_LATER_KNOBS = {"teacher": "", "pool_phases": False}


def _digest(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# ---- recipe files -------------------------------------------------------------------------------


def write_recipe(path: str | Path, recipe: Recipe, source: str, extra: Optional[Mapping[str, Any]] = None) -> Path:
    """``recipe.yaml``: the recipe, the model it applies to, and (``extra``) what it is expected to give."""
    import yaml

    doc = {"format": FORMAT, "version": VERSION, "model": source, "recipe": recipe.to_dict()}
    if extra:
        doc.update(extra)
    path = Path(path)
    path.write_text(
        "# jiasu recipe: rebuild this model with  jiasu apply " + path.name + " MODEL -o OUTDIR\n"
        + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    )
    return path


def read_recipe(path: str | Path) -> tuple[Recipe, dict[str, Any]]:
    """The recipe in ``path`` and the whole document (model, expected results)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise JiasuError(f"recipe file not found: {path}; jiasu optimize writes one as OUTDIR/recipe.yaml")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise JiasuError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise JiasuError(f"{path} is not a jiasu recipe (no 'format: {FORMAT}'); jiasu optimize writes one as OUTDIR/recipe.yaml")
    if doc.get("version") != VERSION:
        raise JiasuError(f"{path}: recipe version {doc.get('version')!r} is not supported (this jiasu reads version {VERSION})")
    if not isinstance(doc.get("recipe"), dict):
        raise JiasuError(f"{path}: the 'recipe' entry is missing or not a mapping")
    return Recipe.from_dict(doc["recipe"]), doc

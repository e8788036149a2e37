"""The model zoo: plain-PyTorch definitions of well-known networks, by name.

Every network lives in ``zoo/<family>.py`` as a builder function whose keyword
arguments are the model's options (their defaults are the registry's defaults)
and whose docstring documents them. The registry below is filled in one place,
``_ENTRIES``. To add a model: write its builder, then add a :class:`ZooEntry`
for it to ``_ENTRIES``.

>>> model = get("resnet18", num_classes=10)     # eval mode, weights from seed 0
>>> x = example_input("resnet18", batch=2)      # (2, 3, 224, 224) floats in [0, 1)

Trained weights ship in ``zoo/weights/<model>-<tag>.npz`` and are chosen with
``weights=<tag>`` (``zoo:smallcnn?weights=fashion-mnist``); the file's options
become the defaults, so ``get("smallcnn", weights="fashion-mnist")`` is the
28x28x1, 10-class network trained on Fashion-MNIST. See :func:`available_weights`
and :func:`weights_info`.
"""

from __future__ import annotations

import functools
import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

import numpy as np
import torch
from torch import nn

from ..errors import JiasuError, format_choices
from . import alexnet, dqn, googlenet, mobilenet_v2, resnet, smallcnn, textcnn, unet, vgg, yolov3_tiny

ShapeFn = Callable[[Mapping[str, Any]], tuple[int, ...]]


@dataclass(frozen=True, eq=False)
class ZooEntry:
    """One registered model.

    ``builder(**options)`` builds the network (in training mode, from the global
    RNG: use :func:`get` for a seeded, eval-mode model). ``defaults`` holds every
    option the builder accepts with its default value (a plain dict, so it
    serialises to JSON; treat it as read-only). ``shape`` maps a complete
    option dict to the input shape without the batch dim; call
    :meth:`input_shape` with any subset of the options instead. Inputs are
    ``input_dtype``: float images in [0, 1), or, when ``vocab_option`` names an
    option, token ids in [0, options[vocab_option]). ``output_names`` names the
    outputs, in the order ``forward`` returns them (e.g. for ONNX export).
    Entries compare and hash by identity: each is a registry singleton.
    """

    name: str
    task: str
    description: str
    builder: Callable[..., nn.Module]
    shape: ShapeFn
    defaults: dict[str, Any]
    input_dtype: torch.dtype = torch.float32
    vocab_option: Optional[str] = None
    output_names: tuple[str, ...] = ("output",)

    def resolve(self, **options: Any) -> dict[str, Any]:
        """``defaults`` updated with ``options``; a JiasuError for an unknown or ill-typed option.

        An option takes values of its default's type (a float option also takes
        ints; a tuple option also takes lists). Int options must be positive,
        or non-negative where the default is 0.
        """
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            s = "s" if len(unknown) > 1 else ""
            raise JiasuError(
                f"unknown option{s} {', '.join(map(repr, unknown))} for zoo model {self.name!r}; "
                f"accepted: {format_choices(self.defaults)}."
            )
        resolved = dict(self.defaults)
        for key, value in options.items():
            resolved[key] = _check_option(self.name, key, value, self.defaults[key])
        return resolved

    def input_shape(self, **options: Any) -> tuple[int, ...]:
        """Shape of one input example (no batch dim) for these options (defaults for the rest)."""
        return tuple(self.shape(self.resolve(**options)))


def _check_option(model: str, key: str, value: Any, default: Any) -> Any:
    """``value`` if it suits an option whose default is ``default`` (see ``ZooEntry.resolve``), else a JiasuError."""
    if isinstance(default, bool):
        ok, wanted = isinstance(value, bool), "a bool"
    elif isinstance(default, int):
        minimum = 0 if default == 0 else 1
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
        wanted = "a non-negative int" if minimum == 0 else "a positive int"
    elif isinstance(default, float):
        ok, wanted = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    elif isinstance(default, tuple):
        ok, wanted = isinstance(value, (tuple, list)), "a tuple or list"
    else:
        ok, wanted = isinstance(value, type(default)), f"a {type(default).__name__}"
    if not ok:
        raise JiasuError(f"option {key!r} of zoo model {model!r} must be {wanted}, got {value!r}.")
    return tuple(value) if isinstance(default, tuple) else value


def _defaults(builder: Callable[..., nn.Module]) -> dict[str, Any]:
    """The builder's keyword defaults: its signature is the one place they are written."""
    return {p.name: p.default for p in inspect.signature(builder).parameters.values()}


def _image(options: Mapping[str, Any]) -> tuple[int, ...]:
    """(in_channels, image_size, image_size)."""
    return (options["in_channels"], options["image_size"], options["image_size"])


_IMAGENET = "ImageNet classifier, torchvision's layer structure"

_ENTRIES: list[ZooEntry] = [
    ZooEntry(
        "smallcnn",
        "classification",
        "Raspberry Pi benchmark CNN: 3 convs + 2 FC, softmax; 1x88x88 grayscale, 848 classes",
        smallcnn.smallcnn,
        _image,
        _defaults(smallcnn.smallcnn),
    ),
    ZooEntry("alexnet", "classification", f"AlexNet, {_IMAGENET}", alexnet.alexnet, _image, _defaults(alexnet.alexnet)),
    ZooEntry("vgg16", "classification", f"VGG-16 (no BN), {_IMAGENET}", vgg.vgg16, _image, _defaults(vgg.vgg16)),
    ZooEntry(
        "googlenet",
        "classification",
        f"GoogLeNet / Inception v1 (BN, no aux heads), {_IMAGENET}",
        googlenet.googlenet,
        _image,
        _defaults(googlenet.googlenet),
    ),
    ZooEntry("resnet18", "classification", f"ResNet-18, {_IMAGENET}", resnet.resnet18, _image, _defaults(resnet.resnet18)),
    ZooEntry(
        "resnet20",
        "classification",
        "ResNet-20 for small images (He et al. 2016, CIFAR): 3x3 stem, 3x3 basic blocks at 16/32/64 channels",
        resnet.resnet20,
        _image,
        _defaults(resnet.resnet20),
    ),
    ZooEntry("resnet50", "classification", f"ResNet-50 (v1.5), {_IMAGENET}", resnet.resnet50, _image, _defaults(resnet.resnet50)),
    ZooEntry(
        "mobilenet_v2",
        "classification",
        f"MobileNetV2, {_IMAGENET}",
        mobilenet_v2.mobilenet_v2,
        _image,
        _defaults(mobilenet_v2.mobilenet_v2),
    ),
    ZooEntry(
        "unet",
        "segmentation",
        "small U-Net: 3 levels down, 3 up with skip concats; per-pixel class logits",
        unet.unet,
        _image,
        _defaults(unet.unet),
    ),
    ZooEntry(
        "yolov3_tiny",
        "detection",
        "YOLOv3-tiny: darknet-tiny backbone, raw outputs of the stride-32 and stride-16 heads",
        yolov3_tiny.yolov3_tiny,
        _image,
        _defaults(yolov3_tiny.yolov3_tiny),
        output_names=("output_stride32", "output_stride16"),
    ),
    ZooEntry(
        "textcnn",
        "text-classification",
        "Kim-2014 TextCNN: embedding, Conv1d widths 3/4/5, max over time; int64 token ids in",
        textcnn.textcnn,
        lambda options: (options["seq_len"],),
        _defaults(textcnn.textcnn),
        input_dtype=torch.int64,
        vocab_option="vocab_size",
    ),
    ZooEntry(
        "dqn",
        "reinforcement-learning",
        "Nature DQN for Atari: 3 convs + 2 FC over 4 stacked 84x84 frames, one Q-value per action",
        dqn.dqn,
        _image,
        _defaults(dqn.dqn),
    ),
]

ZOO: Mapping[str, ZooEntry] = MappingProxyType({e.name: e for e in _ENTRIES})


def names() -> list[str]:
    """Registered model names, sorted."""
    return sorted(ZOO)


def entry(name: str) -> ZooEntry:
    """The registry entry for ``name``; a JiasuError listing the available names if there is none."""
    try:
        return ZOO[name]
    except KeyError:
        raise JiasuError(
            f"unknown zoo model {name!r}; available: {format_choices(ZOO)}. "
            "To add one, write jiasu/zoo/<family>.py and list it in jiasu/zoo/__init__.py."
        ) from None


#: Where the bundled weights live: ``<model>-<tag>.npz``, written by benchmarks/train_pretrained.py.
WEIGHTS_DIR = Path(__file__).parent / "weights"
_TRAIN_SCRIPT = "benchmarks/train_pretrained.py"
# Keys of a weights file that are not state_dict entries: JSON strings stored as 0-d arrays.
_OPTIONS_KEY, _META_KEY = "__options__", "__meta__"


@dataclass(frozen=True, eq=False)
class WeightsInfo:
    """What a weights file says about itself (not the arrays).

    ``options``: the zoo options the network was built and trained with (a
    subset of the entry's options; they become the defaults when the weights
    are used). ``meta``: free-form provenance (dataset, normalisation, epochs,
    seed, accuracies, date, command) as the training script wrote it.
    """

    model: str
    tag: str
    path: Path
    options: dict[str, Any]
    meta: dict[str, Any]


def available_weights(name: str) -> list[str]:
    """Tags of the weights bundled for model ``name``, sorted (``[]`` if none); a JiasuError for an unknown model."""
    entry(name)
    prefix = f"{name}-"
    # The hyphen after the name keeps e.g. "mobilenet-*" from matching "mobilenet_v2-*".
    return sorted(p.name[len(prefix) : -len(".npz")] for p in WEIGHTS_DIR.glob(f"{prefix}*.npz"))


def _weights_path(name: str, tag: Any) -> Path:
    """The file of weights ``tag`` for model ``name``; a JiasuError naming the tags there are otherwise."""
    if not isinstance(tag, str):
        raise JiasuError(f"option 'weights' of zoo model {name!r} must be a str (a weights tag such as 'fashion-mnist'), got {tag!r}.")
    tags = available_weights(name)
    if tag not in tags:
        raise JiasuError(
            f"unknown weights {tag!r} for zoo model {name!r}; available: {', '.join(tags) or 'none'}. "
            f"To add some, train the model and save it as jiasu/zoo/weights/{name}-{tag}.npz the way {_TRAIN_SCRIPT} does."
        )
    return WEIGHTS_DIR / f"{name}-{tag}.npz"


@functools.lru_cache(maxsize=8)
def _read_weights(path: Path, stamp: tuple[int, int]) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
    """(options, meta, arrays) of a weights file; ``stamp`` (mtime, size) keys the cache so a rewritten file is reread."""
    del stamp
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        options = json.loads(str(arrays.pop(_OPTIONS_KEY)))
        meta = json.loads(str(arrays.pop(_META_KEY)))
        if not isinstance(options, dict) or not isinstance(meta, dict):
            raise ValueError(f"{_OPTIONS_KEY} and {_META_KEY} must be JSON objects")
    except (OSError, KeyError, ValueError) as e:
        raise JiasuError(
            f"the weights file {path} is corrupt ({e}); reinstall jiasu, or rewrite it with {_TRAIN_SCRIPT}."
        ) from None
    for a in arrays.values():
        a.flags.writeable = False  # shared by every caller through the cache
    return options, meta, arrays


def _load_weights(name: str, tag: Any) -> tuple[WeightsInfo, dict[str, np.ndarray]]:
    path = _weights_path(name, tag)
    st = path.stat()
    options, meta, arrays = _read_weights(path, (st.st_mtime_ns, st.st_size))
    # Copies, so a caller editing the info cannot change what the next caller reads.
    return WeightsInfo(name, tag, path, dict(options), json.loads(json.dumps(meta))), arrays


def weights_info(name: str, tag: str) -> WeightsInfo:
    """Options and provenance of the bundled weights ``tag`` of model ``name``; a JiasuError if there are none."""
    return _load_weights(name, tag)[0]


def _resolve(e: ZooEntry, weights: Optional[str], options: Mapping[str, Any]) -> tuple[dict[str, Any], Optional[WeightsInfo], Optional[dict[str, np.ndarray]]]:
    """The complete options for ``e`` given ``weights`` (or None) and the caller's ``options``, with the weights' info and arrays.

    With weights, the file's options replace the entry's defaults; an option the
    caller gives that differs from the file's is a JiasuError (the weights only
    fit the network they were trained on).
    """
    if weights is None:
        return e.resolve(**options), None, None
    info, arrays = _load_weights(e.name, weights)
    trained = e.resolve(**info.options)  # also rejects a file naming options the builder lacks
    given = e.resolve(**options)
    conflicts = [k for k in sorted(options) if k in info.options and given[k] != trained[k]]
    if conflicts:
        got = ", ".join(f"{k}={given[k]!r}" for k in conflicts)
        want = ", ".join(f"{k}={trained[k]!r}" for k in conflicts)
        s, them = ("s", "them") if len(conflicts) > 1 else ("", "it")
        raise JiasuError(
            f"option{s} {got} conflict{'' if s else 's'} with weights {weights!r} of zoo model {e.name!r}, "
            f"which were trained with {want}; leave {them} out (or give {want}) to use these weights, "
            f"or drop weights={weights} for an untrained network with {got}."
        )
    return e.resolve(**{**info.options, **options}), info, arrays


def get(name: str, seed: int = 0, weights: Optional[str] = None, **options: Any) -> nn.Module:
    """Model ``name`` built with ``options`` (defaults for the rest), in eval mode.

    Without ``weights`` the parameters depend only on ``seed`` and the options:
    the builder runs with PyTorch's CPU generator seeded to ``seed`` inside
    ``torch.random.fork_rng``, so the caller's global RNG state is left as it was.
    ``weights="<tag>"`` loads the bundled trained weights (see
    :func:`available_weights`): their file's options act as the defaults, and
    an explicit option that differs from them is a JiasuError.
    """
    e = entry(name)
    resolved, info, arrays = _resolve(e, weights, options)
    with torch.random.fork_rng(devices=[]):
        # Seed only the CPU generator: torch.manual_seed would also reseed CUDA,
        # whose state fork_rng(devices=[]) does not restore.
        torch.default_generator.manual_seed(seed)
        model = e.builder(**resolved)
    if arrays is not None:
        try:
            model.load_state_dict({k: torch.from_numpy(a.copy()) for k, a in arrays.items()}, strict=True)
        except RuntimeError as err:
            # Reached only when the file and the builder disagree (an edited model or a foreign file).
            first = str(err).strip().splitlines()[-1].strip()
            raise JiasuError(
                f"the weights file {info.path} does not fit zoo model {name!r} built with {resolved} ({first}); "
                f"retrain it with {_TRAIN_SCRIPT}."
            ) from None
    return model.eval()


def example_input(name: str, batch: int = 1, seed: int = 0, weights: Optional[str] = None, **options: Any) -> torch.Tensor:
    """A random input batch for model ``name`` built with ``options`` (and ``weights``, as :func:`get` takes them), drawn from its own generator.

    Images: ``input_dtype`` floats uniform in [0, 1) of shape (batch, *input_shape).
    Token models: int64 ids uniform in [0, vocab) of shape (batch, seq_len).
    The values are for shapes and timing, not accuracy: trained weights expect
    their data's normalisation (``weights_info(name, tag).meta``).
    """
    e = entry(name)
    resolved = _resolve(e, weights, options)[0]
    shape = (batch, *e.shape(resolved))
    generator = torch.Generator().manual_seed(seed)
    if e.vocab_option is not None:
        return torch.randint(0, resolved[e.vocab_option], shape, generator=generator, dtype=e.input_dtype)
    return torch.rand(shape, generator=generator, dtype=e.input_dtype)


__all__ = [
    "WEIGHTS_DIR",
    "ZOO",
    "WeightsInfo",
    "ZooEntry",
    "available_weights",
    "entry",
    "example_input",
    "get",
    "names",
    "weights_info",
]

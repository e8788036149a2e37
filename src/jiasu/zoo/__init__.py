"""The model zoo: plain-PyTorch definitions of well-known networks, by name.

Every network lives in ``zoo/<family>.py`` as a builder function whose keyword
arguments are the model's options (their defaults are the registry's defaults)
and whose docstring documents them. The registry below is filled in one place,
``_ENTRIES``. To add a model: write its builder, then add a :class:`ZooEntry`
for it to ``_ENTRIES``.

>>> model = get("resnet18", num_classes=10)     # eval mode, weights from seed 0
>>> x = example_input("resnet18", batch=2)      # (2, 3, 224, 224) floats in [0, 1)
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

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


def get(name: str, seed: int = 0, **options: Any) -> nn.Module:
    """Model ``name`` built with ``options`` (defaults for the rest), in eval mode.

    The weights depend only on ``seed`` and the options: the builder runs with
    PyTorch's CPU generator seeded to ``seed`` inside ``torch.random.fork_rng``,
    so the caller's global RNG state is left as it was.
    """
    e = entry(name)
    resolved = e.resolve(**options)
    with torch.random.fork_rng(devices=[]):
        # Seed only the CPU generator: torch.manual_seed would also reseed CUDA,
        # whose state fork_rng(devices=[]) does not restore.
        torch.default_generator.manual_seed(seed)
        model = e.builder(**resolved)
    return model.eval()


def example_input(name: str, batch: int = 1, seed: int = 0, **options: Any) -> torch.Tensor:
    """A random input batch for model ``name`` built with ``options``, drawn from its own generator.

    Images: ``input_dtype`` floats uniform in [0, 1) of shape (batch, *input_shape).
    Token models: int64 ids uniform in [0, vocab) of shape (batch, seq_len).
    """
    e = entry(name)
    resolved = e.resolve(**options)
    shape = (batch, *e.shape(resolved))
    generator = torch.Generator().manual_seed(seed)
    if e.vocab_option is not None:
        return torch.randint(0, resolved[e.vocab_option], shape, generator=generator, dtype=e.input_dtype)
    return torch.rand(shape, generator=generator, dtype=e.input_dtype)


__all__ = ["ZOO", "ZooEntry", "entry", "example_input", "get", "names"]

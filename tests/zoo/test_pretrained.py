"""The trained weights bundled with the zoo: ``zoo:smallcnn?weights=fashion-mnist`` and ``zoo:resnet20?weights=fashion-mnist``.

Accuracy is measured on the bundled 1,000-image Fashion-MNIST test subset, with
the torch module and with our engine on the exported graph, so a regression in
the weights, the loader, the exporter or the engine shows up as a number.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

import jiasu
from jiasu import zoo
from jiasu.data import load_data
from jiasu.errors import JiasuError
from jiasu.frontends import parse_zoo_name, zoo_model_and_input

from ..conftest import invoke

SPEC = "zoo:smallcnn?weights=fashion-mnist"
TRAINED = {"num_classes": 10, "image_size": 28, "padding": 2, "in_channels": 1}


def _message(call, *args, **kwargs) -> str:
    with pytest.raises(JiasuError) as info:
        call(*args, **kwargs)
    return str(info.value)


@functools.lru_cache(maxsize=None)
def _subset_test():
    data = load_data("fashion-mnist-subset", "test")
    return data.images, data.labels


def test_available_weights():
    assert zoo.available_weights("smallcnn") == ["fashion-mnist"]
    assert zoo.available_weights("resnet20") == ["fashion-mnist"]
    assert zoo.available_weights("resnet18") == []


def test_weights_file_format_and_size():
    path = zoo.WEIGHTS_DIR / "smallcnn-fashion-mnist.npz"
    # Shipped in the wheel and committed to git: keep it small.
    assert path.stat().st_size < 1.5e6
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    assert json.loads(str(arrays.pop("__options__"))) == TRAINED
    meta = json.loads(str(arrays.pop("__meta__")))
    assert all(a.dtype == np.float32 for a in arrays.values())
    assert sum(a.size for a in arrays.values()) == 341_818
    assert meta["test_count"] == 10_000 and meta["test_accuracy"] >= 0.88
    assert meta["subset_test_count"] == 1_000 and meta["subset_test_accuracy"] >= 0.88
    assert meta["normalization"]["mean"] == 0.2860 and meta["normalization"]["std"] == 0.3530
    assert meta["epochs"] == 4 and meta["seed"] == 0
    assert meta["command"].startswith("python benchmarks/train_pretrained.py")


def test_weights_options_are_the_defaults():
    m = zoo.get("smallcnn", weights="fashion-mnist")
    assert not m.training
    assert (m.conv1.in_channels, m.conv1.padding, m.fc2.out_features) == (1, (2, 2), 10)
    assert zoo.example_input("smallcnn", batch=2, weights="fashion-mnist").shape == (2, 1, 28, 28)
    info = zoo.weights_info("smallcnn", "fashion-mnist")
    assert info.options == TRAINED and info.meta["dataset"].startswith("Fashion-MNIST")
    # The seed only matters for untrained nets: the file sets every parameter.
    other = zoo.get("smallcnn", seed=1, weights="fashion-mnist", num_classes=10)
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), other.state_dict().values()))
    untrained = zoo.get("smallcnn", **TRAINED)
    assert not torch.equal(m.fc2.weight, untrained.fc2.weight)


def test_zoo_spec_keeps_the_tag_a_string():
    assert parse_zoo_name(SPEC) == ("smallcnn", {"weights": "fashion-mnist"})
    assert parse_zoo_name("zoo:smallcnn?weights=2024&num_classes=10") == ("smallcnn", {"weights": "2024", "num_classes": 10})
    module, example = zoo_model_and_input(SPEC, batch=3)
    assert example.shape == (3, 1, 28, 28)
    assert torch.equal(module.fc2.weight, zoo.get("smallcnn", weights="fashion-mnist").fc2.weight)


def test_accuracy_on_bundled_test_subset_torch_and_engine():
    images, labels = _subset_test()
    with torch.no_grad():
        torch_pred = zoo.get("smallcnn", weights="fashion-mnist")(images).argmax(1)
    engine = jiasu.Engine(jiasu.load(SPEC))
    engine_pred = engine.run({"input": images})["output"].argmax(1)
    # Integer counts: a float32 mean would miss the recorded fraction by ~1e-8.
    torch_acc = int((torch_pred == labels).sum()) / len(labels)
    engine_acc = int((engine_pred == labels).sum()) / len(labels)
    assert len(labels) == 1_000
    # The number the training script recorded (benchmarks/train_pretrained.py): 0.919.
    assert torch_acc == pytest.approx(zoo.weights_info("smallcnn", "fashion-mnist").meta["subset_test_accuracy"], abs=1e-9)
    assert torch_acc >= 0.88, torch_acc
    assert abs(torch_acc - engine_acc) <= 0.001, (torch_acc, engine_acc)


def test_unknown_tag():
    assert _message(zoo.get, "smallcnn", weights="imagenet") == (
        "unknown weights 'imagenet' for zoo model 'smallcnn'; available: fashion-mnist. "
        "To add some, train the model and save it as jiasu/zoo/weights/smallcnn-imagenet.npz "
        "the way benchmarks/train_pretrained.py does."
    )
    assert _message(jiasu.load, "zoo:resnet18?weights=imagenet") == (
        "unknown weights 'imagenet' for zoo model 'resnet18'; available: none. "
        "To add some, train the model and save it as jiasu/zoo/weights/resnet18-imagenet.npz "
        "the way benchmarks/train_pretrained.py does."
    )
    assert _message(zoo.example_input, "smallcnn", weights=1) == (
        "option 'weights' of zoo model 'smallcnn' must be a str (a weights tag such as 'fashion-mnist'), got 1."
    )


def test_conflicting_option():
    assert _message(zoo.get, "smallcnn", weights="fashion-mnist", num_classes=5) == (
        "option num_classes=5 conflicts with weights 'fashion-mnist' of zoo model 'smallcnn', "
        "which were trained with num_classes=10; leave it out (or give num_classes=10) to use these weights, "
        "or drop weights=fashion-mnist for an untrained network with num_classes=5."
    )
    assert _message(zoo_model_and_input, "zoo:smallcnn?weights=fashion-mnist&image_size=88&padding=0") == (
        "options image_size=88, padding=0 conflict with weights 'fashion-mnist' of zoo model 'smallcnn', "
        "which were trained with image_size=28, padding=2; leave them out (or give image_size=28, padding=2) "
        "to use these weights, or drop weights=fashion-mnist for an untrained network with image_size=88, padding=0."
    )
    # Options the weights were trained with may be restated.
    assert zoo.example_input("smallcnn", weights="fashion-mnist", **TRAINED).shape == (1, 1, 28, 28)


def test_cli_zoo_lists_weights():
    result = invoke("zoo", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["smallcnn"]["weights"] == ["fashion-mnist"]
    assert rows["resnet18"]["weights"] == []


def test_resnet20_teacher_weights():
    """The distillation teacher: trained with augmentation (benchmarks/train_pretrained.py --model resnet20 ...), better than smallcnn."""
    path = zoo.WEIGHTS_DIR / "resnet20-fashion-mnist.npz"
    assert path.stat().st_size < 1.5e6
    info = zoo.weights_info("resnet20", "fashion-mnist")
    assert info.options == {"num_classes": 10, "image_size": 28, "in_channels": 1}
    training = info.meta["training"]
    assert (training["optimizer"], training["augmentation"], training["epochs"]) == ("sgd", "RandomCropFlip(padding=2, flip=True)", 12)
    assert info.meta["command"].startswith("python benchmarks/train_pretrained.py --model resnet20")
    images, labels = _subset_test()
    model = zoo.get("resnet20", weights="fashion-mnist")
    with torch.no_grad():
        torch_acc = int((model(images).argmax(1) == labels).sum()) / len(labels)
    engine_pred = jiasu.Engine(jiasu.load("zoo:resnet20?weights=fashion-mnist")).run({"input": images})["output"].argmax(1)
    engine_acc = int((engine_pred == labels).sum()) / len(labels)
    assert torch_acc == pytest.approx(info.meta["subset_test_accuracy"], abs=1e-9)
    smallcnn_acc = zoo.weights_info("smallcnn", "fashion-mnist").meta["subset_test_accuracy"]
    assert torch_acc >= smallcnn_acc + 0.02, (torch_acc, smallcnn_acc)  # recorded: 0.956 vs 0.919
    assert info.meta["test_accuracy"] >= zoo.weights_info("smallcnn", "fashion-mnist").meta["test_accuracy"] + 0.02  # 0.9378 vs 0.9033
    assert abs(torch_acc - engine_acc) <= 0.001, (torch_acc, engine_acc)

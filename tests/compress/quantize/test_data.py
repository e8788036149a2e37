"""Calibration data sources: arrays, datasets, the bundled Fashion-MNIST subset, .npy files and feed dicts."""

from __future__ import annotations

import numpy as np
import pytest

import jiasu
from jiasu.compress.quantize import calibration_feeds
from jiasu.data import fashion_mnist
from jiasu.errors import JiasuError

SMALLCNN = "zoo:smallcnn?image_size=28&num_classes=10&padding=2"


def test_every_source_becomes_batches_of_the_models_input(tmp_path):
    model = jiasu.load(SMALLCNN)
    subset = fashion_mnist.load_subset("train")
    images = np.asarray(subset.numpy()[0][:70], np.float32)
    np.save(tmp_path / "calib.npy", images)
    for source in (images, subset, "fashion-mnist-subset", str(tmp_path / "calib.npy")):
        feeds = calibration_feeds(model, source, batch_size=32, limit=70)
        assert [f["input"].shape for f in feeds] == [(32, 1, 28, 28), (32, 1, 28, 28), (6, 1, 28, 28)], type(source)
    np.testing.assert_array_equal(calibration_feeds(model, subset, limit=70)[0]["input"], images[:32])
    given = [{"input": images[:4]}]
    assert calibration_feeds(model, given) == given


def test_a_multi_input_model_needs_feed_dicts():
    model = jiasu.load(SMALLCNN)
    model.graph.inputs.append(model.graph.inputs[0].__class__(name="extra"))
    with pytest.raises(JiasuError, match=r"^calibration from images needs a model with one input, this one has 2 \(input, extra\); "
                                         r"pass the calibration data as an iterable of feed dicts instead$"):
        calibration_feeds(model, np.zeros((1, 1, 28, 28), np.float32))

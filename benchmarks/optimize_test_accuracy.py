"""Top-1 accuracy of a `jiasu optimize` output and of its original model on all 10,000 Fashion-MNIST test images.

    python benchmarks/optimize_test_accuracy.py OUTDIR

The search measures accuracy on its validation images (the first 2,000 test images in
``benchmarks/optimize_fashion_mnist.py``); this re-measures the chosen ``OUTDIR/model.onnx`` and the
original (``model`` in ``OUTDIR/result.json``) on the whole test set, both on OpenVINO with the f32
precision hint (an INT8 QDQ model runs its INT8 kernels there), batches of 100.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from jiasu.data import fashion_mnist as fm
from jiasu.recommend.build import load_source


def accuracy(core, onnx: bytes, images: np.ndarray, labels: np.ndarray, batch: int = 100) -> float:
    model = core.read_model(model=onnx, weights=b"")
    model.reshape([batch, *images.shape[1:]])
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    pred = np.concatenate([next(iter(compiled([images[i : i + batch]]).values())).argmax(1) for i in range(0, len(images), batch)])
    return float((pred == labels).mean())


def main() -> None:
    import openvino as ov

    out = Path(sys.argv[1])
    test = fm.load("test")
    images, labels = test.images.numpy(), test.labels.numpy()
    core = ov.Core()
    original = json.loads((out / "result.json").read_text())["model"]
    print(f"chosen ({out / 'model.onnx'}): {accuracy(core, (out / 'model.onnx').read_bytes(), images, labels):.2%} on {len(labels):,} test images")
    print(f"original ({original}): {accuracy(core, load_source(original).onnx, images, labels):.2%}")


if __name__ == "__main__":
    main()

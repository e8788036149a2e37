"""`jiasu prune` and `jiasu distill` end to end on the bundled Fashion-MNIST subset (small, few steps)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import invoke

SMALLCNN = "zoo:smallcnn?num_classes=10&image_size=28&padding=2"
pytest.importorskip("torch_pruning")


def run_json(*args):
    result = invoke(*args, "--json", "--threads", 1, "--workers", 0)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_prune_magnitude_then_channel_then_distill(tmp_path):
    out = run_json("prune", SMALLCNN, "--data", "fashion-mnist-subset", "--limit", 256, "--pretrain-epochs", 1,
                   "--sparsity", 0.9, "--finetune-epochs", 1, "--steps", 2, "-o", tmp_path / "m.onnx")
    assert out["nonzero_params_before"] == out["params_total"] == 341_818
    # 90% of the 341,520 conv/linear weights are zero; the 298 biases are not pruned.
    assert out["nonzero_params"] == 341_520 - round(0.9 * 341_520) + 298
    assert [round(s["sparsity"], 3) for s in out["steps"]] == [0.787, 0.9]
    assert out["max_abs_error_engine_vs_torch"] < 1e-5 and (tmp_path / "m.onnx").exists() and (tmp_path / "m.pt").exists()
    ch = run_json("prune", tmp_path / "m.pt", "--method", "channel", "--sparsity", 0.5, "--data", "fashion-mnist-subset",
                  "--limit", 128, "--finetune-epochs", 1, "--distill", "-o", tmp_path / "c.onnx")
    assert ch["params_after"] < 0.3 * ch["params_before"] and ch["macs_after"] < 0.3 * ch["macs_before"]
    assert ch["max_abs_error_engine_vs_torch"] < 1e-5
    d = run_json("distill", "--teacher", tmp_path / "m.pt", "--student", tmp_path / "c.pt", "--data", "fashion-mnist-subset",
                 "--limit", 128, "--epochs", 1, "-o", tmp_path / "d.onnx")
    assert d["student_params"] == ch["params_after"] and 0.0 <= d["student_accuracy"] <= 1.0
    assert d["max_abs_error_engine_vs_torch"] < 1e-5


def test_distill_with_augmentation_and_cosine_schedule(tmp_path, monkeypatch):
    """--augment trains on RandomCropFlip views of the data, --schedule reaches fit; both are reported."""
    import jiasu.train
    from jiasu.data.augment import RandomCropFlip

    seen = []
    fit = jiasu.train.fit

    def spy(model, train_data, *args, **kwargs):
        seen.append((type(train_data), kwargs["schedule"]))
        return fit(model, train_data, *args, **kwargs)

    monkeypatch.setattr(jiasu.train, "fit", spy)
    monkeypatch.setattr("jiasu.compress.distill.fit", spy)
    d = run_json("distill", "--teacher", SMALLCNN, "--student", SMALLCNN, "--data", "fashion-mnist-subset", "--limit", 64,
                 "--teacher-epochs", 1, "--epochs", 1, "--augment", "--schedule", "cosine", "-o", tmp_path / "d.onnx")
    assert seen == [(RandomCropFlip, "cosine"), (RandomCropFlip, "cosine")]  # the teacher's training, then the student's
    assert d["augment"] is True and d["schedule"] == "cosine" and d["max_abs_error_engine_vs_torch"] < 1e-5


def test_resume_from_checkpoint(tmp_path):
    args = ("prune", SMALLCNN, "--data", "fashion-mnist-subset", "--limit", 128, "--sparsity", 0.5, "--finetune-epochs", 1,
            "--steps", 2, "--checkpoint", tmp_path / "ck", "-o", tmp_path / "m.onnx")
    first = run_json(*args)
    assert (tmp_path / "ck.step1").exists() and (tmp_path / "ck.step2").exists()
    # The checkpoints say both steps were retrained: resuming redoes the pruning, trains nothing more, and reaches the same model.
    again = run_json(*args, "--resume")
    assert again["accuracy"] == first["accuracy"]


@pytest.mark.parametrize(
    "args, message",
    [
        (("prune", "model.onnx", "-o", "x.onnx"), "error: model.onnx: this step trains the model, so it needs torch weights; give zoo:NAME[?key=value&...] or a .pt file holding an nn.Module (as written by jiasu prune/distill -o)"),
        (("prune", SMALLCNN, "--method", "taylor", "-o", "x.onnx"), "error: unknown method 'taylor'; choose magnitude, random or channel"),
        (("prune", SMALLCNN, "-o", "x.pt"), "error: -o must name an .onnx file, got x.pt"),
        (("distill", "--teacher", SMALLCNN, "--student", SMALLCNN, "--schedule", "step", "-o", "x.onnx"), "error: unknown schedule 'step'; choose one of constant, cosine"),
        (("prune", "zoo:smallcnn", "--data", "fashion-mnist-subset", "-o", "x.onnx"), "error: the data's images are (1, 28, 28) but the model takes (1, 88, 88); pick a matching zoo option (image_size, in_channels)"),
        (("prune", "missing.pt", "-o", "x.onnx"), "error: model file not found: missing.pt; give zoo:NAME[?key=value&...] or a .pt file holding an nn.Module (as written by jiasu prune/distill -o)"),
    ],
)
def test_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == message

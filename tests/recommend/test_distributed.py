"""The Ray Tune path on a local Ray cluster of 2 workers, sharing its SQLite study with the local path."""

from __future__ import annotations

import optuna
import pytest

from jiasu.recommend import optimize

ray = pytest.importorskip("ray", reason="the Ray path needs ray[tune] (in the test extras)")

MODEL = "zoo:smallcnn?weights=fashion-mnist"
FAST = dict(backends=["onnxruntime"], precisions=["fp32", "int8"], prune=["none"], threads=[1], val_limit=100, min_time_s=0.02, progress=False, tune=False, log=lambda text: None)


def test_ray_local_cluster_then_resume_locally(tmp_path):
    result = optimize(MODEL, "fashion-mnist-subset", output_dir=tmp_path, trials=3, ray_address="local", workers=2, **FAST)
    data = result.data
    assert data["search"] == "ray-tune+optuna-tpe (local, 2 concurrent trials)"
    assert not ray.is_initialized()  # the cluster this run started is shut down
    assert len(data["trials"]) == 3 and all(t["status"] == "ok" and t["worker_trial"] for t in data["trials"])
    labels = {t["label"] for t in data["trials"]}
    assert {"fp32 on onnxruntime, 1 thread", "int8 (minmax) on onnxruntime, 1 thread"} <= labels
    assert result.met_budget and (tmp_path / "model.onnx").is_file()
    study = optuna.load_study(study_name=data["study_name"], storage=data["study"])
    assert len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) == 3
    # The same study continues on the local path: one more trial, the three before are kept.
    again = optimize(MODEL, "fashion-mnist-subset", output_dir=tmp_path, trials=4, **FAST)
    assert len(optuna.load_study(study_name=data["study_name"], storage=data["study"]).trials) == 4
    assert [t["label"] for t in again.data["trials"][:3]] == [t["label"] for t in data["trials"]]

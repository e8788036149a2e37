"""jiasu optimize end to end on the bundled trained smallcnn and the bundled Fashion-MNIST subset.

Small but real: every trial builds its model, measures accuracy on 200 held-out images on its own
backend and times it. Speeds are not asserted (shared machine); accuracies, the budget logic, the
files and their reproduction are.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import optuna
import pytest

from jiasu.errors import JiasuError
from jiasu.recommend import apply_recipe, optimize
from jiasu.recommend.build import Builder, load_source
from jiasu.recommend.evaluate import Reference, predict
from jiasu.recommend.recipe import Recipe, read_recipe
from jiasu.recommend.search import Evaluator

MODEL = "zoo:smallcnn?weights=fashion-mnist"
DATA = "fashion-mnist-subset"
FAST = dict(threads=[1], val_limit=200, train_limit=200, min_time_s=0.02, finetune_epochs=(1,), progress=False, tune=False, log=lambda text: None)


def _study(out, result):
    return optuna.load_study(study_name=result.data["study_name"], storage=result.data["study"])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One search over fp32/int8, unpruned and channel-pruned, on onnxruntime and our engine."""
    out = tmp_path_factory.mktemp("optimize")
    result = optimize(MODEL, DATA, output_dir=out, backends=["onnxruntime", "jiasu"], precisions=["fp32", "int8"], prune=["none", "channel"], trials=6, **FAST)
    return out, result


def test_outputs_and_choice(run):
    out, result = run
    data = result.data
    for name in ("model.onnx", "recipe.yaml", "result.json", "report.html", "study.db", "trials.jsonl"):
        assert (out / name).is_file(), name
    assert json.loads((out / "result.json").read_text())["chosen"] == data["chosen"]
    # The starting points were measured: both backends in fp32 and int8, then halved channels in int8.
    labels = [t["label"] for t in data["trials"]]
    assert labels[:5] == [
        "fp32 on onnxruntime, 1 thread",
        "int8 (minmax) on onnxruntime, 1 thread",
        "fp32 on jiasu, 1 thread",
        "int8 (minmax) on jiasu, 1 thread",
        "channel 50% +KD, int8 (minmax) on onnxruntime, 1 thread",
    ]
    assert len(data["trials"]) == 6 and all(t["status"] in ("ok", "pruned") for t in data["trials"])
    assert data["accuracy_metric"] == "top1" and data["validation_images"] == 200
    chosen = result.chosen
    assert result.met_budget and chosen["feasible"] and chosen["accuracy_drop"] <= 1.0
    final = {row["label"]: row for row in data["final"]}
    assert {"original FP32 on jiasu (defaults)", "onnxruntime FP32 (defaults)", "onnxruntime INT8 (quantize_static defaults)"} <= set(final)
    candidates = [row for row in data["final"] if row["kind"] == "candidate" and row["status"] == "ok"]
    assert min(candidates, key=lambda row: row["objective"])["trial"] == data["chosen"]
    # Pareto front: ok trials, none dominated by another ok trial.
    ok = [t for t in data["trials"] if t["status"] == "ok"]
    front = [t for t in ok if t["number"] in data["pareto"]]
    assert front and all(not (o["objective"] < f["objective"] and o["accuracy"] >= f["accuracy"]) for f in front for o in ok)
    html = (out / "report.html").read_text()
    assert "Pareto" in html and chosen["label"] in html


def test_accuracies_are_measured_on_the_backend(run):
    out, result = run
    source = load_source(MODEL)
    from jiasu.data import train_and_validation

    _, val = train_and_validation(DATA, source.input_shape)
    images, labels = val.images[:200].numpy(), val.labels[:200].numpy()
    expected = float((predict(source.onnx, Recipe(backend="onnxruntime"), images).argmax(1) == labels).mean() * 100)
    assert result.data["baseline"]["accuracy"] == pytest.approx(expected)
    assert expected >= 88.0
    fp32_ort = next(t for t in result.data["trials"] if t["label"] == "fp32 on onnxruntime, 1 thread")
    assert fp32_ort["accuracy"] == pytest.approx(expected) and fp32_ort["agreement"] == 100.0 and fp32_ort["kl"] < 1e-9


def test_recipe_reproduces_the_model_bit_for_bit(run, tmp_path):
    out, result = run
    info = apply_recipe(out / "recipe.yaml", output_dir=tmp_path / "again", log=lambda text: None)
    assert info["matches"] is True
    assert (tmp_path / "again" / "model.onnx").read_bytes() == (out / "model.onnx").read_bytes()


def test_retrained_recipe_is_reproducible_in_a_new_process(tmp_path):
    """A recipe that prunes, distills, folds the first pool and calibrates gives the same bytes in another process."""
    from jiasu.data import train_and_validation
    from jiasu.recommend.recipe import write_recipe

    source = load_source(MODEL)
    train, _ = train_and_validation(DATA, source.input_shape)
    recipe = Recipe(prune="channel", prune_ratio=0.5, finetune_epochs=1, distill=True, pool_phases=True, precision="int8", backend="onnxruntime", train_limit=128, calib_limit=32)
    first = Builder(source, train, train).build(recipe)
    assert first.info["pool_phases"] == 1  # conv1 -> relu1 -> pool1
    assert Builder(source, train, train).build(recipe).onnx == first.onnx
    path = write_recipe(tmp_path / "recipe.yaml", recipe, MODEL, {"data": DATA, "expected": {"sha256": first.sha256}})
    code = "from jiasu.cli import app; app()"
    done = subprocess.run([sys.executable, "-c", code, "apply", str(path), "-o", str(tmp_path / "out"), "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["sha256"] == first.sha256 and info["matches"] is True


def test_distillation_teacher(tmp_path):
    """A recipe's teacher replaces the original model in distilled retraining; a teacher that cannot serve is refused."""
    from jiasu.data import train_and_validation

    source = load_source(MODEL)
    train, _ = train_and_validation(DATA, source.input_shape)
    kd = dict(prune="channel", prune_ratio=0.5, finetune_epochs=1, distill=True, backend="onnxruntime", train_limit=128)
    teacher = "zoo:resnet20?num_classes=10&image_size=28&in_channels=1"
    builder = Builder(source, train, train)
    own = builder.build(Recipe(**kd))
    other = builder.build(Recipe(**kd, teacher=teacher))
    assert other.onnx != own.onnx  # a different teacher gives a differently trained student
    assert Builder(source, train, train).build(Recipe(**kd, teacher=teacher)).onnx == other.onnx  # and the same teacher the same one
    with pytest.raises(JiasuError) as e:
        builder.teacher_for("zoo:resnet20?num_classes=7&image_size=28&in_channels=1")
    assert str(e.value) == (
        "teacher zoo:resnet20?num_classes=7&image_size=28&in_channels=1 gives outputs of shape (1, 7), the model (1, 10); "
        "a teacher must predict the same classes"
    )
    with pytest.raises(JiasuError) as e:
        builder.teacher_for("zoo:resnet20")
    assert str(e.value).startswith("teacher zoo:resnet20 cannot run on the model's input of shape (1, 1, 28, 28): RuntimeError: ")
    with pytest.raises(JiasuError) as e:
        optimize(MODEL, DATA, output_dir=tmp_path, prune=["none"], teacher=teacher, log=lambda text: None, progress=False)
    assert str(e.value) == (
        "--teacher is the teacher of retraining after pruning, and no pruning method is searched; add --prune channel or magnitude"
    )


def test_budget_guard_recommends_nothing(tmp_path):
    """Channels pruned without retraining lose far more than half a point: nothing may be recommended."""
    result = optimize(MODEL, DATA, output_dir=tmp_path, backends=["onnxruntime"], precisions=["fp32"], prune=["channel"], trials=3, max_accuracy_drop=0.5, **dict(FAST, finetune_epochs=(0,)))
    data = result.data
    assert not result.met_budget and data["chosen"] is None
    drops = [t["accuracy_drop"] for t in data["trials"]]
    assert min(drops) > 0.5
    closest = next(t for t in data["trials"] if t["number"] == data["closest"])
    assert closest["accuracy_drop"] == min(drops)
    assert not (tmp_path / "model.onnx").exists() and not (tmp_path / "recipe.yaml").exists()
    assert read_recipe(tmp_path / "closest-recipe.yaml")[0] == Recipe.from_dict(closest["recipe"])
    assert data["reasons"][-1].startswith("No candidate met the accuracy budget, so nothing is recommended. The closest was channel 25%")
    assert "No candidate met the budget" in (tmp_path / "report.html").read_text()


def test_interrupted_study_resumes(tmp_path, monkeypatch):
    calls = []
    real_run = Evaluator.run

    def counting_run(self, recipe):
        calls.append(recipe.label)
        if len(calls) == 3 and interrupt:
            raise KeyboardInterrupt
        return real_run(self, recipe)

    monkeypatch.setattr(Evaluator, "run", counting_run)
    options = dict(FAST, backends=["onnxruntime", "jiasu"], precisions=["fp32", "int8"], prune=["none"])
    interrupt = True
    with pytest.raises(KeyboardInterrupt):
        optimize(MODEL, DATA, output_dir=tmp_path, trials=4, **options)
    lines = (tmp_path / "trials.jsonl").read_text().splitlines()
    assert [json.loads(line)["number"] for line in lines] == [0, 1]
    interrupt, calls[:] = False, []
    result = optimize(MODEL, DATA, output_dir=tmp_path, trials=5, **options)
    study = _study(tmp_path, result)
    states = [t.state for t in study.trials]
    assert len(states) == 5 and states.count(optuna.trial.TrialState.FAIL) == 1  # the interrupted trial
    assert len(calls) == 2  # only the trials the first run did not finish were measured
    assert [t["number"] for t in result.data["trials"]] == [0, 1, 3, 4]


def test_unlabelled_data_scores_agreement(tmp_path):
    from jiasu.data import load_data

    images = load_data(DATA, "test").images[:120].numpy()
    np.savez(tmp_path / "images.npz", images=images)  # no labels
    result = optimize(MODEL, str(tmp_path / "images.npz"), output_dir=tmp_path / "out", backends=["onnxruntime"], precisions=["fp32", "int8"], trials=2, **FAST)
    data = result.data
    assert data["accuracy_metric"] == "agreement" and data["baseline"]["accuracy"] == 100.0
    assert data["space"]["prune"] == ["none"]  # nothing to retrain on without labels
    int8 = next(t for t in data["trials"] if t["recipe"]["precision"] == "int8")
    assert int8["accuracy"] == int8["agreement"] and 90.0 <= int8["agreement"] <= 100.0


def test_memory_scenario_prefers_int8(tmp_path):
    result = optimize(MODEL, DATA, output_dir=tmp_path, scenario="memory", backends=["onnxruntime"], precisions=["fp32", "int8"], prune=["none"], trials=2, **FAST)
    assert result.data["objective"]["name"] == "memory_bytes"
    fp32, int8 = sorted(result.data["trials"], key=lambda t: t["recipe"]["precision"] != "fp32")
    assert int8["objective"] < 0.4 * fp32["objective"]  # int8 weights are a quarter of the bytes
    assert result.chosen["recipe"]["precision"] == "int8"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(scenario="fast"), "unknown scenario 'fast'; choose one of: latency, throughput, memory, energy"),
        (dict(backends=["tensorrt"]), "unknown backend 'tensorrt' for the search; choose from: jiasu, onnxruntime, openvino"),
        (dict(precisions=["int4"]), "unknown precision 'int4'; choose from: fp32, fp16, bf16, int8, int8-dynamic"),
        (dict(max_accuracy_drop=-1), "--max-accuracy-drop must be >= 0 points, got -1"),
        (dict(data=None), "optimize needs validation data (--data): accuracy is measured on it, never assumed"),
    ],
)
def test_errors(tmp_path, kwargs, message):
    kwargs = dict(kwargs)
    data = kwargs.pop("data", DATA)
    with pytest.raises(JiasuError) as e:
        optimize(MODEL, data, output_dir=tmp_path, **kwargs, log=lambda text: None, progress=False)
    assert str(e.value) == message


def test_onnx_model_cannot_be_pruned(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(load_source(MODEL).onnx)
    with pytest.raises(JiasuError) as e:
        optimize(str(path), DATA, output_dir=tmp_path / "out", prune=["channel"], log=lambda text: None, progress=False)
    assert str(e.value) == "pruning needs retraining, and the model is ONNX only (give zoo:NAME or a jiasu-saved .pt); drop the pruning methods or change the input"


def test_reference_scores():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    ref = Reference(np.zeros((2, 1, 1, 1), np.float32), np.array([0, 2]), probs, distribution=True)
    assert ref.score(probs) == {"accuracy": 50.0, "agreement": 100.0, "kl": 0.0}
    # A 16-bit softmax that misses a sum of 1 is renormalized, not pushed through another softmax.
    off = probs * 1.01
    assert ref.score(off)["kl"] == pytest.approx(0.0, abs=1e-12)
    other = ref.score(np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1]]))
    assert other["agreement"] == 50.0 and other["accuracy"] == 0.0
    expected_kl = np.mean([np.sum(probs[0] * np.log(probs[0] / [0.1, 0.8, 0.1])), 0.0])
    assert other["kl"] == pytest.approx(expected_kl)
    # A logits head: outputs go through a softmax before comparison.
    logits = np.log(probs) + 3.0
    by_logits = Reference(np.zeros((2, 1, 1, 1), np.float32), None, probs, distribution=False)
    assert by_logits.metric == "agreement"
    assert by_logits.score(logits) == {"accuracy": 100.0, "agreement": 100.0, "kl": pytest.approx(0.0, abs=1e-12)}


def test_mixed_precision_keeps_the_most_sensitive_layer_float():
    from jiasu.compress.quantize.sensitivity import layer_sensitivity
    from jiasu.data import train_and_validation
    from jiasu.frontends import load_onnx

    source = load_source(MODEL)
    train, _ = train_and_validation(DATA, source.input_shape)
    builder = Builder(source, train, train)
    full = load_onnx(builder.build(Recipe(precision="int8", backend="onnxruntime", calib_limit=64)).onnx)
    mixed = load_onnx(builder.build(Recipe(precision="int8", float_layers=1, backend="onnxruntime", calib_limit=64)).onnx)
    images = train.images[:64].numpy()
    ranking, _ = layer_sensitivity(source.model, images, images, limit=64)

    def weight_is_dequantized(model, name):
        node = next(n for n in model.graph if n.name == name)
        producer = node.inputs[1].producer()
        return producer is not None and producer.op_type == "DequantizeLinear"

    worst = ranking[0].name
    assert weight_is_dequantized(full, worst) and not weight_is_dequantized(mixed, worst)
    assert all(weight_is_dequantized(mixed, row.name) for row in ranking[1:])


def test_pool_phases_is_offered_only_where_a_pool_folds():
    from jiasu.recommend.build import foldable_pools, load_source, pool_phases

    smallcnn = load_source("zoo:smallcnn?num_classes=10&image_size=28&padding=2").onnx
    assert foldable_pools(smallcnn) == pool_phases(smallcnn)[1] == 1  # conv1 -> relu1 -> pool1
    resnet = load_source("zoo:resnet18?num_classes=10&image_size=28&in_channels=1").onnx
    assert foldable_pools(resnet) == pool_phases(resnet)[1] == 0  # its stem's pool overlaps (3x3, stride 2)

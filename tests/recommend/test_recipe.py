"""Recipes: validation, normal form, labels and keys, and the YAML file round trip."""

from __future__ import annotations

import pytest

from jiasu.errors import JiasuError
from jiasu.recommend.recipe import Recipe, describe, read_recipe, write_recipe


def test_normalized_drops_knobs_that_do_not_apply():
    a = Recipe(precision="fp32", calibration="entropy", backend="onnxruntime", conv_plan="tuned", threads=2)
    b = Recipe(precision="fp32", backend="onnxruntime", threads=2)
    assert a != b
    assert a.normalized() == b
    assert a.key() == b.key() and a.label == "fp32 on onnxruntime, 2 threads"


def test_build_key_ignores_how_the_model_runs():
    a = Recipe(prune="channel", prune_ratio=0.5, finetune_epochs=1, precision="int8", backend="onnxruntime", threads=1)
    b = Recipe(prune="channel", prune_ratio=0.5, finetune_epochs=1, precision="int8", backend="jiasu", threads=2, conv_plan="tuned")
    assert a.build_key() == b.build_key()
    assert a.key() != b.key()
    assert Recipe(precision="int8", calibration="mse").build_key() != Recipe(precision="int8").build_key()


def test_labels():
    r = Recipe(prune="channel", prune_ratio=0.5, finetune_epochs=2, distill=True, precision="int8", calibration="entropy", backend="jiasu", threads=2, conv_plan="tuned")
    assert r.label == "channel 50% +KD, int8 (entropy) on jiasu, 2 threads (tuned)"
    assert Recipe(precision="int8", float_layers=2, backend="openvino").label == "int8 (minmax, 2 layers float) on openvino, 1 thread"
    assert Recipe(precision="fp16", float_layers=2, backend="openvino").normalized().float_layers == 0


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"backend": "onnxruntime", "precision": "bf16"}, "recipe: backend 'onnxruntime' does not compute in bf16; it takes fp32, fp16, int8, int8-dynamic"),
        ({"precision": "int4"}, "recipe: precision = 'int4' is not one of 'fp32', 'fp16', 'bf16', 'int8', 'int8-dynamic'"),
        ({"prune": "channel", "prune_ratio": 1.0}, "recipe: prune_ratio must be in (0, 1) when prune = 'channel', got 1.0"),
        ({"threads": 0}, "recipe: threads must be >= 1, got 0"),
    ],
)
def test_invalid_recipes(fields, message):
    with pytest.raises(JiasuError) as e:
        Recipe(**fields)
    assert str(e.value) == message


def test_from_dict_checks_names_and_types():
    with pytest.raises(JiasuError, match="recipe: unknown key 'bogus'; known: prune, prune_ratio"):
        Recipe.from_dict({"bogus": 1})
    with pytest.raises(JiasuError, match=r"recipe: threads must be a int, got '2'"):
        Recipe.from_dict({"threads": "2"})
    lr = Recipe.from_dict({"lr": 1}).lr  # YAML writes 1.0 as 1: an int is taken for a float knob
    assert lr == 1.0 and isinstance(lr, float)


def test_yaml_round_trip(tmp_path):
    r = Recipe(prune="magnitude", prune_ratio=0.75, finetune_epochs=1, precision="int8-dynamic", backend="jiasu", threads=2)
    path = write_recipe(tmp_path / "recipe.yaml", r, "zoo:smallcnn", {"expected": {"sha256": "ab"}})
    assert path.read_text().startswith("# jiasu recipe: rebuild this model with  jiasu apply recipe.yaml MODEL -o OUTDIR\n")
    back, doc = read_recipe(path)
    assert back == r and doc["model"] == "zoo:smallcnn" and doc["expected"] == {"sha256": "ab"}


def test_read_recipe_errors(tmp_path):
    with pytest.raises(JiasuError) as e:
        read_recipe(tmp_path / "none.yaml")
    assert str(e.value) == f"recipe file not found: {tmp_path / 'none.yaml'}; jiasu optimize writes one as OUTDIR/recipe.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(JiasuError, match="is not valid YAML"):
        read_recipe(bad)
    other = tmp_path / "other.yaml"
    other.write_text("just: text\n")
    with pytest.raises(JiasuError) as e:
        read_recipe(other)
    assert str(e.value) == f"{other} is not a jiasu recipe (no 'format: jiasu-recipe'); jiasu optimize writes one as OUTDIR/recipe.yaml"


def test_every_knob_is_described():
    knobs = describe()
    assert set(knobs) == set(Recipe.__dataclass_fields__)
    assert all(k["help"] for k in knobs.values())
    assert knobs["precision"]["choices"] == ["fp32", "fp16", "bf16", "int8", "int8-dynamic"]


def test_teacher_knob():
    kd = dict(prune="channel", prune_ratio=0.5, finetune_epochs=1, distill=True)
    r = Recipe(**kd, teacher="zoo:resnet20?weights=fashion-mnist")
    assert r.label == "channel 50% +KD from resnet20, fp32 on jiasu, 1 thread"
    assert Recipe(**kd, teacher="runs/big.pt").label == "channel 50% +KD from big.pt, fp32 on jiasu, 1 thread"
    assert r.build_key() != Recipe(**kd).build_key() and r.key() != Recipe(**kd).key()
    # Without distillation (or retraining) the teacher does not apply.
    assert Recipe(**dict(kd, distill=False), teacher="zoo:resnet20").normalized().teacher == ""
    assert Recipe(**dict(kd, finetune_epochs=0), teacher="zoo:resnet20").normalized().teacher == ""


def test_keys_of_recipes_without_later_knobs_are_those_written_before_them():
    """Studies and build caches written before the teacher and pool_phases knobs existed still match their recipes."""
    import hashlib
    import json

    r = Recipe(prune="channel", prune_ratio=0.5, finetune_epochs=1, distill=True, precision="int8")
    before = {k: v for k, v in r.normalized().to_dict().items() if k not in ("teacher", "pool_phases")}
    assert r.key() == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    assert Recipe(pool_phases=True).key() != Recipe().key() and Recipe(pool_phases=True).build_key() != Recipe().build_key()
    assert Recipe(prune="channel", prune_ratio=0.7, finetune_epochs=2, pool_phases=True, precision="int8", backend="openvino").label == (
        "channel 70%, pool phases, int8 (minmax) on openvino, 1 thread"
    )

"""The CLI is a thin layer: these tests check wiring, JSON output and error handling (exit 2, no traceback)."""

import json

import numpy as np
import onnx
import pytest

from .conftest import first_layer_algorithm, invoke


def test_info_json(model_path):
    r = invoke("info", model_path, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["ops"] == {"Conv": 1, "Relu": 1}
    assert info["parameters"] == 4 * 3 * 3 * 3 + 4
    assert info["inputs"] == [{"name": "x", "dtype": "FLOAT", "shape": ["N", 3, 8, 8]}]


def test_run_json_with_compare(model_path):
    r = invoke("run", model_path, "--batch", 3, "--compare", "onnxruntime", "--repeats", 2, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["batch"] == 3
    assert out["outputs"][0]["shape"] == [3, 4, 8, 8]
    assert out["compare"]["relative_l2"]["y"] < 1e-6
    assert out["algorithms"] == [{"node": "conv0", "algorithm": first_layer_algorithm(), "fallback_reason": None}]
    assert out["time_ms"]["repeats"] == 2 and out["time_ms"]["median"] > 0


def test_run_with_real_input_file(tmp_path, model_path):
    x = np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    r = invoke("run", model_path, "--input", f"x={tmp_path / 'x.npy'}", "--repeats", 1, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["batch"] == 2


def test_run_human_output(model_path):
    r = invoke("run", model_path, "--repeats", 1)
    assert r.exit_code == 0, r.output
    assert f"conv algorithms: {first_layer_algorithm()} x1" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "missing.onnx"), "error: model file not found: missing.onnx"),
        (("run", "{model}", "--algo", "magic"), "error: unknown convolution algorithm 'magic'; available:"),
        (("run", "{model}", "--compare", "tensorrt"), "error: --compare 'tensorrt' is not available; choose from: onnxruntime"),
        (("run", "{model}", "--node-algo", "conv0"), "error: --node-algo must look like NAME=VALUE, got 'conv0'"),
        (("run", "{model}", "--input", "x=nothere.npy"), "error: input file not found: nothere.npy"),
        (("export", "{model}", "-o", "x.onnx"), "error: export takes a zoo model (zoo:NAME)"),
    ],
)
def test_errors_exit_2_without_traceback(model_path, args, message):
    r = invoke(*[a.format(model=model_path) for a in args])
    assert r.exit_code == 2
    assert r.stderr.replace("\n", " ").startswith(message)
    assert "Traceback" not in r.output


def test_wrong_shape_input_file(tmp_path, model_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 5, 5), np.float32))
    r = invoke("run", model_path, "--input", f"x={tmp_path / 'x.npy'}")
    assert r.exit_code == 2
    assert "input 'x' has shape (1, 3, 5, 5), but the model expects (N, 3, 8, 8)" in r.stderr.replace("\n", " ")


def test_error_text_with_brackets_is_printed_verbatim(tmp_path):
    from onnx import TensorProto, helper

    from .conftest import make_model

    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name="r")]
    proto = make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]), helper.make_tensor_value_info("s", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
    )
    onnx.save(proto, tmp_path / "r.onnx")
    np.save(tmp_path / "x.npy", np.zeros((2, 3), np.float32))
    np.save(tmp_path / "s.npy", np.array([4], np.int64))
    r = invoke("run", tmp_path / "r.onnx", "--input", f"x={tmp_path / 'x.npy'}", "--input", f"s={tmp_path / 's.npy'}")
    assert r.exit_code == 2
    assert "shape '[4]' is invalid" in r.stderr


# ---- jiasu bench --stream --------------------------------------------------------------------

STREAM_MODEL = "zoo:smallcnn?image_size=28&num_classes=10&padding=2"
STREAM_FAST = ("--stream", "--stream-count", 8, "--batch", 4, "--stream-passes", 1, "--warmup", 0, "--threads", 1, "--no-isolate")


def test_bench_stream_prints_both_throughputs_the_ratio_and_failures(monkeypatch):
    import re

    from jiasu import backends

    from .bench.fakes import BrokenCompileBackend

    monkeypatch.setitem(backends.BACKENDS, "broken", BrokenCompileBackend)
    r = invoke("bench", STREAM_MODEL, "--backends", "jiasu,onnxruntime,broken", *STREAM_FAST)
    assert r.exit_code == 0, r.output
    assert "streamed: 8 synthetic JPEGs (28x28, Fashion-MNIST upsampled) written to the temporary folder" in r.stdout
    figures = (r"end to end +[\d.]+ img/s \| compute only +[\d.]+ img/s \| ratio +[\d.]+% \| decode +[\d.]+ ms/image \| "
               r"loader wait [\d.]+ s of [\d.]+ s \(\d+%\), computing [\d.]+ s vs [\d.]+ s alone")
    for label in ("jiasu", "onnxruntime"):
        assert re.search(rf"^  {label} +batch 4 +{figures}$", r.stdout, re.M), r.stdout
    assert re.search(r"^  broken +batch 4 +failed: compile failed: RuntimeError: no kernel for Relu$", r.stdout, re.M), r.stdout


def test_bench_stream_json_from_an_images_folder(tmp_path):
    from jiasu.bench.stream import write_images

    write_images(tmp_path, 9, size=32, fmt="png")  # resized to 28x28 on decoding; 8 of 9 make whole batches
    r = invoke("bench", STREAM_MODEL, "--backends", "onnxruntime", *STREAM_FAST, "--images", tmp_path, "--loaders", 1,
               "--prefetch", 1, "--cache", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["run"]["images"] == f"9 images from {tmp_path}"
    assert out["run"]["settings"]["cache"] is True and out["run"]["input"] == {"channels": 1, "height": 28, "width": 28}
    (row,) = out["results"]
    assert (row["kind"], row["configuration"], row["status"], row["images"], row["workers"], row["prefetch"]) == (
        "stream", "onnxruntime", "ok", 8, 1, 1)
    assert row["ratio"] == pytest.approx(row["stream_images_per_s"] / row["compute_images_per_s"])


@pytest.mark.parametrize(
    "args, message",
    [
        (("--images", "{tmp}/nope"), "error: --images {tmp}/nope: no such folder; give a folder of JPEG or PNG files"),
        (("--images", "{tmp}"), "error: no JPEG or PNG files in '{tmp}'; give a folder of images"),
        (("--stream-count", 2), "error: --stream-count 2 is fewer than one batch of 4; raise --stream-count or lower --batch"),
        (("--store", "{tmp}/s.jsonl"), "error: --store holds sweep results, not streaming ones; with --stream use --json to keep them"),
    ],
)
def test_bench_stream_bad_input_is_one_line(tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("not an image")
    r = invoke("bench", STREAM_MODEL, *STREAM_FAST, *[str(a).format(tmp=tmp_path) for a in args])
    assert r.exit_code == 2
    assert r.stderr == message.format(tmp=tmp_path) + "\n"


def test_bench_stream_options_need_stream(tmp_path):
    r = invoke("bench", STREAM_MODEL, "--images", tmp_path, "--loaders", 3)
    assert r.exit_code == 2
    assert r.stderr == "error: --images, --loaders only apply with --stream\n"


# ---- jiasu profile --plan ----------------------------------------------------------------------

PLAN_MODEL = STREAM_MODEL  # smallcnn at 28x28: three convs, tuned in a few seconds


@pytest.fixture(scope="module")
def plan_path(tmp_path_factory):
    """A plan for PLAN_MODEL at batch 2 with the batch strategy on 2 workers, its convs tuned."""
    folder = tmp_path_factory.mktemp("plan")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JIASU_CACHE_DIR", str(folder / "cache"))
        r = invoke("compile", PLAN_MODEL, "--batch", 2, "--strategy", "batch", "--workers", 2, "--budget", 5, "-o", folder / "p.json")
    assert r.exit_code == 0, r.output
    return folder / "p.json"


def test_profile_with_a_plan(plan_path, monkeypatch):
    import re

    plan = json.loads(plan_path.read_text())
    r = invoke("profile", PLAN_MODEL, "--plan", plan_path, "--no-roofline", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["plan"] == {"file": str(plan_path), "model": PLAN_MODEL, "passes": plan["passes"], "batch": 2,
                           "threads": plan["threads"], "strategy": plan["strategy"]}
    assert out["plan"]["strategy"]["name"] == "batch" and out["plan"]["strategy"]["workers"] == 2
    assert out["batch"] == 2 and out["warnings"] == []
    nodes = {n["name"]: n for n in out["nodes"]}
    assert len(plan["nodes"]) == 3
    for p in plan["nodes"]:  # the plan's node names are the profile's: it profiles the graph after the passes
        assert (nodes[p["node"]]["op_type"], nodes[p["node"]]["algorithm"]) == ("FusedConv", p["algorithm"])
        assert nodes[p["node"]]["algorithm_ms"] == p["timings_ms"].get(p["algorithm"])
    assert any(n["algorithm_ms"] is not None for n in out["nodes"])
    assert all(n["algorithm"] is None for n in out["nodes"] if n["name"] not in {p["node"] for p in plan["nodes"]})

    from rich.console import Console

    monkeypatch.setattr("jiasu.cli.console", Console(width=200))  # one row per node, no folded cells
    r = invoke("profile", PLAN_MODEL, "--plan", plan_path, "--no-roofline")
    assert r.exit_code == 0, r.output
    head, rest = r.stdout.split("\nstrategy: ", 1)
    threads = f"{plan['threads']} thread{'' if plan['threads'] == 1 else 's'}"
    assert " ".join(head.split()) == f"plan {plan_path}: compiled for {PLAN_MODEL} at batch 2 on {threads}; passes " + ", ".join(plan["passes"])
    assert rest.startswith("batch on 2 workers, intra_threads=1\n")
    lines = r.stdout.splitlines()
    assert re.search(r"┃ bound ┃ algorithm +┃ +energy ┃", r.stdout), r.stdout
    conv = plan["nodes"][1]
    row = next(line for line in lines if conv["node"] in line)
    ms = conv["timings_ms"].get(conv["algorithm"])
    assert f"│ {conv['algorithm']}{'' if ms is None else f' {ms:.3g} ms'} " in row


def test_profile_without_a_strategy_says_so(tmp_path, model_path):
    assert invoke("compile", model_path, "--no-tune", "-o", tmp_path / "p.json").exit_code == 0
    r = invoke("profile", model_path, "--plan", tmp_path / "p.json", "--no-roofline", "--html", tmp_path / "p.html")
    assert r.exit_code == 0, r.output
    assert "\nstrategy: none (the kernels' own threads)\n" in r.stdout
    page = (tmp_path / "p.html").read_text()
    assert "<th>algorithm</th>" in page and f"<td>{first_layer_algorithm()}</td>" in page
    assert "<p>strategy: none (the kernels&#x27; own threads)</p>" in page


def test_profile_plan_errors(tmp_path, model_path, plan_path):
    from jiasu.frontends import load
    from jiasu.plan import model_digest

    missing = tmp_path / "nope.json"
    r = invoke("profile", model_path, "--plan", missing)
    assert (r.exit_code, r.stderr) == (2, f"error: plan file '{missing}' does not exist; write one with `jiasu compile MODEL -o {missing}`\n")

    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"model": "m.onnx"}')
    r = invoke("profile", model_path, "--plan", corrupt)
    assert (r.exit_code, r.stderr) == (
        2, f'error: plan file \'{corrupt}\' is not a jiasu plan (no "format": "jiasu-plan"); write one with `jiasu compile MODEL -o FILE`\n')
    corrupt.write_text(plan_path.read_text()[:100])
    r = invoke("profile", model_path, "--plan", corrupt)
    assert r.exit_code == 2 and r.stderr.startswith(f"error: plan file '{corrupt}' is not a jiasu plan: invalid JSON (")

    theirs, ours = json.loads(plan_path.read_text())["model_digest"], model_digest(load(str(model_path)))
    r = invoke("profile", model_path, "--plan", plan_path)
    assert (r.exit_code, r.stderr) == (
        2, f"error: the plan was compiled for another model ({PLAN_MODEL!r}, sha256 {theirs[:12]}...), not {str(model_path)!r} "
           f"(sha256 {ours[:12]}...); compile this model: `jiasu compile {model_path} -o PLAN`\n")

    for dtype in ("int8", "fp16"):
        r = invoke("profile", PLAN_MODEL, "--plan", plan_path, "--dtype", dtype)
        assert (r.exit_code, r.stderr) == (
            2, f"error: --plan profiles the graph the plan runs, whose float tensors jiasu's engine runs in fp32; drop --dtype {dtype}, "
               f"or profile without --plan to see {dtype} execution\n")

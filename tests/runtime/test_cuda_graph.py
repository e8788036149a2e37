"""CUDA graphs of the engine's forward (jiasu.runtime.cuda_graph).

Without a GPU the bookkeeping is checked with a recorder that replays by running the forward again and writing
into the tensors the capture returned, as a CUDA graph's replay writes into its static outputs; its check raises
where torch's sync debug mode would (``.item()``, ``nonzero``). The tests at the end run real graphs and are
skipped without CUDA.
"""

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

import jiasu
from jiasu.errors import JiasuError
from jiasu.passes import optimize
from jiasu.runtime import cuda_graph
from jiasu.runtime import options as engine_options
from jiasu.runtime.reference import run_onnxruntime

from ..conftest import invoke, make_model

SYNC_ERROR = "called a synchronizing CUDA operation"  # torch's words, with set_sync_debug_mode("error")


class _HostReads(TorchDispatchMode):
    """Raises on the ops that wait for a GPU to hand a value to the host, as the sync debug mode does on CUDA."""

    SYNCING = {torch.ops.aten.nonzero.default, torch.ops.aten._local_scalar_dense.default}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in self.SYNCING:
            raise RuntimeError(SYNC_ERROR)
        return func(*args, **(kwargs or {}))


class Replaying:
    """A recorder for the CPU: capture runs the forward once; replay runs it again into the captured outputs."""

    def __init__(self, log):
        self.log = log

    def warm_up(self, run):
        self.log.append("warm_up")
        run()

    def check(self, run):
        self.log.append("check")
        with _HostReads():
            run()

    def capture(self, run):
        self.log.append("capture")
        outputs = run()

        def replay():
            self.log.append("replay")
            with torch.inference_mode():
                for out, new in zip(outputs, run()):
                    out.copy_(new)

        return replay, outputs


@pytest.fixture
def log(monkeypatch):
    """Graphs on the CPU, made by :class:`Replaying`; the list records what the recorders did."""
    calls = []
    monkeypatch.setattr(cuda_graph, "recorder_for", lambda device: Replaying(calls))
    return calls


def _feeds(batch, seed):
    return {"x": np.random.default_rng(seed).standard_normal((batch, 3, 8, 8)).astype(np.float32)}


def test_replays_match_runs_without_graphs(conv_relu_model, log):
    model = jiasu.load(conv_relu_model)
    graphed, plain = jiasu.Engine(model), jiasu.Engine(model, cuda_graph=False)
    for seed in range(3):
        feeds = _feeds(2, seed)
        np.testing.assert_allclose(graphed.run_numpy(feeds)["y"], plain.run_numpy(feeds)["y"], rtol=1e-5, atol=1e-5)
    # captured once, and every run's outputs came from a replay (the first run's too)
    assert log == ["warm_up", "check", "capture", "replay", "replay", "replay"]
    assert graphed.graph_report() == {"captured": 1, "refused": {}}
    assert plain.graph_report() == {}


def test_outputs_are_the_callers_own(conv_relu_model, log):
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    first = engine.run(_feeds(2, 0))["y"]
    kept = first.clone()
    second = engine.run(_feeds(2, 1))["y"]
    assert torch.equal(first, kept)  # the second replay did not write into the first run's outputs
    assert not torch.equal(first, second)
    a, b = engine.run_numpy(_feeds(2, 0))["y"], engine.run_numpy(_feeds(2, 1))["y"]
    np.testing.assert_allclose(a, kept.numpy(), rtol=1e-6)
    assert not np.array_equal(a, b)


def test_one_graph_per_layout_and_the_oldest_goes(conv_relu_model, log, monkeypatch):
    monkeypatch.setattr(cuda_graph, "MAX_GRAPHS", 2)
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    plain = jiasu.Engine(jiasu.load(conv_relu_model), cuda_graph=False)
    for batch in (1, 2, 1, 2):
        feeds = _feeds(batch, batch)
        np.testing.assert_allclose(engine.run_numpy(feeds)["y"], plain.run_numpy(feeds)["y"], rtol=1e-5, atol=1e-5)
    assert log.count("capture") == 2
    engine.run_numpy(_feeds(3, 0))  # a third layout: batch 1's graph goes
    engine.run_numpy(_feeds(2, 0))
    assert log.count("capture") == 3
    engine.run_numpy(_feeds(1, 0))
    assert log.count("capture") == 4
    assert engine.graph_report()["captured"] == 4


#: x (N, 3) -> Relu -> y, and NonZero(y) -> where: a step whose output's shape depends on values, so it reads back.
HOST_READ_FEEDS = {"x": np.array([[1.0, -1.0, 2.0], [0.0, 3.0, -4.0]], np.float32)}


def _host_read_model():
    nodes = [
        helper.make_node("Relu", ["x"], ["y"], name="relu0"),
        helper.make_node("NonZero", ["y"], ["where"], name="nz"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3]), helper.make_tensor_value_info("where", TensorProto.INT64, [2, None])]
    return jiasu.load(make_model(nodes, [x], outs))


def test_a_step_that_reads_back_to_the_host_is_named_and_the_layout_runs_without_a_graph(log):
    engine = jiasu.Engine(_host_read_model())
    feeds = HOST_READ_FEEDS
    message = (
        "jiasu: no CUDA graph for inputs of shape (2, 3), so each run launches its kernels from Python: "
        f"NonZero node 'nz' failed: RuntimeError: {SYNC_ERROR} (EngineOptions(cuda_graph=False) turns graphs off)"
    )
    with pytest.warns(RuntimeWarning) as warned:
        out = engine.run_numpy(feeds)
    assert [str(w.message) for w in warned] == [message]
    np.testing.assert_array_equal(out["where"], [[0, 0, 1], [0, 2, 1]])
    np.testing.assert_array_equal(out["y"], np.maximum(feeds["x"], 0))
    # said once: the next run of this layout goes straight to the forward
    again = engine.run_numpy({"x": -feeds["x"]})
    np.testing.assert_array_equal(again["where"], [[0, 1], [1, 2]])
    assert log == ["warm_up", "check"]
    assert engine.graph_report() == {"captured": 0, "refused": {"(2, 3)": f"NonZero node 'nz' failed: RuntimeError: {SYNC_ERROR}"}}


def test_a_kernel_that_fails_in_the_warm_up_raises_as_without_graphs(log):
    nodes = [helper.make_node("Add", ["a", "b"], ["c"], name="add0")]
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [d]) for n, d in (("a", "N"), ("b", "M"))]
    model = jiasu.load(make_model(nodes, ins, [helper.make_tensor_value_info("c", TensorProto.FLOAT, [None])]))
    feeds = {"a": np.ones(2, np.float32), "b": np.ones(3, np.float32)}
    errors = []
    for graphs in (True, False):
        with pytest.raises(JiasuError) as e:
            jiasu.Engine(model, cuda_graph=graphs).run(feeds)
        errors.append(str(e.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith("Add node 'add0' failed: RuntimeError: The size of tensor a (2) must match")
    assert log == ["warm_up"]


def test_a_fed_initializer_is_copied_in_and_an_unfed_one_kept(conv_relu_model, log):
    # Old exporters list weights as inputs too: a feed overrides the initializer.
    conv_relu_model.graph.input.append(helper.make_tensor_value_info("b", TensorProto.FLOAT, [4]))
    model = jiasu.load(conv_relu_model)
    graphed, plain = jiasu.Engine(model), jiasu.Engine(model, cuda_graph=False)
    x = _feeds(2, 0)
    for bias in (np.full(4, 5.0, np.float32), np.full(4, -5.0, np.float32), None):
        feeds = dict(x) if bias is None else {**x, "b": bias}
        np.testing.assert_allclose(graphed.run_numpy(feeds)["y"], plain.run_numpy(feeds)["y"], rtol=1e-5, atol=1e-5)
    assert log.count("capture") == 2  # fed and unfed bias: two layouts
    y = graphed.run_numpy({**x, "b": np.full(4, -100.0, np.float32)})["y"]
    assert not y.any()  # the Relu of a bias far below the conv's sums: the fed bias, not the stored one


def test_no_recorder_when_graphs_are_off(conv_relu_model, monkeypatch):
    monkeypatch.setattr(cuda_graph, "recorder_for", lambda device: pytest.fail("a recorder was asked for"))
    engine = jiasu.Engine(jiasu.load(conv_relu_model), cuda_graph=False)
    engine.run_numpy(_feeds(2, 0))
    assert engine.graph_report() == {}


def test_the_cpu_has_no_graphs(conv_relu_model):
    assert cuda_graph.recorder_for(torch.device("cpu")) is None
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    ref = run_onnxruntime(engine.model, _feeds(2, 0))["y"]
    np.testing.assert_allclose(engine.run_numpy(_feeds(2, 0))["y"], ref, rtol=1e-5, atol=1e-5)
    assert engine.graph_report() == {}


def test_the_cli_says_what_was_captured(model_path, log):
    out = invoke("run", model_path, "--batch", 2, "--repeats", 2, "--warmup", 0)
    assert out.exit_code == 0, out.output
    assert "  on cpu: 1 CUDA graph captured\n" in out.output  # the stand-in's graphs, on the CPU
    out = invoke("run", model_path, "--batch", 2, "--repeats", 2, "--no-cuda-graph")
    assert out.exit_code == 0, out.output
    assert "CUDA graph" not in out.output


def test_the_option_is_described():
    assert "CUDA graph" in jiasu.EngineOptions.describe()["cuda_graph"]


class _DeviceOnly(TorchDispatchMode):
    """With the engine on the meta device: raises where an op mixes a CPU tensor into the device's (a 0-dim CPU
    tensor is a scalar, which CUDA ops take too). Meta tensors raise by themselves where a value is read back
    (``.item()``, ``.tolist()``, ``.cpu()``, ``nonzero``)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        tensors = [t for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        devices = {t.device.type for t in tensors if not (t.device.type == "cpu" and t.dim() == 0)}
        if "cpu" in devices and len(devices) > 1:
            raise RuntimeError(f"{func} mixes a CPU tensor into the device's: {[(tuple(t.shape), t.device.type) for t in tensors]}")
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("name", ["smallcnn", "mobilenet_v2", "googlenet", "resnet18", "resnet50"])
def test_every_zoo_model_runs_on_a_device_without_the_host(name, monkeypatch):
    """What a CUDA graph captures, checked without a GPU: the meta device stands in for one. Off the CPU the kernels
    take their torch paths (no C kernel, the plan's vendor convolution), as on CUDA. Meta tensors have shapes and
    no values, so a step that reads one back to the host raises, and so does one that mixes in a CPU tensor
    (``_DeviceOnly``): each would stop a capture on CUDA."""
    monkeypatch.setattr(engine_options, "check_device", lambda device: None)  # meta is not a device for users
    model, _ = optimize(jiasu.load(f"zoo:{name}", **({} if name == "smallcnn" else {"image_size": 64})))
    engine = jiasu.Engine(model, device="meta")
    assert {c.choice for c in engine.algorithm_report()} == {"direct"}
    (spec,) = engine.inputs
    x = torch.empty(3, *spec.shape[1:], device="meta")
    with _DeviceOnly():
        (y,) = engine.run({spec.name: x}).values()
    assert y.device.type == "meta" and y.shape[0] == 3 and y.dim() == 2
    assert engine.graph_report() == {}  # the meta device has no graphs


# ---- on a GPU ------------------------------------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("name", ["smallcnn", "resnet18"])
def test_cuda_graph_matches_onnxruntime(name):
    model = jiasu.load(f"zoo:{name}") if name == "smallcnn" else jiasu.load(f"zoo:{name}", image_size=64)
    feeds = jiasu.example_feeds(model, batch=2)
    graphed = jiasu.Engine(model, device="cuda")
    plain = jiasu.Engine(model, device="cuda", cuda_graph=False)
    ref = run_onnxruntime(model, feeds)
    for _ in range(3):
        ours = graphed.run_numpy(feeds)
        for k, v in ref.items():
            np.testing.assert_allclose(ours[k], v, rtol=1e-3, atol=1e-3)
            np.testing.assert_allclose(ours[k], plain.run_numpy(feeds)[k], rtol=1e-4, atol=1e-4)
    assert graphed.graph_report() == {"captured": 1, "refused": {}}
    # replays allocate nothing new but the outputs' copies, which are freed with them
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    for _ in range(3):
        graphed.run(feeds)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() == before


@cuda
def test_cuda_graph_refuses_a_host_read_and_names_it():
    engine = jiasu.Engine(_host_read_model(), device="cuda")
    with pytest.warns(RuntimeWarning, match="NonZero node 'nz' failed: RuntimeError: called a synchronizing CUDA operation"):
        out = engine.run_numpy(HOST_READ_FEEDS)
    np.testing.assert_array_equal(out["where"], [[0, 0, 1], [0, 2, 1]])
    assert list(engine.graph_report()["refused"]) == ["(2, 3)"]


@cuda
def test_cuda_graph_keeps_torch_tensors_on_the_device():
    w = numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm0")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    engine = jiasu.Engine(jiasu.load(make_model(nodes, [x], [y], [w])), device="cuda")
    t = torch.arange(8.0, device="cuda").reshape(2, 4)
    out = engine.run({"x": t})["y"]
    assert out.is_cuda and torch.equal(out, t)
    assert torch.equal(engine.run({"x": 2 * t})["y"], 2 * t) and torch.equal(out, t)

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

import jiasu
from jiasu.errors import AlgorithmError, InputError, JiasuError, UnsupportedOpError
from jiasu.kernels import supported_ops
from jiasu.runtime.reference import relative_l2, run_onnxruntime

from ..conftest import make_model


def test_matches_onnxruntime(conv_relu_model):
    model = jiasu.load(conv_relu_model)
    feeds = jiasu.example_feeds(model, batch=2)
    ours = jiasu.Engine(model).run_numpy(feeds)["y"]
    ref = run_onnxruntime(model, feeds)["y"]
    assert relative_l2(ours, ref) < 1e-6


def test_unsupported_op_names_op_node_opset_and_supported_list():
    nodes = [helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"], name="nms0")]
    boxes = helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 4, 4])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, 4])
    sel = helper.make_tensor_value_info("sel", TensorProto.INT64, [None, 3])
    model = jiasu.load(make_model(nodes, [boxes, scores], [sel]))
    with pytest.raises(UnsupportedOpError) as e:
        jiasu.Engine(model)
    lines = str(e.value).splitlines()
    assert lines[0] == "unsupported operator NonMaxSuppression (node 'nms0') at opset 17: jiasu's engine has no kernel for it."
    assert lines[1] == f"Supported ops ({len(supported_ops())}):"
    assert "Conv" in str(e.value) and "Relu" in str(e.value)
    assert lines[-1] == "To add one, write jiasu/kernels/ops/<op>.py and list it in jiasu/kernels/ops/__init__.py."


def test_every_unsupported_op_is_named_once():
    nodes = [
        helper.make_node("NonMaxSuppression", ["b", "s"], ["a"], name="n1"),
        helper.make_node("MyOp", ["a"], ["c"], name="n2", domain="com.example"),
        helper.make_node("NonMaxSuppression", ["b", "s"], ["d"], name="n3"),
    ]
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 4, 4])
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, 1, 4])
    outs = [helper.make_tensor_value_info(n, TensorProto.INT64, [None, 3]) for n in ("c", "d")]
    proto = make_model(nodes, [b, s], outs)
    proto.opset_import.append(helper.make_opsetid("com.example", 1))
    model = jiasu.load(proto)  # the checker cannot verify custom domains, so load succeeds
    with pytest.raises(UnsupportedOpError) as e:
        jiasu.Engine(model)
    assert str(e.value).splitlines()[0] == (
        "unsupported operators NonMaxSuppression (node 'n1'), com.example::MyOp (node 'n2') at opset 17: "
        "jiasu's engine has no kernel for them."
    )


@pytest.mark.parametrize("fed", ["w", "b"])
def test_an_initializer_listed_as_input_is_overridden_by_a_feed(conv_relu_model, fed):
    # Old exporters list every weight as an input too; ONNX makes the initializer a default a feed replaces. A kernel
    # that built the stored one in (packed weights, a bias in the epilogue) would silently ignore the feed.
    shapes = {"w": [4, 3, 3, 3], "b": [4]}
    conv_relu_model.graph.input.append(helper.make_tensor_value_info(fed, TensorProto.FLOAT, shapes[fed]))
    model = jiasu.load(conv_relu_model)
    engine = jiasu.Engine(model)
    x = jiasu.example_feeds(model, batch=2)
    override = np.random.default_rng(1).standard_normal(shapes[fed]).astype(np.float32) - 1
    for feeds in ({**x, fed: override}, x):
        ours, ref = engine.run_numpy(feeds)["y"], run_onnxruntime(model, feeds)["y"]
        assert relative_l2(ours, ref) < 1e-6
    assert relative_l2(engine.run_numpy({**x, fed: override})["y"], engine.run_numpy(x)["y"]) > 0.1


@pytest.mark.parametrize(
    "device, message",
    [
        ("gpu", "unknown device 'gpu'; jiasu's engine runs on cpu, cuda or cuda:N"),
        ("mps", "unknown device 'mps'; jiasu's engine runs on cpu, cuda or cuda:N"),
        pytest.param(
            "cuda",
            f"device 'cuda' is not available: this torch was built without CUDA (torch {torch.__version__}); use device 'cpu'",
            marks=pytest.mark.skipif(torch.version.cuda is not None, reason="this torch has CUDA"),
        ),
    ],
)
def test_a_device_the_engine_cannot_use_is_refused(conv_relu_model, device, message):
    with pytest.raises(JiasuError) as e:
        jiasu.Engine(jiasu.load(conv_relu_model), device=device)
    assert str(e.value) == message


def test_wrong_input_shape(conv_relu_model):
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    with pytest.raises(InputError) as e:
        engine.run({"x": np.zeros((1, 3, 9, 8), np.float32)})
    assert str(e.value) == "input 'x' has shape (1, 3, 9, 8), but the model expects (N, 3, 8, 8): dim 2 must be 8, got 9"
    with pytest.raises(InputError) as e:
        engine.run({"x": np.zeros((3, 8, 8), np.float32)})
    assert str(e.value) == "input 'x' has shape (3, 8, 8) (rank 3), but the model expects (N, 3, 8, 8) (rank 4)"


def test_wrong_input_dtype(conv_relu_model):
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    with pytest.raises(InputError) as e:
        engine.run({"x": np.zeros((1, 3, 8, 8), np.float64)})
    assert str(e.value) == "input 'x' has dtype float64, but the model expects float32; convert it first (e.g. x.astype(np.float32))"


def test_missing_and_unknown_inputs(conv_relu_model):
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    with pytest.raises(InputError, match=r"^missing input 'x'; the model's inputs are: x$"):
        engine.run({})
    with pytest.raises(InputError, match=r"^unknown input 'image'; the model's inputs are: x$"):
        engine.run({"image": np.zeros((1, 3, 8, 8), np.float32)})


def test_unknown_algorithm(conv_relu_model):
    with pytest.raises(AlgorithmError) as e:
        jiasu.Engine(jiasu.load(conv_relu_model), conv_algorithm="magic")
    assert str(e.value).startswith("unknown convolution algorithm 'magic'; available: ")
    assert "direct" in str(e.value)


def test_per_node_algorithm_must_name_a_conv(conv_relu_model):
    with pytest.raises(JiasuError) as e:
        jiasu.Engine(jiasu.load(conv_relu_model), conv_algorithms={"relu0": "direct"})
    assert str(e.value) == "conv_algorithms names 'relu0', which is not Conv nodes of this model; Conv nodes: conv0"


def test_unknown_engine_option(conv_relu_model):
    with pytest.raises(JiasuError, match=r"^unknown engine option 'algo'; options: conv_algorithm, conv_algorithms, cuda_graph, device, keep_freed_memory, native_chains, threads$"):
        jiasu.Engine(jiasu.load(conv_relu_model), algo="direct")


def test_kernel_failure_names_the_node():
    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name="bad_reshape")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    s = helper.make_tensor_value_info("s", TensorProto.INT64, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])
    engine = jiasu.Engine(jiasu.load(make_model(nodes, [x, s], [y])))
    with pytest.raises(JiasuError, match=r"^Reshape node 'bad_reshape' failed: RuntimeError: shape '\[4\]' is invalid"):
        engine.run({"x": np.zeros((2, 3), np.float32), "s": np.array([4], np.int64)})


def test_intermediates_are_freed(conv_relu_model):
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    # the Conv output 'c' dies after the Relu reads it; the graph output survives
    assert [len(s.frees) for s in engine.steps] == [1, 1]  # x after conv, c after relu


def test_torch_tensors_in_and_out(conv_relu_model):
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    out = engine.run({"x": torch.zeros(1, 3, 8, 8)})["y"]
    assert isinstance(out, torch.Tensor) and out.shape == (1, 4, 8, 8)


def test_unfeedable_input_type(conv_relu_model):
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    with pytest.raises(InputError, match=r"^input 'x' of type str32 cannot be fed to jiasu's engine \("):
        engine.run({"x": np.array([["a"]])})


def test_run_numpy_returns_arrays_the_caller_owns():
    nodes = [helper.make_node("Constant", [], ["y"], name="c", value=helper.make_tensor("v", TensorProto.FLOAT, [2], [1.0, 2.0]))]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    engine = jiasu.Engine(jiasu.load(make_model(nodes, [x], [y])))
    first = engine.run_numpy({"x": np.zeros(1, np.float32)})["y"]
    first[:] = 0
    np.testing.assert_array_equal(engine.run_numpy({"x": np.zeros(1, np.float32)})["y"], [1.0, 2.0])


def test_conv_prepares_once_when_weights_reach_it_through_identity(monkeypatch):
    """The exporter routes shared initializers through Identity; the weight transform must still run once."""
    from jiasu.kernels.conv import CONV_ALGORITHMS

    rng = np.random.default_rng(0)
    w = onnx.numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = onnx.numpy_helper.from_array(np.zeros(4, np.float32), "b")
    nodes = [
        helper.make_node("Identity", ["w"], ["w_alias"], name="idw"),
        helper.make_node("Identity", ["b"], ["b_alias"], name="idb"),
        helper.make_node("Conv", ["x", "w_alias", "b_alias"], ["y"], name="conv0", pads=[1, 1, 1, 1]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])
    model = jiasu.load(make_model(nodes, [x], [y], [w, b]))
    calls = []
    algo = CONV_ALGORITHMS["winograd"]
    original = type(algo).prepare_fused
    monkeypatch.setattr(type(algo), "prepare_fused", lambda self, *a: calls.append(1) or original(self, *a))
    engine = jiasu.Engine(model, conv_algorithm="winograd")
    feeds = jiasu.example_feeds(model)
    first = engine.run_numpy(feeds)["y"]
    engine.run(feeds)
    assert len(calls) == 1
    assert relative_l2(first, run_onnxruntime(model, feeds)["y"]) < 1e-5


@pytest.mark.parametrize("algo", ["direct", "winograd", "im2col"])
def test_conv_with_constant_weight_and_runtime_bias(algo):
    rng = np.random.default_rng(1)
    w = onnx.numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv0", pads=[1, 1, 1, 1])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4, 8, 8])
    model = jiasu.load(make_model(nodes, [x, b], [y], [w]))
    engine = jiasu.Engine(model, conv_algorithm=algo)
    for seed in (0, 1):  # the second run reuses the cached weight transform with a new bias
        feeds = {"x": rng.standard_normal((2, 3, 8, 8)).astype(np.float32), "b": rng.standard_normal(4).astype(np.float32)}
        assert relative_l2(engine.run_numpy(feeds)["y"], run_onnxruntime(model, feeds)["y"]) < 1e-5


def test_each_initializer_lives_on_the_device_once(conv_relu_model):
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    conv = engine.steps[0].kernel
    assert any(t is conv.weight for t in engine._constants.values())


def test_steps_compile_to_straight_line_code(conv_relu_model):
    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    lines = engine.source.splitlines()
    assert lines[0].startswith("def forward(")
    calls = [l for l in lines if "= k" in l]
    assert len(calls) == len(engine.steps) == 2
    assert calls[0].strip().endswith("# Conv conv0") and calls[1].strip().endswith("# Relu relu0")
    assert sum(l.strip().startswith("del ") for l in lines) == 2  # x after the conv, c after the relu



@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_conv_prepares_once_per_input_shape(conv_relu_model, monkeypatch):
    """Conv.run keeps what it prepared by the input's shape: later runs of that shape call the prepared function
    straight away (no per-call dispatch through _fn); a new shape prepares once more. Outputs stay right."""
    from jiasu.runtime.reference import run_onnxruntime

    engine = jiasu.Engine(jiasu.load(conv_relu_model))
    (kernel,) = [step.kernel for step in engine.steps if step.kernel.node.op_type == "Conv"]
    calls = []
    real = kernel._fn
    monkeypatch.setattr(kernel, "_fn", lambda *a, **k: calls.append(tuple(a[0].shape)) or real(*a, **k))
    rng = np.random.default_rng(0)
    for batch in (1, 1, 1, 2, 2):
        x = rng.standard_normal((batch, 3, 8, 8)).astype(np.float32)
        (want,) = run_onnxruntime(conv_relu_model.SerializeToString(), {"x": x}).values()
        np.testing.assert_allclose(engine.run_numpy({"x": x})["y"], want, rtol=1e-5, atol=1e-5)
    assert calls == [(1, 3, 8, 8), (2, 3, 8, 8)]


def test_switching_thread_counts_packs_once_per_count(conv_relu_model, restore_threads, monkeypatch):
    """torch's thread count is per process and may change between runs (another engine built with
    ``threads``, a benchmark interleaving 1 and 2 threads). oneDNN picks its kernel, and so the packed
    weight's layout, per thread count: each count gets its weight packed once, and switching back and
    forth packs nothing more. (Packed at 2 threads and run at 1, the weight used to be reordered again
    inside every call: resnet18 at 28x28, batch 1, 7.5 ms per image instead of 1.6.)"""
    from jiasu.kernels.conv import onednn

    packs = []
    real = onednn.pack_weight
    monkeypatch.setattr(onednn, "pack_weight", lambda *a: packs.append(torch.get_num_threads()) or real(*a))
    engine = jiasu.Engine(jiasu.load(conv_relu_model), threads=2, conv_algorithm="onednn")
    assert engine.algorithm_report()[0].choice == "onednn"
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)}
    first = engine.run_numpy(feeds)["y"]
    torch.set_num_threads(1)
    for threads in (1, 2, 1, 2, 1):
        torch.set_num_threads(threads)
        np.testing.assert_allclose(engine.run_numpy(feeds)["y"], first, rtol=1e-5, atol=1e-5)
    assert packs == [2, 1]

"""Chains (``jiasu.runtime.chain``): consecutive C kernels run by one call into C.

The chained run computes the same floats as the step-by-step path (the same C kernels on the same
inputs, so exactly), and matches ONNX Runtime within the engine's usual 1e-4 relative L2.
"""

from __future__ import annotations

import functools

import numpy as np
import onnx_ir as ir
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import jiasu
from jiasu.kernels.conv.pointwise import native_available
from jiasu.passes import optimize
from jiasu.runtime.reference import relative_l2, run_onnxruntime

from ..conftest import make_model

pytestmark = pytest.mark.skipif(not native_available(), reason="jiasu's C kernels do not build here")


@functools.lru_cache(maxsize=2)
def _models(name: str):
    """The zoo model (ONNX Runtime runs it) and the same after jiasu's passes (our engine runs it)."""
    options = {} if name == "smallcnn" else {"image_size": 64}
    return jiasu.load(f"zoo:{name}", **options), optimize(jiasu.load(f"zoo:{name}", **options))[0]  # optimize rewrites its input


def _optimized(name: str):
    return _models(name)[1]


def _stepwise(engine, feeds):
    """The outputs of the step-by-step path (no chains)."""
    values = engine._run_steps(engine._arguments(engine._check_feeds(feeds)))
    return {v.name: t for v, t in zip(engine.outputs, values)}


def test_mobilenet_v2_runs_as_one_chain_with_the_same_floats():
    model = _optimized("mobilenet_v2")
    engine = jiasu.Engine(model, conv_algorithm="auto")
    feeds = jiasu.example_feeds(model, batch=1)
    chains = engine.chains(feeds)
    # every step: the first conv, 17 fused blocks, the last 1x1 conv, the average, the flatten and the classifier
    assert [len(c) for c in chains] == [len(engine.steps)] == [22]
    ours, steps = engine.run(feeds), _stepwise(engine, feeds)
    assert all(torch.equal(ours[k], steps[k]) for k in steps)
    ref = run_onnxruntime(_models("mobilenet_v2")[0], feeds)
    assert relative_l2(ours["output"].numpy(), ref["output"]) < 1e-4


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "smallcnn"])
def test_models_with_short_chains_give_the_same_floats(name):
    model = _optimized(name)
    engine = jiasu.Engine(model, conv_algorithm="auto")
    for batch in (1, 3):
        feeds = jiasu.example_feeds(model, batch=batch, seed=batch)
        assert engine.chains(feeds), "no chain made"
        ours, steps = engine.run(feeds), _stepwise(engine, feeds)
        assert all(torch.equal(ours[k], steps[k]) for k in steps)
    chained = {n for c in engine.chains(feeds) for n in c}
    winograd = [c.name for c in engine.algorithm_report() if c.choice == "winograd" or c.choice == "winograd_large"]
    assert winograd and set(winograd) <= chained  # every Winograd conv is one C call, and in a chain


def test_outputs_are_fresh_memory_on_every_run():
    model = _optimized("mobilenet_v2")
    engine = jiasu.Engine(model, conv_algorithm="auto")
    a, b = (jiasu.example_feeds(model, batch=1, seed=s) for s in (1, 2))
    first = engine.run(a)["output"]
    kept = first.clone()
    second = engine.run(b)["output"]
    assert torch.equal(first, kept), "the next run overwrote a returned output"
    assert not torch.equal(first, second)
    assert torch.equal(second, _stepwise(engine, b)["output"])


def _pointwise_net(mid_output: bool = False, flat_output: bool = False):
    """1x1 conv + ReLU -> max pool -> depthwise 3x3 -> 1x1 conv -> global average -> flatten -> fc, with
    optional graph outputs in the middle (the pooled map, the flattened vector)."""
    rng = torch.Generator().manual_seed(0)

    def init(name, *shape):
        return numpy_helper.from_array((torch.randn(*shape, generator=rng) * 0.3).numpy(), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="pw1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p1", "wd", "bd"], ["d1"], name="dw", group=32, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["d1", "w2", "b2"], ["c2"], name="pw2"),
        helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1),
    ]
    inits = [init("w1", 32, 16, 1, 1), init("b1", 32), init("wd", 32, 1, 3, 3), init("bd", 32), init("w2", 48, 32, 1, 1),
             init("b2", 48), init("wf", 10, 48), init("bf", 10)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16, 20, 20])
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])]
    if mid_output:
        outs.append(helper.make_tensor_value_info("p1", TensorProto.FLOAT, ["n", 32, 10, 10]))
    if flat_output:
        outs.append(helper.make_tensor_value_info("f", TensorProto.FLOAT, ["n", 48]))
    proto = make_model(nodes, [x], outs, inits)
    return jiasu.load(proto), optimize(jiasu.load(proto))[0]


@pytest.mark.parametrize("mid_output, flat_output", [(False, False), (True, False), (False, True)])
def test_values_the_graph_returns_leave_the_chain(mid_output, flat_output):
    original, model = _pointwise_net(mid_output, flat_output)
    engine = jiasu.Engine(model, conv_algorithm="auto")
    feeds = jiasu.example_feeds(model, batch=1)
    names = engine.chains(feeds)
    assert names and all(len(c) >= 2 for c in names)
    if flat_output:  # a view the graph returns is not made inside a chain: the chain ends before it
        assert not any("flat" in c for c in names)
    ours = engine.run(feeds)
    ref = run_onnxruntime(original, feeds)
    assert set(ours) == set(ref)
    for k in ref:
        assert relative_l2(ours[k].numpy(), ref[k]) < 1e-4, k
    again = engine.run(jiasu.example_feeds(model, batch=1, seed=5))
    for k in ref:  # the first run's outputs are still its own
        assert relative_l2(ours[k].numpy(), ref[k]) < 1e-4, k
        assert ours[k].data_ptr() != again[k].data_ptr()


def test_chain_buffers_are_reused_by_liveness():
    model = _optimized("mobilenet_v2")
    engine = jiasu.Engine(model, conv_algorithm="auto")
    feeds = jiasu.example_feeds(model, batch=1)
    (chain,) = engine._forward_for(engine._arguments(engine._check_feeds(feeds)))[0].chains
    buffers = [t for t in chain._keep if isinstance(t, torch.Tensor) and t.dtype == torch.uint8]
    # 21 values live only inside the chain; at most two are alive at once (a block's input is its residual)
    assert len(buffers) <= 3


def test_an_input_unlike_the_traced_one_runs_the_steps_one_by_one():
    _, model = _pointwise_net()
    engine = jiasu.Engine(model, conv_algorithm="auto")
    feeds = jiasu.example_feeds(model, batch=2)
    (chain,) = engine._forward_for(engine._arguments(engine._check_feeds(feeds)))[0].chains
    assert chain.names == ["pool", "pw2", "gap", "flat", "fc"]  # pw1 copies the NCHW input to channels_last first: not a chain's
    (shape, stride, _), = chain._meta_in
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    traced = x.contiguous(memory_format=torch.channels_last)
    assert traced.stride() == stride and x.stride() != stride  # the same shape, other strides
    calls = []
    fallback = chain.fallback
    chain.fallback = lambda *v: calls.append(1) or fallback(*v)
    want = chain(traced)
    assert calls == []
    got = chain(x)
    assert calls == [1]
    assert torch.allclose(got[0], want[0], rtol=1e-5, atol=1e-6)


def test_chains_can_be_turned_off():
    original, model = _pointwise_net()
    engine = jiasu.Engine(model, conv_algorithm="auto", native_chains=False)
    feeds = jiasu.example_feeds(model, batch=1)
    assert engine.chains(feeds) == []
    ref = run_onnxruntime(original, feeds)
    assert relative_l2(engine.run_numpy(feeds)["y"], ref["y"]) < 1e-4


def test_each_thread_gets_its_own_chain():
    from concurrent.futures import ThreadPoolExecutor

    model = _optimized("mobilenet_v2")
    engine = jiasu.Engine(model, conv_algorithm="auto")
    feeds = [jiasu.example_feeds(model, batch=1, seed=s) for s in range(4)]
    want = [_stepwise(engine, f)["output"] for f in feeds]
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda f: engine.run(f)["output"], feeds * 3))
    assert all(torch.equal(g, want[i % 4]) for i, g in enumerate(got))


def test_a_failing_c_call_names_its_node():
    """A kernel that returns non-zero stops the chain with an error naming that kernel's node (not a view's)."""
    import ctypes

    from jiasu.errors import JiasuError
    from jiasu.kernels.native.call import Arg
    from jiasu.kernels.ops.concat import _library as concat_library

    _, model = _pointwise_net()
    engine = jiasu.Engine(model, conv_algorithm="auto")
    feeds = jiasu.example_feeds(model, batch=1)
    (chain,) = engine._forward_for(engine._arguments(engine._check_feeds(feeds)))[0].chains
    assert chain.names == ["pool", "pw2", "gap", "flat", "fc"]  # flat is a view: four C calls
    refusing = (Arg * 20)()  # concat with k = 0 inputs returns -1
    chain._keep.append(refusing)
    chain._steps[3].fn = ctypes.cast(concat_library().jiasu_concat_channels_entry, ctypes.c_void_p).value
    chain._steps[3].args = ctypes.cast(refusing, ctypes.POINTER(Arg))
    with pytest.raises(JiasuError, match=r"^node 'fc': its C kernel could not allocate its buffers$"):
        engine.run(feeds)


def test_chain_times_lists_every_c_call_in_run_order():
    """Engine.chain_times: each C call of the chains, in order, timed in C during whole runs; nothing without chains."""
    model = _optimized("mobilenet_v2")
    engine = jiasu.Engine(model, conv_algorithm="auto")
    feeds = jiasu.example_feeds(model, batch=1)
    rows = engine.chain_times(feeds, repeats=3)
    views = {s.kernel.node.name for s in engine.steps if s.kernel.node.op_type == "Flatten"}  # a view makes no call
    assert [r["node"] for r in rows] == [s.kernel.node.name for s in engine.steps if s.kernel.node.name not in views]
    assert [r["op"] for r in rows][:2] == ["FusedConv", "InvertedResidual"] and rows[-1]["op"] == "Gemm"
    assert all(0 < r["ms"] < 1e3 for r in rows)
    forward, _ = engine._forward_for(engine._arguments(engine._check_feeds(feeds)))
    assert all(c.times is None for c in forward.chains)  # timing is off again for ordinary runs
    assert forward.only_chains  # so run() skips torch.inference_mode()
    assert torch.equal(engine.run(feeds)["output"], _stepwise(engine, feeds)["output"])
    off = jiasu.Engine(model, conv_algorithm="auto", native_chains=False)
    assert off.chain_times(feeds) == []


def test_a_python_step_keeps_the_inference_mode():
    """A step with no C call (a Sigmoid after the classifier) runs in Python after the chain: the forward is not only
    chains, and runs under torch.inference_mode()."""
    original, model = _pointwise_net()
    graph = model.graph
    y = graph.outputs[0]
    sigmoid = ir.node("Sigmoid", [y], name="sig")
    graph.append(sigmoid)
    sigmoid.outputs[0].name, sigmoid.outputs[0].shape, sigmoid.outputs[0].type = "s", y.shape, y.type
    graph.outputs[0] = sigmoid.outputs[0]
    engine = jiasu.Engine(model, conv_algorithm="auto")
    feeds = jiasu.example_feeds(model, batch=2)
    forward, _ = engine._forward_for(engine._arguments(engine._check_feeds(feeds)))
    assert forward.chains and not forward.only_chains
    ref = run_onnxruntime(original, feeds)["y"]
    assert relative_l2(engine.run_numpy(feeds)["s"], 1 / (1 + np.exp(-ref))) < 1e-4


def test_smallcnn_runs_as_one_chain_to_its_softmax():
    """At batch 1 its last conv's channels_last output is flattened in C, its classifier is two C products of one row,
    and its softmax runs in C: one chain, every step."""
    model = _optimized("smallcnn")
    engine = jiasu.Engine(model, conv_algorithm="auto")
    feeds = jiasu.example_feeds(model, batch=1)
    assert [len(c) for c in engine.chains(feeds)] == [len(engine.steps)]
    assert [engine.steps[-1].kernel.node.op_type, engine.steps[-4].kernel.node.op_type] == ["Softmax", "Flatten"]
    ours, steps = engine.run(feeds), _stepwise(engine, feeds)
    assert all(torch.equal(ours[k], steps[k]) for k in steps)
    ref = run_onnxruntime(_models("smallcnn")[0], feeds)
    assert all(relative_l2(ours[k].numpy(), ref[k]) < 1e-4 for k in ref)


def test_run_numpy_goes_straight_to_a_whole_model_chain():
    """A model that is one chain from its input to its outputs: run_numpy calls the chain on the feed's memory and
    returns new arrays on every run, the same floats as the steps one by one; feeds unlike the last ones (another
    batch, bad shapes, dtypes or names) take the long way, with its checks and its errors."""
    from jiasu.errors import InputError

    model = _optimized("mobilenet_v2")
    engine = jiasu.Engine(model, conv_algorithm="auto")
    a, b, two = ({k: np.asarray(v) for k, v in jiasu.example_feeds(model, batch=n, seed=s).items()} for n, s in ((1, 1), (1, 2), (2, 3)))
    first = engine.run_numpy(a)["output"]
    shortcut, taken = engine._fast, []
    assert callable(shortcut)
    engine._fast = lambda feeds: taken.append(shortcut(feeds)) or taken[-1]
    second = engine.run_numpy(a)["output"]
    kept = second.copy()
    third = engine.run_numpy(b)["output"]
    assert len(taken) == 2 and all(t is not None for t in taken)
    assert np.array_equal(first, second) and second is not first
    assert np.array_equal(second, kept), "the next run overwrote a returned output"
    assert np.array_equal(third, _stepwise(engine, b)["output"].numpy())
    for bad, message in (
        ({"input": a["input"][:, :2]}, "input 'input' has shape (1, 2, 64, 64), but the model expects (batch, 3, 64, 64): dim 1 must be 3, got 2"),
        ({"input": a["input"].astype(np.float64)}, "input 'input' has dtype float64, but the model expects float32; convert it first (e.g. x.astype(np.float32))"),
        ({"input": a["input"], "extra": a["input"]}, "unknown input 'extra'; the model's inputs are: input"),
    ):
        with pytest.raises(InputError) as e:
            engine.run_numpy(bad)
        assert str(e.value) == message
    assert taken[-1] is None
    engine._fast = shortcut
    assert np.array_equal(engine.run_numpy(two)["output"], _stepwise(engine, two)["output"].numpy())  # a new batch: a new chain
    assert engine._fast is not shortcut and callable(engine._fast)
    assert np.array_equal(engine.run_numpy(b)["output"], third)


def test_run_numpy_from_several_threads():
    from concurrent.futures import ThreadPoolExecutor

    model = _optimized("smallcnn")
    engine = jiasu.Engine(model, conv_algorithm="auto")
    feeds = [{k: np.asarray(v) for k, v in jiasu.example_feeds(model, batch=1, seed=s).items()} for s in range(4)]
    want = [{k: v.numpy() for k, v in _stepwise(engine, f).items()} for f in feeds]
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(engine.run_numpy, feeds * 5))
    assert all(np.array_equal(g[k], want[i % 4][k]) for i, g in enumerate(got) for k in want[0])

import numpy as np
import onnx
import pytest
import torch

import jiasu
from jiasu.errors import JiasuError, ModelLoadError
from jiasu.frontends import load, parse_zoo_name


def test_load_onnx_file_bytes_and_proto_agree(tmp_path, conv_relu_model):
    path = tmp_path / "m.onnx"
    onnx.save(conv_relu_model, path)
    for source in (path, str(path), path.read_bytes(), conv_relu_model):
        model = load(source)
        assert [n.op_type for n in model.graph] == ["Conv", "Relu"]
        assert model.opset_imports[""] == 17


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError) as e:
        load(tmp_path / "nope.onnx")
    assert str(e.value) == (
        f"model file not found: {tmp_path / 'nope.onnx'} (give an .onnx path, a zoo name like zoo:resnet18, or see `jiasu zoo`)"
    )


def test_truncated_file(tmp_path, conv_relu_model):
    path = tmp_path / "cut.onnx"
    data = conv_relu_model.SerializeToString()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError) as e:
        load(path)
    msg = str(e.value)
    assert msg.startswith(f"{path} is not a valid ONNX model (protobuf decode failed: ")
    assert msg.endswith("the file is truncated or corrupt — re-export it")


def test_corrupt_file_that_is_not_protobuf(tmp_path):
    path = tmp_path / "text.onnx"
    path.write_text("this is not a model\n")
    with pytest.raises(ModelLoadError) as e:
        load(path)
    assert "is not a valid ONNX model" in str(e.value) and str(e.value).startswith(str(path))


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="is empty: not an ONNX model$"):
        load(path)


def test_invalid_graph_fails_checker(conv_relu_model):
    conv_relu_model.graph.node[1].input[0] = "does_not_exist"
    with pytest.raises(ModelLoadError, match=r"^the given ModelProto failed ONNX validation: "):
        load(conv_relu_model)


def test_torch_module_round_trip_has_dynamic_batch():
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))
    model = load(module, example_input=torch.randn(1, 3, 8, 8))
    (inp,) = model.graph.inputs
    assert str(inp.shape[0]) == "batch" and list(inp.shape)[1:] == [3, 8, 8]
    x = torch.randn(3, 3, 8, 8)
    out = jiasu.Engine(model).run({"input": x})["output"]
    torch.testing.assert_close(out, module(x), rtol=1e-5, atol=1e-5)


def test_torch_module_needs_example_input():
    with pytest.raises(JiasuError, match=r"^loading a torch.nn.Module needs an example input"):
        load(torch.nn.ReLU())


def test_unknown_source_type():
    with pytest.raises(JiasuError, match=r"^cannot load a model from int; give an .onnx path"):
        load(42)


def test_zoo_name_options_parse():
    assert parse_zoo_name("zoo:smallcnn?image_size=28&num_classes=10") == ("smallcnn", {"image_size": 28, "num_classes": 10})
    assert parse_zoo_name("zoo:unet?upsample=resize") == ("unet", {"upsample": "resize"})
    assert parse_zoo_name("zoo:resnet18") == ("resnet18", {})


def test_example_feeds_respect_embedding_bounds():
    emb = torch.nn.Embedding(7, 4)
    model = load(emb, example_input=torch.zeros(1, 5, dtype=torch.int64))
    feeds = jiasu.example_feeds(model, batch=3, seed=1)
    (x,) = feeds.values()
    assert x.shape == (3, 5) and x.dtype == np.int64 and x.min() >= 0 and x.max() < 7

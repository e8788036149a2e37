"""A lead for issue #9: fold smallcnn's first max pool into the conv before it ("pool phases"), measured on OpenVINO INT8.

    python benchmarks/smallcnn_pool_phases.py

conv1 (k x k, stride 1) -> ReLU -> MaxPool 2x2/2 equals one stride-2 conv with 4*C output channels, whose
(k+1) x (k+1) kernels are conv1's placed at the 4 offsets of the pooling window, then the maximum over the 4
phase groups, then ReLU (ReLU and max commute). It computes only the pooled outputs (13x13 instead of 26x26)
and gives the engine a wider first conv, at 64/49 of the MACs per pooled output per phase. Modes: ``reduce``
takes the maximum by Reshape + ReduceMax, ``max`` by three elementwise Max of channel slices. Each variant of
the bundled smallcnn (channels removed by L1, not retrained: speed only) is quantized by jiasu's static INT8
writer and timed on OpenVINO (f32 hint, 2 threads, batch 64, 7 interleaved rounds, best round) against ONNX
Runtime's stock ``quantize_static`` model on OpenVINO, the fastest peer default at this batch. Not in the
recipe space yet.
"""
import copy

import openvino as ov
import torch
from torch import nn
from jiasu.bench.timing import interleaved
from jiasu.compress import quantize as q
from jiasu.compress.prune import prune_channels
from jiasu.data.fashion_mnist import load_subset
from jiasu.frontends import export_module, load_onnx
from jiasu.recommend.build import load_source, serialize
from jiasu.recommend.peers import stock_int8
CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 2}
RATIOS = (0.0, 0.5, 0.55, 0.6, 0.65, 0.7)

class Poly(nn.Module):
    """conv1 (k, pad, stride 1) -> relu -> maxpool 2: one stride-2 conv with 4 phase kernels, max over phases, relu."""
    def __init__(self, conv, mode):
        super().__init__()
        C, Cin, k, _ = conv.weight.shape; self.C = C; self.mode = mode
        w = torch.zeros(4, C, Cin, k + 1, k + 1)
        for ph, (di, dj) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            w[ph, :, :, di:di + k, dj:dj + k] = conv.weight.data
        self.conv = nn.Conv2d(Cin, 4 * C, k + 1, stride=2, padding=conv.padding)
        self.conv.weight.data = w.reshape(4 * C, Cin, k + 1, k + 1)
        self.conv.bias.data = conv.bias.data.repeat(4)
    def forward(self, x):
        y = self.conv(x)
        C = self.C
        if self.mode == "reduce":
            n, _, h, w = y.shape
            y = y.reshape(n, 4, C, h, w).amax(1)
        else:
            y = torch.maximum(torch.maximum(y[:, :C], y[:, C:2*C]), torch.maximum(y[:, 2*C:3*C], y[:, 3*C:]))
        return torch.relu(y)

def polyphase(m, mode):
    m = copy.deepcopy(m)
    m.conv1 = Poly(m.conv1, mode); m.relu1 = nn.Identity(); m.pool1 = nn.Identity()
    return m

src = load_source("zoo:smallcnn?weights=fashion-mnist")
images = load_subset("train").images[:256].numpy()
B=64; x = images[:B]
core = ov.Core()
models = {"stock": stock_int8(src.onnx, images[:64])}
for ratio in RATIOS:
    m = copy.deepcopy(src.module)
    if ratio: prune_channels(m, src.example, ratio)
    m.eval()
    for mode in (None, "reduce", "max"):
        mm = polyphase(m, mode) if mode else m
        with torch.no_grad():
            err = (mm(torch.from_numpy(x)) - m(torch.from_numpy(x))).abs().max().item()
        onnx = export_module(mm.eval(), src.example)
        models[f"channels -{ratio:.0%}, conv1+pool1 as {mode or 'is'}, int8 (max |diff| {err:.1e})"] = serialize(q.quantize_static(load_onnx(onnx, check=False), images, method="minmax", limit=256).model)
fns = {}; live=[]
for k, v in models.items():
    mm = core.read_model(model=v, weights=b""); mm.reshape([B,1,28,28])
    c = core.compile_model(mm, "CPU", CONFIG); r = c.create_infer_request(); r.infer([x]); live.append((c,r))
    fns[k] = lambda r=r: r.infer([x])
s = interleaved(fns, rounds=7, block_s=0.2, settle_s=0.05)
st = min(s["stock"])
for k in fns: print(f"{k:40s} {min(s[k])/B*1e6:7.2f} us/img  {st/min(s[k]):.2f}x")

m = copy.deepcopy(src.module); prune_channels(m, src.example, 0.7); m.eval()
p = polyphase(m, "max").eval()
xx = torch.from_numpy(images[:64])
with torch.no_grad():
    a = m.pool1(m.relu1(m.conv1(xx))); b = p.conv1(xx)
print("pool1 output max abs diff", (a - b).abs().max().item(), "scale", a.abs().max().item())

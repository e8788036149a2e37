"""Structured pruning of the Fashion-MNIST smallcnn at 30% of channels, with and without ``round_to=8``, timed interleaved.

Needs the dense model that ``benchmarks/prune_fashion_mnist.py`` caches (``--dense``, default
``/tmp/jiasu_prune_cache/dense_e3.pt``). Prunes, retrains 1 epoch (Adam 5e-4, batch 128), evaluates on the 10,000
test images, then times dense and both pruned models in 3 interleaved rounds (our engine with ``direct`` convs and
ONNX Runtime, 1 thread, batch 1 and 64) so load changes on a shared machine hit all three alike.
Run: ``python benchmarks/prune_structured_round_to.py``; writes ``benchmarks/results/prune/structured_round_to.json``.
"""
import sys
import torch, copy, time, json, numpy as np, onnxruntime as ort
torch.set_num_threads(1)
import jiasu
from jiasu.compress.prune import prune_channels
from jiasu.data import fashion_mnist as fm
from jiasu.frontends import export_module
from jiasu.train import fit, evaluate
dense = torch.load(sys.argv[1] if len(sys.argv) > 1 else '/tmp/jiasu_prune_cache/dense_e3.pt', weights_only=False).eval()
train, test = fm.load('train'), fm.load('test')
models = {'dense': dense}
info = {}
for tag, rt in [('30%', None), ('30% round_to=8', 8)]:
    m = copy.deepcopy(dense)
    r = prune_channels(m, test.images[:1], 0.3, round_to=rt)
    fit(m.train(), train, None, epochs=1, batch_size=128, lr=5e-4, num_workers=1, progress=False)
    models[tag] = m.eval()
    info[tag] = dict(acc=evaluate(m, test).accuracy, macs=r.macs_after, macs_before=r.macs_before, params=r.params_after,
                     widths=[mm.out_channels for mm in m.modules() if isinstance(mm, torch.nn.Conv2d)] + [m.fc1.out_features])
    print(tag, info[tag], flush=True)
def med(fn, n):
    for _ in range(3): fn()
    ts=[]
    for _ in range(n):
        t=time.perf_counter(); fn(); ts.append(time.perf_counter()-t)
    return float(np.median(ts))*1e3
runners = {}
for tag, m in models.items():
    b = export_module(m, test.images[:1])
    eng = jiasu.Engine(jiasu.load(b), conv_algorithm='direct')
    so = ort.SessionOptions(); so.intra_op_num_threads=1; so.inter_op_num_threads=1
    runners[tag] = (eng, ort.InferenceSession(b, so, providers=['CPUExecutionProvider']))
times = {tag: {k: [] for k in ('ours_b1','ort_b1','ours_b64','ort_b64')} for tag in models}
for rnd in range(3):  # interleaved rounds: load changes hit every model alike
    for tag, (eng, sess) in runners.items():
        for bs in (1, 64):
            x = test.images[:bs]
            times[tag][f'ours_b{bs}'].append(med(lambda: eng.run({'input': x}), 30 if bs == 1 else 10) / bs)
            times[tag][f'ort_b{bs}'].append(med(lambda: sess.run(None, {'input': x.numpy()}), 30 if bs == 1 else 10) / bs)
out = {tag: {k: float(np.median(v)) for k, v in d.items()} for tag, d in times.items()}
print(json.dumps({'info': info, 'times': out}, indent=1))
json.dump({'info': info, 'times': out}, open(__import__('pathlib').Path(__file__).parent / 'results' / 'prune' / 'structured_round_to.json', 'w'), indent=1)

#!/usr/bin/env bash
# The GPU checks of issue #5's CUDA graphs, as one short run on a lent device machine (see /work/.library/device):
#
#   run(command="bash benchmarks/cuda_graph_device_check.sh", timeout_s=540)
#
# It uses the machine's own python3 (its torch sees the GPU) with jiasu from this checkout on PYTHONPATH, runs the
# tests that skip without CUDA, then benchmarks/cuda_graph.py. Everything it prints is also kept under $OUT
# (versions.txt, tests.log, bench.log, cuda_graph.jsonl, onnx_cuda.log). At most 8 minutes: the tests first, then
# the benchmark, then ONNX's node tests on CUDA (every one a graph captured and replayed), each under its own
# limit so that one stuck step still leaves the others' output.
set -u -o pipefail
OUT=${OUT:-/tmp/cuda_graph_check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 - <<'EOF' 2>&1 | tee "$OUT/versions.txt"
import platform, torch, onnx, onnxruntime, onnx_ir
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda,
      "available", torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else "")
print("onnx", onnx.__version__, "onnx_ir", onnx_ir.__version__, "onnxruntime", onnxruntime.__version__)
EOF
timeout 180 python3 -m pytest -q -p no:cacheprovider -o addopts="" -rs \
    tests/runtime/test_cuda_graph.py tests/backends/test_backends.py tests/runtime/test_engine.py -k "cuda or graph or device" \
    2>&1 | tee "$OUT/tests.log"
echo "tests exit: $?" | tee -a "$OUT/tests.log"
timeout 180 python3 benchmarks/cuda_graph.py --models smallcnn,mobilenet_v2,resnet18,resnet50 --batches 1,8,64 --seconds 2 \
    --out "$OUT/cuda_graph.jsonl" 2>&1 | tee "$OUT/bench.log"
echo "bench exit: $?" | tee -a "$OUT/bench.log"
timeout 100 python3 -m pytest -q -p no:cacheprovider -o addopts="" -n 8 -x tests/runtime/test_onnx_backend.py -k "_cuda" \
    2>&1 | tail -40 | tee "$OUT/onnx_cuda.log"
echo "onnx node tests on CUDA exit: $?" | tee -a "$OUT/onnx_cuda.log"

#!/bin/bash
# Issue #5's targets: jiasu FP32 vs the fastest peer (ONNX Runtime, OpenVINO f32, torch.compile), 2 threads,
# batch 1 and 8, every configuration in its own process (jiasu bench isolates by default), the timed runs in
# ROUNDS turns taken in rotation (bench --rounds), so the machine's slow spells fall on every backend alike.
#   bash benchmarks/engine_vs_peers.sh [REPEATS] [ROUNDS]   -> benchmarks/results/engine_vs_peers.jsonl
#   python benchmarks/backends_tables.py benchmarks/results/engine_vs_peers.jsonl   -> the tables in RESULTS.md
# jiasu configurations: the default (passes + heuristic: oneDNN everywhere), tuned (passes + every conv's
# algorithm chosen by measurement, Winograd included), tuned with the batch split over the cores (strategy=batch;
# it reports a failed run at batch 1, which cannot be split), and the pre-#5 baseline (no passes, F.conv2d).
set -e
repeats=${1:-20}
rounds=${2:-4}
store=benchmarks/results/engine_vs_peers.jsonl
for model in smallcnn resnet18 resnet50 mobilenet_v2 googlenet vgg16; do
  jiasu bench "zoo:$model" --backends jiasu,onnxruntime,openvino,torch-compile \
    --config 'jiasu:tune=true' --config 'jiasu:tune=true,strategy=batch' --config 'jiasu:passes=none,conv_algorithm=direct' \
    --batch 1,8 --threads 2 --repeats "$repeats" --rounds "$rounds" --warmup 3 --store "$store"
done

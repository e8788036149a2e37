"""Re-measure a `jiasu optimize` choice against every peer default at every thread count, in one run.

The optimizer compares its candidates with each engine as shipped (all cores). A fair question is
whether a peer given the thread count jiasu chose would close the gap; this script answers it. It
rebuilds the chosen model from ``OUTDIR/recipe.yaml`` (through the build cache, so in seconds), builds
the peer defaults for 1..cores threads, and times them all in interleaved rounds (best round kept),
printing a Markdown table.

Run: ``python benchmarks/optimize_recheck.py OUTDIR [--rounds 5] [--min-time 0.5]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.5)
    args = p.parse_args(argv)

    from jiasu.bench.environment import usable_cores
    from jiasu.data import train_and_validation
    from jiasu.recommend.build import Builder, load_source
    from jiasu.recommend.evaluate import Reference, get_scenario
    from jiasu.recommend.optimize import available
    from jiasu.recommend.peers import measure_final, peer_entries
    from jiasu.recommend.recipe import read_recipe

    result = json.loads((args.outdir / "result.json").read_text())
    recipe, doc = read_recipe(args.outdir / "recipe.yaml")
    source = load_source(doc["model"])
    train, val = train_and_validation(doc["data"], source.input_shape)
    val = val.take(result["validation_images"])
    reference = Reference.make(source.onnx, val.images.numpy(), val.labels.numpy())
    built = Builder(source, train, train, cache_dir=args.outdir / "cache").build(recipe)
    objective = get_scenario(result["scenario"])
    entries = []
    for threads in range(1, usable_cores() + 1):
        chosen = dataclasses.replace(recipe, threads=threads)
        entries.append({"label": f"chosen recipe, {threads} thread(s)", "kind": "candidate", "recipe": chosen, "onnx": built.onnx, "float_onnx": built.float_onnx})
        for e in peer_entries(source.onnx, train.images[:256].numpy(), threads, recipe.batch, available):
            e["label"] += f", {threads} thread(s)"
            entries.append(e)
    rows = measure_final(entries, reference, source.onnx, objective, rounds=args.rounds, min_time_s=args.min_time, progress=print)
    print(f"\n| entry | accuracy % | ms / image (batch {recipe.batch}) |\n|---|---:|---:|")
    for row in rows:
        ms = f"{row['per_image_ms']:.4f}" if row.get("per_image_ms") is not None else row.get("error")
        print(f"| {row['label']} | {row.get('accuracy', float('nan')):.2f} | {ms} |")
    return rows


if __name__ == "__main__":
    main()

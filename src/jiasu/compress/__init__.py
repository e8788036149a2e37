"""Compression: quantization (``compress.quantize``), pruning (``compress.prune``) and knowledge distillation (``compress.distill``)."""

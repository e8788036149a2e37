"""TextCNN (Kim, 2014) for sentence classification.

Token ids (N, seq_len) -> Embedding (N, seq_len, embed_dim) -> one Conv1d + ReLU
per kernel size over the sequence -> max over time -> concat -> dropout ->
Linear to num_classes logits.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..errors import JiasuError


class TextCNN(nn.Module):
    """``forward`` maps int64 token ids (N, L), L >= max(kernel_sizes), to (N, num_classes) logits."""

    def __init__(
        self, vocab_size: int, embed_dim: int, num_classes: int, kernel_sizes: Sequence[int], num_filters: int, dropout: float
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, num_filters, k) for k in kernel_sizes)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_filters * len(kernel_sizes), num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        x = self.embedding(tokens).transpose(1, 2)  # (N, embed_dim, L): channels first for Conv1d
        # amax over the time axis exports as one ReduceMax, for any sequence length.
        pooled = [torch.amax(self.relu(conv(x)), dim=2) for conv in self.convs]
        return self.fc(self.dropout(torch.cat(pooled, 1)))


def textcnn(
    vocab_size: int = 5000,
    embed_dim: int = 128,
    seq_len: int = 64,
    num_classes: int = 2,
    kernel_sizes: tuple[int, ...] = (3, 4, 5),
    num_filters: int = 100,
    dropout: float = 0.5,
) -> TextCNN:
    """Build TextCNN with PyTorch's default layer initialisation.

    Options:
        vocab_size: rows of the embedding table; token ids lie in [0, vocab_size) (5000).
        embed_dim: embedding width, the channels of the Conv1d layers (128).
        seq_len: tokens per example (64); must be >= the largest kernel size.
        num_classes: logits of the final Linear (2).
        kernel_sizes: one Conv1d per entry, each of that width ((3, 4, 5)).
        num_filters: output channels of each Conv1d (100).
        dropout: dropout probability before the Linear (0.5); the identity in eval mode.
    """
    kernel_sizes = tuple(int(k) for k in kernel_sizes)
    if not kernel_sizes or min(kernel_sizes) < 1:
        raise JiasuError(f"textcnn option kernel_sizes must be a non-empty list of positive ints, got {kernel_sizes}.")
    if seq_len < max(kernel_sizes):
        raise JiasuError(f"textcnn needs seq_len >= the largest kernel size ({max(kernel_sizes)}), got {seq_len}.")
    return TextCNN(vocab_size, embed_dim, num_classes, kernel_sizes, num_filters, dropout)

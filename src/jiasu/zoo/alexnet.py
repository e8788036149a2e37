"""AlexNet, layer for layer as ``torchvision.models.alexnet`` (61,100,840 parameters at 1000 classes).

The 6x6 adaptive average pool lets any image_size >= 63 run, and export: where
the legacy ONNX exporter cannot lower ``nn.AdaptiveAvgPool2d`` (conv5's map is
not a multiple of 6, i.e. image_size outside 223..254, 447..478, ...), the zoo's
subclass exports it as two MatMuls (see ``_layers.AdaptiveAvgPool2d``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import JiasuError
from ._layers import AdaptiveAvgPool2d

MIN_IMAGE_SIZE = 63  # the smallest input that leaves the last 3x3/2 max-pool a 3x3 map


class AlexNet(nn.Module):
    """``forward`` maps (N, in_channels, S, S) images to (N, num_classes) logits."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def alexnet(num_classes: int = 1000, image_size: int = 224, in_channels: int = 3, dropout: float = 0.5) -> AlexNet:
    """Build AlexNet with PyTorch's default layer initialisation (as torchvision does).

    Options:
        num_classes: logits of the last Linear (1000).
        image_size: side of the square input (224); must be >= 63. The network
            runs and exports at any such size.
        in_channels: input channels (3).
        dropout: dropout probability before the first two Linear layers (0.5);
            dropout is the identity in eval mode and vanishes from exports.
    """
    if image_size < MIN_IMAGE_SIZE:
        raise JiasuError(f"alexnet needs image_size >= {MIN_IMAGE_SIZE}, got {image_size}.")
    return AlexNet(num_classes, in_channels, dropout)

"""MobileNetV2, layer for layer as ``torchvision.models.mobilenet_v2``.

3,504,872 parameters at 1000 classes and width multiplier 1.0. Activations are
ReLU6; the last 1x1 conv widens to 1280 channels (never narrowed below it by
``width_mult``, as in torchvision). One deliberate difference: conv weights use
He init by fan-in rather than fan-out; see ``MobileNetV2.__init__``.
"""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

# Inverted residual settings: expansion t, output channels c, repeats n, first stride s.
SETTINGS = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
]


def make_divisible(value: float, divisor: int, min_value: Optional[int] = None) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` without going 10% below it (torchvision's rule)."""
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


class ConvBNReLU6(nn.Sequential):
    """Conv (no bias, 'same' padding for odd kernels) -> BatchNorm -> ReLU6; torchvision's Conv2dNormActivation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """1x1 expand (skipped when t = 1) -> 3x3 depthwise -> 1x1 linear projection; residual when shapes allow."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(inp, hidden_dim, kernel_size=1))
        layers += [
            ConvBNReLU6(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        # use_res_connect is fixed at construction, so export sees no data-dependent branch.
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """``forward`` maps (N, in_channels, S, S) images to (N, num_classes) logits."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        round_nearest = 8
        input_channel = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [ConvBNReLU6(in_channels, input_channel, stride=2)]
        for t, c, n, s in SETTINGS:
            output_channel = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel, s if i == 0 else 1, t))
                input_channel = output_channel
        features.append(ConvBNReLU6(input_channel, self.last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))

        # torchvision's initialisation, except that convs use He init by fan-in, not
        # fan-out: with fresh BatchNorm statistics (mean 0, var 1) fan-out scaling
        # shrinks the activations ~10x per block (logits ~1e-10 at the end), while
        # fan-in keeps them O(1), so untrained models still make meaningful
        # numerical tests. Depthwise convs have equal fan-in and fan-out anyway.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.flatten(self.avgpool(self.features(x))))


def mobilenet_v2(
    num_classes: int = 1000, image_size: int = 224, in_channels: int = 3, width_mult: float = 1.0, dropout: float = 0.2
) -> MobileNetV2:
    """Build MobileNetV2; He (fan-in) initialised convs, torchvision's init otherwise.

    Options:
        num_classes: logits of the final Linear (1000).
        image_size: side of the square input (224); global average pooling
            lets any size run and export.
        in_channels: input channels (3).
        width_mult: channel multiplier (1.0); channel counts are rounded to multiples of 8.
        dropout: dropout probability before the final Linear (0.2); the identity in eval mode.
    """
    return MobileNetV2(num_classes, in_channels, width_mult, dropout)

"""YOLOv3-tiny, following darknet's ``yolov3-tiny.cfg``.

Backbone: seven 3x3 conv-BN-LeakyReLU(0.1) layers (16, 32, ..., 1024 channels)
with 2x2 max-pools between them; the sixth pool has stride 1 and is preceded by
ZeroPad2d((0, 1, 0, 1)) so it keeps the 13x13 (stride-32) map, as in the common
PyTorch ports (darknet itself pads that pool with -inf; ``pool_pad="replicate"``
reproduces darknet exactly, see ``yolov3_tiny``). Heads:

* stride 32: 1x1 conv 256 (the "route" map) -> 3x3 conv 512 -> 1x1 conv to
  3 * (5 + num_classes) raw outputs;
* stride 16: route map -> 1x1 conv 128 -> nearest x2 upsample -> concat with the
  stride-16 backbone map (256 channels) -> 3x3 conv 256 -> 1x1 conv to
  3 * (5 + num_classes).

``forward`` returns the raw head tensors (no sigmoid, anchors or box decoding),
(N, 3 * (5 + num_classes), S/32, S/32) and (N, ..., S/16, S/16), as a tuple.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import JiasuError

ANCHORS_PER_SCALE = 3
POOL_PAD_CHOICES = ("zero", "replicate")


def conv_bn_leaky(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """Darknet's "convolutional" block with batch_normalize=1 and leaky activation; 'same' padding."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.1, inplace=True),
    )


class YOLOv3Tiny(nn.Module):
    """See the module docstring; ``forward`` returns (stride-32 output, stride-16 output)."""

    def __init__(self, num_classes: int = 80, in_channels: int = 3, pool_pad: str = "zero") -> None:
        super().__init__()
        outputs = ANCHORS_PER_SCALE * (5 + num_classes)
        # Layers 0-8 of the cfg: ends at the stride-16 map the second head concatenates.
        self.backbone16 = nn.Sequential(
            conv_bn_leaky(in_channels, 16, 3),
            nn.MaxPool2d(2, 2),
            conv_bn_leaky(16, 32, 3),
            nn.MaxPool2d(2, 2),
            conv_bn_leaky(32, 64, 3),
            nn.MaxPool2d(2, 2),
            conv_bn_leaky(64, 128, 3),
            nn.MaxPool2d(2, 2),
            conv_bn_leaky(128, 256, 3),
        )
        # Layers 9-13: down to stride 32; ends at the 256-channel route map.
        self.backbone32 = nn.Sequential(
            nn.MaxPool2d(2, 2),
            conv_bn_leaky(256, 512, 3),
            nn.ZeroPad2d((0, 1, 0, 1)) if pool_pad == "zero" else nn.ReplicationPad2d((0, 1, 0, 1)),
            nn.MaxPool2d(2, 1),
            conv_bn_leaky(512, 1024, 3),
            conv_bn_leaky(1024, 256, 1),
        )
        self.head32 = nn.Sequential(conv_bn_leaky(256, 512, 3), nn.Conv2d(512, outputs, 1))
        self.lateral = nn.Sequential(conv_bn_leaky(256, 128, 1), nn.Upsample(scale_factor=2, mode="nearest"))
        self.head16 = nn.Sequential(conv_bn_leaky(128 + 256, 256, 3), nn.Conv2d(256, outputs, 1))

        # He init for the leaky convs keeps activations O(1) with fresh BatchNorm
        # statistics; the two output convs keep PyTorch's default.
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.bias is None:
                nn.init.kaiming_normal_(m.weight, a=0.1, mode="fan_in", nonlinearity="leaky_relu")

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x16 = self.backbone16(x)
        route = self.backbone32(x16)
        out32 = self.head32(route)
        out16 = self.head16(torch.cat([self.lateral(route), x16], 1))
        return out32, out16


def yolov3_tiny(num_classes: int = 80, image_size: int = 416, in_channels: int = 3, pool_pad: str = "zero") -> YOLOv3Tiny:
    """Build YOLOv3-tiny (He-initialised conv-BN-leaky layers, PyTorch defaults elsewhere).

    Options:
        num_classes: object classes (80, COCO); each head has 3 * (5 + num_classes) channels.
        image_size: side of the square input (416); must be a multiple of 32 so
            the upsampled stride-32 map matches the stride-16 map it joins.
        in_channels: input channels (3).
        pool_pad: padding before the stride-1 max-pool: "zero" (default,
            ZeroPad2d, exported as Pad(constant 0) -> MaxPool) or "replicate"
            (ReplicationPad2d, exported as Pad(edge) -> MaxPool). A window that
            repeats its edge has the same max as one padded with -inf, so
            "replicate" matches darknet; "zero" differs where the right or bottom
            border holds only negative activations. onnxruntime (up to at least
            1.31) folds a zero Pad into the following MaxPool's pads, which pad
            with -inf, so it runs the "zero" graph as if it were "replicate";
            compare against it with its "Pad_Fusion" optimizer disabled.
    """
    if image_size % 32:
        raise JiasuError(f"yolov3_tiny needs image_size to be a multiple of 32, got {image_size}.")
    if pool_pad not in POOL_PAD_CHOICES:
        raise JiasuError(f"yolov3_tiny option pool_pad must be one of {', '.join(POOL_PAD_CHOICES)}; got {pool_pad!r}.")
    return YOLOv3Tiny(num_classes, in_channels, pool_pad)

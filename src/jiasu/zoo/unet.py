"""A small U-Net for semantic segmentation.

Encoder: three levels of (3x3 conv -> BN -> ReLU) x 2 followed by a 2x2 max-pool,
with base, 2x, 4x base channels; a bottleneck double conv at 8x base channels;
decoder: three levels that upsample by 2 (halving channels), concatenate the
encoder map of the same resolution, and double-conv back down; a 1x1 conv gives
per-pixel class logits (N, num_classes, S, S).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import JiasuError

UPSAMPLE_CHOICES = ("transpose", "resize")
RESIZE_MODES = ("bilinear", "nearest")


class DoubleConv(nn.Sequential):
    """(3x3 conv, no bias -> BatchNorm -> ReLU) twice; keeps the spatial size."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


def _upsampler(in_channels: int, out_channels: int, upsample: str, resize_mode: str) -> nn.Module:
    """Doubles the spatial size and maps in_channels to out_channels."""
    if upsample == "transpose":
        return nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
    # align_corners=False exports to ONNX Resize with half_pixel coordinates, which
    # every runtime implements the same way.
    align = False if resize_mode == "bilinear" else None
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode=resize_mode, align_corners=align),
        nn.Conv2d(in_channels, out_channels, kernel_size=1),
    )


class UNet(nn.Module):
    """``forward`` maps (N, in_channels, S, S) images, S a multiple of 8, to (N, num_classes, S, S) logits."""

    def __init__(self, in_channels: int, num_classes: int, base_channels: int, upsample: str, resize_mode: str) -> None:
        super().__init__()
        b = base_channels
        self.enc1 = DoubleConv(in_channels, b)
        self.enc2 = DoubleConv(b, 2 * b)
        self.enc3 = DoubleConv(2 * b, 4 * b)
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = DoubleConv(4 * b, 8 * b)
        self.up3 = _upsampler(8 * b, 4 * b, upsample, resize_mode)
        self.dec3 = DoubleConv(8 * b, 4 * b)
        self.up2 = _upsampler(4 * b, 2 * b, upsample, resize_mode)
        self.dec2 = DoubleConv(4 * b, 2 * b)
        self.up1 = _upsampler(2 * b, b, upsample, resize_mode)
        self.dec1 = DoubleConv(2 * b, b)
        self.head = nn.Conv2d(b, num_classes, kernel_size=1)

        # He init for the ReLU convs, so activations stay O(1) with fresh BatchNorm statistics.
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.bias is None:
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        s1 = self.enc1(x)
        s2 = self.enc2(self.pool(s1))
        s3 = self.enc3(self.pool(s2))
        x = self.bottleneck(self.pool(s3))
        x = self.dec3(torch.cat([self.up3(x), s3], 1))
        x = self.dec2(torch.cat([self.up2(x), s2], 1))
        x = self.dec1(torch.cat([self.up1(x), s1], 1))
        return self.head(x)


def unet(
    in_channels: int = 3,
    num_classes: int = 2,
    base_channels: int = 16,
    image_size: int = 128,
    upsample: str = "transpose",
    resize_mode: str = "bilinear",
) -> UNet:
    """Build the U-Net (He-initialised convs, PyTorch defaults elsewhere).

    Options:
        in_channels: input channels (3).
        num_classes: output channels, one logit map per class (2).
        base_channels: channels of the first level, doubled at each level down (16).
        image_size: side of the square input (128); must be a multiple of 8 so
            the three pools and three upsamplings line up for the skip concats.
        upsample: "transpose" (ConvTranspose2d 2x2 stride 2, default) or
            "resize" (nn.Upsample x2, then a 1x1 conv halving the channels).
        resize_mode: interpolation of "resize": "bilinear" (default) or "nearest".
    """
    if upsample not in UPSAMPLE_CHOICES:
        raise JiasuError(f"unet option upsample must be one of {', '.join(UPSAMPLE_CHOICES)}; got {upsample!r}.")
    if resize_mode not in RESIZE_MODES:
        raise JiasuError(f"unet option resize_mode must be one of {', '.join(RESIZE_MODES)}; got {resize_mode!r}.")
    if image_size % 8:
        raise JiasuError(f"unet needs image_size to be a multiple of 8 (three 2x2 pools), got {image_size}.")
    return UNet(in_channels, num_classes, base_channels, upsample, resize_mode)

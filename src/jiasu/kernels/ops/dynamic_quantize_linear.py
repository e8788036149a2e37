import torch

from ..base import Kernel


class DynamicQuantizeLinear(Kernel):
    """uint8 quantization with the range of this input (always including 0): y, y_scale, y_zero_point.

    scale = (max(x, 0) - min(x, 0)) / 255, zero_point = saturate(round(-min / scale)), as the ONNX spec says.
    """

    def run(self, x):
        x = x.to(torch.float32)
        lo = torch.clamp(x.min(), max=0.0) if x.numel() else torch.zeros(())
        hi = torch.clamp(x.max(), min=0.0) if x.numel() else torch.zeros(())
        scale = (hi - lo) / 255.0
        safe = torch.where(scale == 0, torch.ones_like(scale), scale)
        zp = torch.round(-lo / safe).clamp(0, 255)
        y = torch.round(x / safe).add_(zp).clamp_(0, 255).to(torch.uint8)
        return (y, scale.to(torch.float32), zp.to(torch.uint8))

import torch

from ..base import Kernel


class BitShift(Kernel):
    """Logical shifts of unsigned integers (direction LEFT or RIGHT)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        direction = self.attr("direction")
        if direction not in ("LEFT", "RIGHT"):
            from ...errors import UnsupportedOpError

            raise UnsupportedOpError(f"BitShift node {node.name!r}: direction must be LEFT or RIGHT, got {direction!r}")
        self.fn = torch.bitwise_left_shift if direction == "LEFT" else torch.bitwise_right_shift

    def run(self, x, y):
        return (self.fn(x, y),)

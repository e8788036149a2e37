"""The Nature DQN network (Mnih et al., 2015) for Atari.

A stack of frames (N, 4, 84, 84) -> conv 32@8x8/4 -> ReLU -> conv 64@4x4/2 ->
ReLU -> conv 64@3x3/1 -> ReLU -> flatten -> Linear 512 -> ReLU -> Linear to one
Q-value per action. 1,693,362 parameters with the full 18-action set.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import JiasuError

# (out_channels, kernel, stride) of the three convs; none is padded.
_CONVS = ((32, 8, 4), (64, 4, 2), (64, 3, 1))


def _feature_side(image_size: int) -> int:
    """Side of the last conv's output map for a square input; < 1 if the input is too small."""
    side = image_size
    for _, kernel, stride in _CONVS:
        if side < kernel:
            return 0
        side = (side - kernel) // stride + 1
    return side


class DQN(nn.Module):
    """``forward`` maps (N, in_channels, S, S) frame stacks to (N, num_actions) Q-values."""

    def __init__(self, num_actions: int, in_channels: int, image_size: int) -> None:
        super().__init__()
        side = _feature_side(image_size)
        if side < 1:
            smallest = next(s for s in range(1, 10_000) if _feature_side(s) >= 1)
            raise JiasuError(f"dqn needs image_size >= {smallest}, got {image_size}.")
        layers: list[nn.Module] = []
        channels = in_channels
        for out_channels, kernel, stride in _CONVS:
            layers += [nn.Conv2d(channels, out_channels, kernel, stride), nn.ReLU()]
            channels = out_channels
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * side * side, 512),
            nn.ReLU(),
            nn.Linear(512, num_actions),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def dqn(num_actions: int = 18, in_channels: int = 4, image_size: int = 84) -> DQN:
    """Build the Nature DQN network with PyTorch's default layer initialisation.

    Options:
        num_actions: Q-values out, one per action (18, Atari's full action set).
        in_channels: stacked frames (4).
        image_size: side of the square frames (84); the first Linear's input
            size follows from it (64 * 7 * 7 = 3136 at 84). Must be >= 36.
    """
    return DQN(num_actions, in_channels, image_size)

"""SmallCNN: the Raspberry Pi benchmark network.

conv1 16@7x7 -> ReLU -> maxpool 2x2 -> conv2 48@6x6 -> ReLU -> maxpool 3x3 ->
conv3 96@5x5 -> ReLU -> flatten -> fc1 128 -> ReLU -> fc2 num_classes -> Softmax.
Convolutions have stride 1 and (by default) no padding; pools have stride equal
to their size. On the reference input (1x88x88 grayscale, 848 classes) it has
exactly 1,039,744 parameters.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import JiasuError

# (kernel, pool) of the three conv stages; a pool of 1 means no pool after the conv.
_STAGES = ((7, 2), (6, 3), (5, 1))


def _feature_side(image_size: int, padding: int) -> int:
    """Side of conv3's output map for a square input, or 0 if some stage runs out of pixels."""
    side = image_size
    for kernel, pool in _STAGES:
        side = side + 2 * padding - kernel + 1
        if side < pool:  # also catches side < 1 after the conv
            return 0
        side //= pool
    return side


class SmallCNN(nn.Module):
    """See the module docstring; ``forward`` maps (N, C, S, S) images to (N, num_classes) probabilities."""

    def __init__(self, num_classes: int, in_channels: int, image_size: int, padding: int) -> None:
        super().__init__()
        side = _feature_side(image_size, padding)
        if side < 1:
            smallest = next(s for s in range(1, 10_000) if _feature_side(s, padding) >= 1)
            raise JiasuError(
                f"smallcnn needs image_size >= {smallest} with padding={padding}, got {image_size}; "
                "use a larger image_size, or padding=2 for small images such as 28x28 Fashion-MNIST."
            )
        self.conv1 = nn.Conv2d(in_channels, 16, 7, padding=padding)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 48, 6, padding=padding)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(3)
        self.conv3 = nn.Conv2d(48, 96, 5, padding=padding)
        self.relu3 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(96 * side * side, 128)
        self.relu4 = nn.ReLU()
        self.fc2 = nn.Linear(128, num_classes)
        # A layer rather than a functional call, so the exported graph ends in a Softmax node.
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.flatten(self.relu3(self.conv3(x)))
        x = self.relu4(self.fc1(x))
        return self.softmax(self.fc2(x))


def smallcnn(num_classes: int = 848, in_channels: int = 1, image_size: int = 88, padding: int = 0) -> SmallCNN:
    """Build SmallCNN with PyTorch's default layer initialisation.

    Options:
        num_classes: outputs of fc2 (848, the benchmark's class count).
        in_channels: input channels (1, grayscale).
        image_size: side of the square input; fc1's input size follows from it
            (96 * side**2, where side is conv3's output side). The default
            network needs image_size >= 46.
        padding: zero padding of every conv (0 as in the benchmark). Not part of
            the reference design: padding=2 lets 28x28 inputs (Fashion-MNIST)
            through all three stages.
    """
    return SmallCNN(num_classes, in_channels, image_size, padding)

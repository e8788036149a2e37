"""Training-time augmentation: random shifted crops and horizontal flips of an image dataset.

Used to train teachers (``benchmarks/train_pretrained.py --augment``): a network that sees each image
at a slightly different place every epoch generalises better, which is what makes it worth distilling
from. Validation and test data are never augmented.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


class RandomCropFlip(Dataset):
    """``dataset[i]`` shifted by up to ``padding`` pixels each way and mirrored left-right with probability 1/2.

    The shift pads the image by ``padding`` pixels, repeating its border (the background of centred
    images such as Fashion-MNIST's, whatever normalisation came before), and crops the original size
    at a random offset. Randomness comes from torch's global generator, so a DataLoader's per-worker
    seeding (and ``jiasu.train.fit``'s ``seed``) makes a run repeatable.
    """

    def __init__(self, dataset: Dataset, padding: int = 2, flip: bool = True) -> None:
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.dataset, self.padding, self.flip = dataset, padding, flip

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i):
        image, label = self.dataset[i]
        p = self.padding
        if p:
            h, w = image.shape[-2:]
            padded = F.pad(image, (p, p, p, p), mode="replicate")
            dy, dx = torch.randint(0, 2 * p + 1, (2,)).tolist()
            image = padded[..., dy : dy + h, dx : dx + w]
        if self.flip and torch.rand(()) < 0.5:
            image = image.flip(-1)
        return image, label

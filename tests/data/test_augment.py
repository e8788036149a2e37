"""RandomCropFlip: each sample is a shifted crop of the border-padded image, maybe mirrored; repeatable by seed."""

from __future__ import annotations

import pytest
import torch

from jiasu.data.arrays import ArrayDataset
from jiasu.data.augment import RandomCropFlip


def _data() -> ArrayDataset:
    images = torch.arange(2 * 1 * 5 * 5, dtype=torch.float32).reshape(2, 1, 5, 5)
    return ArrayDataset(images, torch.tensor([3, 7]))


def _candidates(image: torch.Tensor, p: int) -> list[torch.Tensor]:
    """Every output RandomCropFlip may give for ``image``: each offset of the replicate-padded image, each way round."""
    padded = torch.nn.functional.pad(image[None], (p, p, p, p), mode="replicate")[0]
    h, w = image.shape[-2:]
    crops = [padded[..., y : y + h, x : x + w] for y in range(2 * p + 1) for x in range(2 * p + 1)]
    return crops + [c.flip(-1) for c in crops]


def test_samples_are_shifted_crops_or_their_mirror_images():
    data = _data()
    aug = RandomCropFlip(data, padding=2)
    torch.manual_seed(0)
    seen = set()
    for _ in range(200):
        image, label = aug[1]
        assert label.item() == 7 and image.shape == (1, 5, 5)
        matches = [i for i, c in enumerate(_candidates(data.images[1], 2)) if torch.equal(c, image)]
        assert matches, image
        seen.add(matches[0])
    assert len(seen) > 25  # of 50 possible (some coincide at the border): the shifts and flips do vary


def test_padding_zero_without_flip_is_the_identity_and_a_seed_repeats():
    data = _data()
    assert torch.equal(RandomCropFlip(data, padding=0, flip=False)[0][0], data.images[0])
    aug = RandomCropFlip(data, padding=1)
    torch.manual_seed(3)
    first = [aug[0][0] for _ in range(10)]
    torch.manual_seed(3)
    assert all(torch.equal(a, aug[0][0]) for a in first)
    assert len(aug) == 2
    with pytest.raises(ValueError, match="padding must be >= 0, got -1"):
        RandomCropFlip(data, padding=-1)

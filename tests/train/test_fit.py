"""fit / evaluate: real training on the bundled Fashion-MNIST subset, resume, and the loss hook."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from jiasu import zoo
from jiasu.data import ArrayDataset
from jiasu.data import fashion_mnist as fm
from jiasu.errors import JiasuError
from jiasu.train import ends_in_softmax, evaluate, fit, load_checkpoint


def small_data(n=256):
    return fm.load_subset("train").take(n)


def linear():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def test_smallcnn_learns_fashion_mnist_subset():
    # One epoch over the 2,000 bundled training images (batch 32, Adam 2e-3): about 73% on the 1,000
    # bundled test images (0.732 measured); 70% is the bar, chance is 10%. In the main process: with a
    # DataLoader worker process this test lost its whole pytest worker ("node down") in 7 of 15 runs of
    # the suite on 2026-12-01 (a Zen 5 KVM host), before and after that day's changes alike; it never
    # failed alone. Worker processes are tested below.
    model = zoo.get("smallcnn", num_classes=10, image_size=28, padding=2).train()
    history = fit(model, fm.load_subset("train"), fm.load_subset("test"), epochs=1, batch_size=32, lr=2e-3, progress=False, num_workers=0)
    assert len(history) == 1 and history[0].val_accuracy >= 0.70
    result = evaluate(model, fm.load_subset("test"))
    assert result.accuracy == history[0].val_accuracy and result.count == 1000


def test_evaluate_matches_a_hand_computation():
    model, data = linear(), small_data(100)
    result = evaluate(model, data, batch_size=7)
    with torch.no_grad():
        logits = model(data.images)
    assert result.accuracy == pytest.approx(int((logits.argmax(1) == data.labels).sum()) / 100, abs=1e-12)
    assert result.loss == pytest.approx(float(nn.functional.cross_entropy(logits, data.labels)), rel=1e-5)


def test_softmax_outputs_are_read_as_probabilities():
    with_softmax = zoo.get("smallcnn", num_classes=10, image_size=28, padding=2)
    assert ends_in_softmax(with_softmax) and not ends_in_softmax(linear())
    # Its loss is the cross-entropy of the logits before the softmax.
    data = small_data(16)
    logits_model = copy.deepcopy(with_softmax)
    logits_model.softmax = nn.Identity()
    with torch.no_grad():
        logits = logits_model(data.images)
    expected = float(nn.functional.cross_entropy(logits, data.labels))
    assert evaluate(with_softmax, data).loss == pytest.approx(expected, rel=1e-4)


def test_resume_continues_exactly_where_it_stopped(tmp_path):
    data = small_data()
    straight = linear()
    fit(straight, data, epochs=2, lr=1e-2, batch_size=32, progress=False, num_workers=0, seed=5)
    ckpt = tmp_path / "run.ckpt"
    first = linear()
    fit(first, data, epochs=1, lr=1e-2, batch_size=32, progress=False, num_workers=0, seed=5, checkpoint=ckpt)
    assert load_checkpoint(ckpt)["epoch"] == 1
    resumed = linear()  # a fresh process would start from scratch weights; the checkpoint overrides them
    history = fit(resumed, data, epochs=2, lr=1e-2, batch_size=32, progress=False, num_workers=0, seed=5, checkpoint=ckpt, resume=True)
    assert [r.epoch for r in history] == [1, 2]
    for a, b in zip(straight.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_workers_give_the_same_result_as_the_main_process():
    data = small_data(128)
    a, b = linear(), linear()
    fit(a, data, epochs=1, batch_size=32, progress=False, num_workers=0, seed=1)
    fit(b, data, epochs=1, batch_size=32, progress=False, num_workers=2, seed=1)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_loss_hook_receives_log_probs_labels_and_images():
    seen = []

    def hook(log_p, labels, images):
        seen.append((log_p.shape, labels.shape, images.shape, float(log_p.detach().exp().sum(1).mean())))
        return nn.functional.nll_loss(log_p, labels)

    fit(linear(), small_data(64), epochs=1, batch_size=32, progress=False, num_workers=0, loss_fn=hook)
    assert [s[:3] for s in seen] == [((32, 10), (32,), (32, 1, 28, 28))] * 2
    assert all(abs(s[3] - 1) < 1e-5 for s in seen)


def test_a_corrupt_checkpoint_is_a_clear_error(tmp_path):
    ckpt = tmp_path / "bad.ckpt"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(JiasuError, match=r"^cannot read checkpoint .*bad\.ckpt \(.*\); delete it to start over$"):
        fit(linear(), small_data(8), epochs=1, progress=False, checkpoint=ckpt, resume=True)


def test_a_checkpoint_of_another_model_is_a_clear_error(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    fit(linear(), small_data(8), epochs=1, progress=False, num_workers=0, checkpoint=ckpt)
    other = nn.Sequential(nn.Flatten(), nn.Linear(784, 5))
    with pytest.raises(JiasuError, match=r"was saved from a different model \(.*\); use another checkpoint path$"):
        fit(other, small_data(8), epochs=2, progress=False, checkpoint=ckpt, resume=True)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"optimizer": "lamb"}, "unknown optimizer 'lamb'; choose one of adam, sgd"),
        ({"schedule": "step"}, "unknown schedule 'step'; choose one of constant, cosine"),
        ({"epochs": -1}, "epochs must be >= 0, got -1"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(JiasuError) as e:
        fit(linear(), small_data(8), progress=False, **kwargs)
    assert str(e.value) == message


def test_divergence_is_reported():
    data = ArrayDataset(torch.full((4, 1, 28, 28), float("nan")), torch.zeros(4, dtype=torch.long))
    with pytest.raises(JiasuError) as e:
        fit(linear(), data, epochs=1, progress=False, num_workers=0, lr=0.5)
    assert str(e.value) == "training diverged: loss is nan at epoch 1, step 1; lower the learning rate (now 0.5)"

"""Distillation: the loss against a hand computation, and a student that learns from its teacher."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from jiasu import zoo
from jiasu.compress.distill import DistillationLoss, distill
from jiasu.data import fashion_mnist as fm
from jiasu.errors import JiasuError
from jiasu.train import evaluate, fit


pytestmark = pytest.mark.usefixtures("one_thread")


def test_loss_matches_the_formula():
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    images, labels = torch.randn(5, 1, 2, 2), torch.tensor([0, 1, 2, 1, 0])
    student = torch.log_softmax(torch.randn(5, 3), 1)
    with torch.no_grad():
        t_logits = teacher(images)
    T, a = 3.0, 0.6
    p_t = torch.softmax(t_logits / T, 1)
    p_s = torch.softmax(student / T, 1)
    kl = (p_t * (p_t.log() - p_s.log())).sum(1).mean() * T * T
    expected = a * kl + (1 - a) * F.cross_entropy(student, labels)
    got = DistillationLoss(teacher, temperature=T, alpha=a)(student, labels, images)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    hard_teacher = DistillationLoss(teacher, temperature=T, alpha=a, hard="teacher")(student, labels, images)
    torch.testing.assert_close(hard_teacher, a * kl + (1 - a) * F.cross_entropy(student, t_logits.argmax(1)), rtol=1e-5, atol=1e-6)
    assert float(DistillationLoss(teacher, alpha=1.0)(F.log_softmax(t_logits, 1), labels, images)) == pytest.approx(0.0, abs=1e-6)


def test_student_learns_from_teacher_without_labels():
    # The teacher (smallcnn, 1 epoch on the bundled subset) labels nothing explicitly: the student sees
    # shuffled-away labels (all 0) and still learns the task from soft targets and the teacher's argmax.
    train, test = fm.load_subset("train"), fm.load_subset("test")
    teacher = zoo.get("smallcnn", num_classes=10, image_size=28, padding=2).train()
    fit(teacher, train, epochs=1, batch_size=32, lr=2e-3, progress=False, num_workers=0)
    teacher_acc = evaluate(teacher, test).accuracy
    unlabelled = type(train)(train.images, torch.zeros_like(train.labels))
    torch.manual_seed(1)
    student = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    distill(teacher, student, unlabelled, epochs=2, hard="teacher", batch_size=32, lr=2e-3, progress=False, num_workers=0)
    student_acc = evaluate(student, test).accuracy
    assert teacher_acc > 0.65 and student_acc > 0.6  # chance is 0.1; labels were all 0
    assert all(p.requires_grad for p in teacher.parameters())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": 0}, "temperature must be > 0, got 0"),
        ({"alpha": 1.5}, "alpha must be in [0, 1], got 1.5"),
        ({"hard": "soft"}, "unknown hard targets 'soft'; choose one of labels, teacher"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(JiasuError) as e:
        DistillationLoss(nn.Linear(2, 2), **kwargs)
    assert str(e.value) == message

import pytest

from jiasu import backends

from .fakes import FAKES


@pytest.fixture(autouse=True)
def fake_backends(monkeypatch):
    """Register the fake backends for the test (configurations resolve options through the registry)."""
    for cls in FAKES:
        monkeypatch.setitem(backends.BACKENDS, cls.name, cls)

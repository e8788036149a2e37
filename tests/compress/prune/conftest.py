import pytest


@pytest.fixture(autouse=True)
def _training_on_one_thread(one_thread):
    """Every test here trains: one torch thread (see tests/conftest.py)."""

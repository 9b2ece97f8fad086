"""Fixtures shared by the sandbox tests."""

import pytest


@pytest.fixture(autouse=True)
def no_proxy_for_loopback(monkeypatch):
    """Requests to the sandbox on 127.0.0.1 never go through a proxy from the environment."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1")

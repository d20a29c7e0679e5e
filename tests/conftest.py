"""Fixtures shared by every test: a fresh plugin manager and no plugin selection from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ccf_core.plugins import reset_plugin_manager


@pytest.fixture(autouse=True)
def fresh_plugin_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test builds its own plugin manager, unaffected by the shell's CCF_* plugin variables."""
    monkeypatch.delenv("CCF_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("CCF_DISABLE_PLUGINS", raising=False)
    reset_plugin_manager()
    yield
    reset_plugin_manager()

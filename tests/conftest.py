"""Fixtures shared by every test: a fresh plugin manager and no plugin selection from the environment."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ccf_core import Document
from ccf_core.plugins import reset_plugin_manager
from ccf_core.state import SqliteStateStore
from tests.support import ListConnector, document

if TYPE_CHECKING:
    from tests.fakes.qbusiness_server import FakeQBusiness

#: Builds a folder importlib.metadata sees as an installed distribution with ``ccf`` entry points:
#: ``make_plugin_dir(module_name, source, {entry_point_name: "module[:attr]"})``.
MakePluginDir = Callable[[str, str, dict[str, str]], Path]


@pytest.fixture(autouse=True)
def fresh_plugin_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test builds its own plugin manager, unaffected by the shell's CCF_* plugin variables."""
    monkeypatch.delenv("CCF_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("CCF_DISABLE_PLUGINS", raising=False)
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def make_plugin_dir(tmp_path: Path) -> MakePluginDir:
    """A factory of folders holding a plugin module and the dist-info that declares its entry points."""

    def make(module: str, source: str, entry_points: dict[str, str]) -> Path:
        root = tmp_path / f"site-{module}"
        dist_info = root / f"{module}-0.1.dist-info"
        dist_info.mkdir(parents=True)
        (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
        lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
        (dist_info / "entry_points.txt").write_text(f"[ccf]\n{lines}")
        return root

    return make


# -- documents, connectors and state shared by the core and Q Business suites -----------------


@pytest.fixture
def state(tmp_path: Path) -> Iterator[SqliteStateStore]:
    """A SQLite state store in the test's folder."""
    store = SqliteStateStore(tmp_path / "state.db")
    yield store
    store.close()


@pytest.fixture
def make_connector() -> type[ListConnector]:
    """The list-backed connector class (tests/support.py)."""
    return ListConnector


@pytest.fixture
def make_doc() -> Callable[..., Document]:
    """Builds a plain-text document from an id (tests/support.py)."""
    return document


@pytest.fixture
def make_docs() -> Callable[..., list[Document]]:
    """Builds ``count`` documents ``<prefix>-000``, ``<prefix>-001``, ..."""

    def docs(count: int, prefix: str = "doc") -> list[Document]:
        return [document(f"{prefix}-{number:03d}") for number in range(count)]

    return docs


@pytest.fixture
def fake_qbusiness() -> Iterator[FakeQBusiness]:
    """A fresh fake Amazon Q Business for the test (which fails if the fake itself broke)."""
    from tests.fakes.qbusiness_server import FakeQBusiness

    with FakeQBusiness() as fake:
        yield fake
    assert fake.bugs == []

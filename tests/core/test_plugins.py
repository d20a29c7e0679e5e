"""Plugin discovery through real entry points, load isolation, selection, and the hookspec conventions.

Plugins are installed for real: a module and a ``<name>-<version>.dist-info`` folder in a temporary
directory on ``sys.path``, found by ``importlib.metadata`` like any installed distribution.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pluggy
import pytest

from ccf_core import CCFError, Connector, hookimpl, hookspecs
from ccf_core.hookspecs import PROJECT_NAME
from ccf_core.plugins import (
    BUILTIN_PLUGIN,
    connector_registry,
    destination_registry,
    get_plugin_manager,
    registered_plugin,
    reset_plugin_manager,
)

TESTS_ROOT = Path(__file__).resolve().parents[1]

Install = Callable[..., None]


def connector_plugin(connector_name: str) -> str:
    """The source of a plugin module registering one connector called ``connector_name``."""
    return textwrap.dedent(
        f"""
        from ccf_core import Connector, hookimpl

        class PluginConnector(Connector):
            name = {connector_name!r}

            def documents(self, context):
                return []

        @hookimpl
        def ccf_register_connectors(registry):
            registry.register(PluginConnector)
        """
    )


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """Install plugin distributions into a directory on sys.path; their modules are unloaded afterwards."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def install_plugin(
        entry_name: str, source: str, *, module: str | None = None, version: str = "0.1"
    ) -> None:
        module = module or f"ccf_test_plugin_{entry_name}"
        dist = f"ccf-connector-{entry_name}"
        (site / f"{module}.py").write_text(source)
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[{PROJECT_NAME}]\n{entry_name} = {module}\n")
        modules.append(module)
        importlib.invalidate_caches()

    yield install_plugin
    for module in modules:
        sys.modules.pop(module, None)


# -- discovery and load isolation --------------------------------------------------------------


def test_installed_plugin_registers_its_connector_with_distribution_and_version(install: Install) -> None:
    install("sample", connector_plugin("sample"), version="1.2.3")

    info = connector_registry().get("sample")

    assert info.plugin == "sample"
    assert (info.distribution, info.version) == ("ccf-connector-sample", "1.2.3")
    assert issubclass(info.connector_class, Connector)


def test_plugin_info_records_the_entry_point(install: Install) -> None:
    install("sample", connector_plugin("sample"))

    info = get_plugin_manager().plugin_infos["sample"]

    assert info.loaded
    assert (info.value, info.distribution, info.version) == (
        "ccf_test_plugin_sample",
        "ccf-connector-sample",
        "0.1",
    )


def test_broken_plugin_is_reported_and_does_not_stop_the_others(install: Install) -> None:
    install("broken", "raise ImportError('needs the missing_sdk package')\n")
    install("sample", connector_plugin("sample"))

    pm = get_plugin_manager()

    assert "sample" in connector_registry(pm)
    errors = pm.load_errors()
    assert "broken" in errors
    assert "sample" not in errors
    assert isinstance(errors["broken"].cause, ImportError)
    assert "needs the missing_sdk package" in str(errors["broken"])
    assert not pm.plugin_infos["broken"].loaded


def test_allow_list_loads_only_the_named_plugins(install: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    install("alpha", connector_plugin("alpha"))
    install("beta", connector_plugin("beta"))
    monkeypatch.setenv("CCF_LOAD_PLUGINS", "alpha, other")

    registry = connector_registry()

    assert "alpha" in registry
    assert "beta" not in registry
    assert "ccf_test_plugin_beta" not in sys.modules


def test_block_list_skips_the_named_plugins(install: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    install("alpha", connector_plugin("alpha"))
    install("beta", connector_plugin("beta"))
    monkeypatch.setenv("CCF_DISABLE_PLUGINS", "alpha")

    registry = connector_registry()

    assert "beta" in registry
    assert "alpha" not in registry
    assert "ccf_test_plugin_alpha" not in sys.modules


def test_blocked_broken_plugin_is_not_an_error(install: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    install("broken", "raise ImportError('boom')\n")
    monkeypatch.setenv("CCF_DISABLE_PLUGINS", "broken")

    assert "broken" not in get_plugin_manager().load_errors()
    assert "broken" not in get_plugin_manager().plugin_infos


def test_misspelled_hook_unloads_that_plugin_loudly_and_keeps_the_others(install: Install) -> None:
    install("good", connector_plugin("good"))
    install(
        "typo",
        textwrap.dedent(
            """
            from ccf_core import hookimpl

            @hookimpl
            def ccf_register_conectors(registry):
                pass
            """
        ),
    )

    pm = get_plugin_manager()

    assert isinstance(pm.load_errors()["typo"].cause, pluggy.PluginValidationError)
    assert "ccf_register_conectors" in str(pm.load_errors()["typo"])
    assert pm.get_plugin("typo") is None
    assert "good" in connector_registry()


def test_builtin_local_destination_registers_through_the_hook() -> None:
    registry = destination_registry()

    assert "local" in registry
    assert [info.plugin for info in registry.all() if info.name == "local"] == [BUILTIN_PLUGIN]
    assert (
        get_plugin_manager().hook.ccf_register_destinations.get_hookimpls()[0].plugin_name == BUILTIN_PLUGIN
    )


def test_same_connector_name_from_two_plugins_reports_the_second_naming_both(install: Install) -> None:
    install("alpha", connector_plugin("shared"))
    install("beta", connector_plugin("shared"))

    registry = connector_registry()
    error = str(get_plugin_manager().load_errors()["beta"])

    assert registry.get("shared").plugin == "alpha"
    assert "'shared'" in error
    assert "'alpha'" in error
    assert "'beta'" in error


def test_plugin_whose_registration_raises_is_reported_and_the_others_register(install: Install) -> None:
    install("good", connector_plugin("good"))
    install(
        "raising",
        textwrap.dedent(
            """
            from ccf_core import hookimpl

            @hookimpl
            def ccf_register_connectors(registry):
                raise RuntimeError("cannot reach the licence server")
            """
        ),
    )

    registry = connector_registry()

    assert "good" in registry
    assert "cannot reach the licence server" in str(get_plugin_manager().load_errors()["raising"])


def test_same_destination_name_from_two_plugins_is_an_error() -> None:
    class Duplicate:
        @hookimpl
        def ccf_register_destinations(self, registry: object) -> None:
            registry.register("local", lambda **options: None)  # type: ignore[attr-defined]

    with registered_plugin(Duplicate(), name="dup"), pytest.raises(CCFError, match="'dup'"):
        destination_registry()


# -- the plugin manager ------------------------------------------------------------------------


def test_plugin_manager_is_cached() -> None:
    assert get_plugin_manager() is get_plugin_manager()


def test_reset_builds_a_new_plugin_manager() -> None:
    first = get_plugin_manager()

    reset_plugin_manager()

    assert get_plugin_manager() is not first


def test_registered_plugin_is_unregistered_afterwards() -> None:
    class Extra:
        @hookimpl
        def ccf_register_connectors(self, registry: object) -> None:
            pass

    plugin = Extra()
    with registered_plugin(plugin, name="extra") as pm:
        assert pm.is_registered(plugin)

    assert not get_plugin_manager().is_registered(plugin)
    assert get_plugin_manager().get_plugin("extra") is None


def test_registered_plugin_is_unregistered_after_an_exception() -> None:
    class Extra:
        @hookimpl
        def ccf_sync_started(self, context: object) -> None:
            pass

    plugin = Extra()
    with pytest.raises(RuntimeError, match="inside"), registered_plugin(plugin):
        raise RuntimeError("inside")

    assert not get_plugin_manager().is_registered(plugin)


def test_registered_plugin_with_a_misspelled_hook_is_refused_and_unregistered() -> None:
    class Typo:
        @hookimpl
        def ccf_sync_startd(self, context: object) -> None:
            pass

    plugin = Typo()
    with pytest.raises(pluggy.PluginValidationError), registered_plugin(plugin):
        pass

    assert not get_plugin_manager().is_registered(plugin)


# -- conventions -------------------------------------------------------------------------------


def hookspec_functions() -> list[tuple[str, Callable[..., object]]]:
    """Every function of ccf_core.hookspecs marked as a hook specification."""
    marker = f"{PROJECT_NAME}_spec"
    return [
        (name, function)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, marker)
    ]


def test_there_are_hookspecs() -> None:
    assert len(hookspec_functions()) >= 5


@pytest.mark.parametrize(("name", "function"), hookspec_functions())
def test_hookspec_is_prefixed_and_documented(name: str, function: Callable[..., object]) -> None:
    doc = inspect.getdoc(function) or ""

    assert name.startswith(f"{PROJECT_NAME}_")
    assert "Args:" in doc, f"{name} documents no arguments"
    assert "Returns:" in doc, f"{name} documents no return value"
    for parameter in inspect.signature(function).parameters:
        assert f"{parameter}:" in doc, f"{name} does not document its parameter {parameter!r}"


@pytest.mark.parametrize("name", [name for name, _ in hookspec_functions()])
def test_hookspec_is_exercised_by_a_test(name: str) -> None:
    users = [path for path in TESTS_ROOT.rglob("test_*.py") if name in path.read_text(encoding="utf-8")]

    assert users, f"no test under {TESTS_ROOT} implements or calls the hook {name}"


# -- connector classes are checked when registered ---------------------------------------------


def _connector_class_plugin(body: str, *, base: str = "Connector") -> str:
    """A plugin registering one class ``Bad(<base>)`` whose class body is ``body``."""
    return textwrap.dedent(
        """
        from pydantic import BaseModel
        from ccf_core import Connector, hookimpl

        class Bad({base}):
        {body}

        @hookimpl
        def ccf_register_connectors(registry):
            registry.register(Bad)
        """
    ).format(base=base, body=textwrap.indent(textwrap.dedent(body), "    "))


def test_sync_mode_given_as_a_plain_string_is_coerced(install: Install) -> None:
    from ccf_core.connector import SyncMode

    body = "name = 'plain'\nsync_mode = 'incremental'\ndef documents(self, c): return []"
    install("plain", _connector_class_plugin(body))
    info = connector_registry().get("plain")
    assert info.connector_class.sync_mode is SyncMode.INCREMENTAL
    assert info.sync_mode == "incremental"


@pytest.mark.parametrize(
    ("body", "base", "problem"),
    [
        (
            "name = 'bad'\nsync_mode = 'fast'\ndef documents(self, c): return []",
            "Connector",
            "sync_mode 'fast' is not one of 'full', 'incremental'",
        ),
        ("name = 'bad'", "Connector", "it does not implement documents(self, context)"),
        ("name = 'Bad Name'\ndef documents(self, c): return []", "Connector", "must be a lowercase word"),
        (
            "name = 'bad'\nConfig = dict\ndef documents(self, c): return []",
            "Connector",
            "Config must be a pydantic model class",
        ),
        ("name = 'bad'\ndef documents(self, c): return []", "object", "is not a subclass of ccf_core"),
    ],
)
def test_invalid_connector_class_is_that_plugins_load_error_and_the_others_register(
    install: Install, body: str, base: str, problem: str
) -> None:
    install("good", connector_plugin("good"))
    install("bad", _connector_class_plugin(body, base=base))

    registry = connector_registry()

    assert "good" in registry and "bad" not in registry
    error = str(get_plugin_manager().load_errors()["bad"])
    assert "cannot be registered" in error or "is not a subclass" in error
    assert problem in error


def test_plugin_registering_a_good_then_a_bad_class_registers_neither(install: Install) -> None:
    install(
        "half",
        textwrap.dedent(
            """
            from ccf_core import Connector, hookimpl

            class Good(Connector):
                name = "half-good"
                def documents(self, context):
                    return []

            class Bad(Connector):
                name = "half-bad"
                sync_mode = "sometimes"

            @hookimpl
            def ccf_register_connectors(registry):
                registry.register(Good)
                registry.register(Bad)
            """
        ),
    )
    registry = connector_registry()
    assert "half-good" not in registry
    assert "half" in get_plugin_manager().load_errors()


def test_destination_settings_are_read_off_the_factory_without_a_model() -> None:
    from ccf_core.registry import DestinationRegistry

    def factory(*, folder: str, size: int = 3) -> object:
        raise AssertionError("not built")

    registry = DestinationRegistry()
    registry.register("files", factory)  # type: ignore[arg-type]
    model = registry.get("files").settings_model()
    assert model.model_validate({"folder": "x", "size": "4"}).model_dump() == {"folder": "x", "size": 4}
    with pytest.raises(ValueError, match="folder"):
        model.model_validate({"size": 1})
    with pytest.raises(ValueError, match="extra"):
        model.model_validate({"folder": "x", "colour": "red"})


def test_destination_config_must_be_a_pydantic_model() -> None:
    from ccf_core.registry import DestinationRegistry

    with pytest.raises(CCFError, match="config must be a pydantic model class"):
        DestinationRegistry().register("odd", lambda **o: None, config=dict)  # type: ignore[arg-type]

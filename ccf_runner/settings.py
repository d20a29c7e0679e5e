"""Where a connector's settings come from (see :mod:`ccf_runner.schema` for describing them).

A connector's raw config is merged from three places, each overriding the one before:

1. ``--config FILE``: a YAML (``.yaml``/``.yml``) or JSON (``.json``) mapping;
2. environment variables ``CCF_<CONNECTOR>_<FIELD>`` (connector name upper-cased with ``-`` as
   ``_``, nested fields joined by ``__``); only top-level fields of the ``Config`` model are taken;
3. ``--set key=value`` flags (dotted keys for nested fields).

Values from the environment and ``--set`` are read as YAML, so numbers, booleans and lists work,
except where the field is a string (``str``, ``SecretStr``, a path, a string enum): there the text
is taken as it is, so a token made of digits stays a string. A list field also takes
comma-separated items (``patterns=**/*.md,**/*.txt``); a map takes one key per flag or variable
(``--set members.admins=alice`` or ``CCF_HELLO_MEMBERS__ADMINS=alice``) or a YAML ``{k: v}``.

:data:`LISTS_AND_MAPS_HELP` says this to users (``ccf-run --show-config``).
"""

from __future__ import annotations

import difflib
import enum
import json
import os
import types
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from ccf_runner.errors import BadConfiguration

#: Every environment variable read for a connector starts with this.
ENV_PREFIX = "CCF_"
#: Joins the parts of a nested field in an environment variable name.
ENV_NESTING = "__"

_NOT_FOUND = object()

#: How lists and maps are written in ``--set`` and environment variables (``--show-config`` prints it).
LISTS_AND_MAPS_HELP = (
    "Lists: comma-separated (--set patterns=**/*.md,**/*.txt) or YAML ([a, b]). "
    "Maps: one key per flag (--set members.admins=alice) or variable "
    "(CCF_<CONNECTOR>_MEMBERS__ADMINS=alice), or YAML ({admins: [alice]})."
)


class SettingsError(BadConfiguration):
    """A config file, environment variable or ``--set`` flag cannot be used."""


# -- the three sources ------------------------------------------------------------------------


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``--config`` file: YAML or JSON by extension, holding a mapping.

    Raises:
        SettingsError: naming the file, when it cannot be read or parsed or is not a mapping.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".yaml", ".yml", ".json"}:
        raise SettingsError(
            f"--config {path}: unsupported file type {suffix or '(none)'!r}; use .yaml, .yml or .json"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise SettingsError(f"--config {path}: cannot read it: {reason}") from None
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as err:
        raise SettingsError(
            f"--config {path}: not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"
        ) from None
    except yaml.YAMLError as err:
        raise SettingsError(f"--config {path}: not valid YAML: {_yaml_problem(err)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(
            f"--config {path}: must hold a mapping of settings (field: value), not a {type(data).__name__}"
        )
    return data


def _yaml_problem(err: yaml.YAMLError) -> str:
    # The problem and its position only: PyYAML's own message quotes the offending line, which may
    # hold a secret.
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return f"{err.problem or err.context or 'syntax error'}{where}"
    return type(err).__name__


def env_prefix(connector: str) -> str:
    """The prefix of a connector's environment variables, e.g. ``CCF_WEB_CRAWLER_``."""
    return f"{ENV_PREFIX}{connector.upper().replace('-', '_')}_"


def config_from_env(
    connector: str, model: type[BaseModel], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The settings given as ``CCF_<CONNECTOR>_<FIELD>`` environment variables.

    Only variables naming a top-level field of ``model`` are taken (case-insensitively); others
    are ignored, so an unrelated ``CCF_...`` variable never breaks a run.
    """
    environ = os.environ if environ is None else environ
    prefix = env_prefix(connector)
    fields = {name.upper(): key for name, key in _field_keys(model)}
    config: dict[str, Any] = {}
    for variable in sorted(environ):
        if not variable.upper().startswith(prefix):
            continue
        parts = variable[len(prefix) :].split(ENV_NESTING)
        top = fields.get(parts[0].upper())
        if top is None:
            continue
        path = [top, *_nested_keys(model, top, parts[1:])]
        _assign(config, path, parse_value(environ[variable], model, path))
    return config


def parse_assignment(text: str) -> tuple[list[str], str]:
    """Split a ``--set`` value ``a.b=value`` into its key path and raw value.

    Raises:
        SettingsError: when there is no ``=`` or the key is empty.
    """
    key, sep, value = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or not all(path):
        raise SettingsError(
            f"--set {text!r}: expected KEY=VALUE (dotted keys for nested fields, e.g. auth.user=bob)"
        )
    return path, value


def config_from_assignments(assignments: Iterable[str], model: type[BaseModel]) -> dict[str, Any]:
    """The settings given as ``--set key=value`` flags (a later flag wins over an earlier one)."""
    config: dict[str, Any] = {}
    for text in assignments:
        path, value = parse_assignment(text)
        _assign(config, path, parse_value(value, model, path))
    return config


def build_config(
    connector: str,
    model: type[BaseModel],
    *,
    config_file: str | os.PathLike[str] | None = None,
    assignments: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A connector's raw config: the file, overridden by the environment, overridden by ``--set``.

    Raises:
        SettingsError: when one of the sources cannot be used.
    """
    config = load_config_file(config_file) if config_file is not None else {}
    config = deep_merge(config, config_from_env(connector, model, environ))
    return deep_merge(config, config_from_assignments(assignments, model))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` on top; nested mappings are merged, anything else replaced."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def parse_value(raw: str, model: type[BaseModel], path: list[str]) -> Any:
    """Read a value from the command line or environment for the field at ``path``.

    String-typed fields get the text unchanged; other fields get it read as YAML (``3`` is a
    number, ``true`` a boolean, ``[a, b]`` a list). Text that is not valid YAML stays text.
    """
    annotation = _annotation_at(model, path)
    if annotation is not _NOT_FOUND and _is_string_type(annotation):
        return raw
    if raw == "":
        return raw
    item = _list_item_type(annotation) if annotation is not _NOT_FOUND else _NOT_FOUND
    if item is not _NOT_FOUND and bool in annotation_members(annotation):
        # A field that is a flag or a list (``bool | list[str]``): true/false is the flag.
        scalar = _yaml_or_text(raw)
        if isinstance(scalar, bool):
            return scalar
    if item is not _NOT_FOUND and not raw.lstrip().startswith("["):
        # A list written the way people type it: a,b,c (the YAML form [a, b] still works).
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        return [part if _is_string_type(item) else _yaml_or_text(part) for part in parts]
    return _yaml_or_text(raw)


def _yaml_or_text(raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _list_item_type(annotation: Any) -> Any:
    """The item type when ``annotation`` is a list, set or tuple (``Any`` when unparameterised)."""
    for member in annotation_members(annotation):
        origin = get_origin(member) or member
        if isinstance(origin, type) and issubclass(origin, (list, set, frozenset, tuple)):
            args = [arg for arg in get_args(member) if arg is not Ellipsis]
            return args[0] if args else Any
    return _NOT_FOUND


def unknown_env_variables(
    connector: str, model: type[BaseModel], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Warnings for ``CCF_<CONNECTOR>_*`` variables that name no field of ``model``, with a guess.

    :func:`config_from_env` ignores such variables; a misspelled one would otherwise change
    nothing without a word.
    """
    environ = os.environ if environ is None else environ
    prefix = env_prefix(connector)
    fields = {name.upper() for name, _ in _field_keys(model)}
    warnings = []
    for variable in sorted(environ):
        if not variable.upper().startswith(prefix):
            continue
        top = variable[len(prefix) :].split(ENV_NESTING)[0].upper()
        if top in fields:
            continue
        close = difflib.get_close_matches(top, sorted(fields), n=1, cutoff=0.6)
        guess = f"; did you mean {prefix}{close[0]}?" if close else ""
        known = ", ".join(f"{prefix}{field}" for field in sorted(fields)) or "none"
        warnings.append(
            f"environment variable {variable} is ignored: connector {connector!r} has no field "
            f"{top.lower()!r}{guess} (its variables: {known})"
        )
    return warnings


def _assign(config: dict[str, Any], path: list[str], value: Any) -> None:
    node = config
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


# -- reading the Config model -----------------------------------------------------------------


def _field_keys(model: type[BaseModel]) -> Iterator[tuple[str, str]]:
    """``(name, key in the raw config)`` of every field; the key is the alias when there is one."""
    for name, info in model.model_fields.items():
        yield name, info.alias or name
        if info.alias:
            yield info.alias, info.alias


def annotation_members(annotation: Any) -> list[Any]:
    """The members of an annotation that may be a union, an Optional or Annotated; None dropped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return annotation_members(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [member for arg in get_args(annotation) for member in annotation_members(arg)]
    return [] if annotation is type(None) else [annotation]


def _is_string_type(annotation: Any) -> bool:
    members = annotation_members(annotation)
    return bool(members) and all(_is_string_member(member) for member in members)


def _is_string_member(member: Any) -> bool:
    if get_origin(member) is Literal:
        return all(isinstance(arg, str) for arg in get_args(member))
    if not isinstance(member, type):
        return False
    return issubclass(member, (str, SecretStr, PurePath)) or (
        issubclass(member, enum.Enum) and issubclass(member, str)
    )


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model among the members of an annotation, if any."""
    for member in annotation_members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _field_named(model: type[BaseModel], key: str) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key.lower() in {name.lower(), (info.alias or name).lower()}:
            return info
    return None


def _annotation_at(model: type[BaseModel], path: list[str]) -> Any:
    """The annotation of the field at ``path`` (through nested models and dict values), if known."""
    annotation: Any = model
    for key in path:
        nested = model_in(annotation)
        if nested is not None:
            info = _field_named(nested, key)
            if info is None:
                return _NOT_FOUND
            annotation = info.annotation
            continue
        dicts = [m for m in annotation_members(annotation) if get_origin(m) in (dict, Mapping)]
        if not dicts or len(get_args(dicts[0])) != 2:
            return _NOT_FOUND
        annotation = get_args(dicts[0])[1]
    return annotation


def _nested_keys(model: type[BaseModel], top: str, parts: list[str]) -> list[str]:
    """Environment-variable parts (upper case) mapped to the nested field names they stand for."""
    keys: list[str] = []
    for part in parts:
        nested = model_in(_annotation_at(model, [top, *keys]))
        info = _field_named(nested, part) if nested is not None else None
        if nested is not None and info is not None:
            name = next(n for n, i in nested.model_fields.items() if i is info)
            keys.append(info.alias or name)
        else:
            keys.append(part.lower())
    return keys

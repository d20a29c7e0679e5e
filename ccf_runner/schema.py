"""Describing a connector's settings (``ccf-run --show-config``) and finding its secret values."""

from __future__ import annotations

import enum
import json
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo

from ccf_runner.settings import ENV_NESTING, annotation_members, env_prefix, model_in


@dataclass(frozen=True)
class ConfigField:
    """One setting of a connector, as ``ccf-run --show-config`` shows it."""

    name: str
    type: str
    required: bool
    default: str
    description: str
    secret: bool
    env: str | None


def type_name(annotation: Any) -> str:
    """A short readable form of a type annotation, e.g. ``list[str] | None``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return type_name(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(arg) for arg in get_args(annotation))
    if origin is Literal:
        return " | ".join(repr(arg) for arg in get_args(annotation))
    if annotation is type(None):
        return "None"
    if origin is not None:
        args = ", ".join(type_name(arg) for arg in get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(annotation, "__name__", str(annotation))


def _is_secret(annotation: Any) -> bool:
    return any(
        isinstance(member, type) and issubclass(member, (SecretStr, SecretBytes))
        for member in annotation_members(annotation)
    )


def _default_text(info: FieldInfo, secret: bool) -> str:
    if info.is_required():
        return "(required)"
    try:
        default = info.get_default(call_default_factory=True, validated_data={})
    except Exception:  # a default factory that needs other fields: say so rather than guess
        return "(computed)"
    if secret and default is not None:
        return "***"
    return _value_text(default)


def _value_text(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    elif isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if value is None or isinstance(value, str | PurePath):
        return str(value)
    return json.dumps(value, default=str)


def config_schema(connector: str, model: type[BaseModel]) -> list[ConfigField]:
    """Every setting of a connector's ``Config`` model, nested models' fields as ``parent.child``."""
    return list(_schema_rows(model, prefix="", env=env_prefix(connector)))


def _schema_rows(model: type[BaseModel], prefix: str, env: str | None) -> Iterator[ConfigField]:
    for name, info in model.model_fields.items():
        key = info.alias or name
        secret = _is_secret(info.annotation)
        yield ConfigField(
            name=f"{prefix}{key}",
            type=type_name(info.annotation),
            required=info.is_required(),
            default=_default_text(info, secret),
            description=(info.description or "").strip(),
            secret=secret,
            env=f"{env}{name.upper()}" if env is not None else None,
        )
        nested = model_in(info.annotation)
        if nested is not None and nested is not model:
            nested_env = f"{env}{name.upper()}{ENV_NESTING}" if env is not None else None
            yield from _schema_rows(nested, prefix=f"{prefix}{key}.", env=nested_env)


def raw_secret_values(model: type[BaseModel], raw: Mapping[str, Any]) -> list[str]:
    """The strings a raw config gives for secret fields, before validation (so an error raised while
    the connector is built cannot show them)."""
    found: list[str] = []
    for field in _schema_rows(model, prefix="", env=None):
        if not field.secret:
            continue
        value: Any = raw
        for key in field.name.split("."):
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value:
            found.append(value)
    return found


def secret_values(config: BaseModel) -> list[str]:
    """Every ``SecretStr``/``SecretBytes`` value in a validated config, nested ones included."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, SecretBytes):
            found.append(value.get_secret_value().decode("utf-8", "replace"))
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                walk(item)

    walk(config)
    return [value for value in found if value]

"""Conversion between Python values and DynamoDB attribute values (the low-level client's format)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(item) for item in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamo(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(item) for item in value]
    if isinstance(value, set):
        return {_from_dynamo(item) for item in value}
    return value


def attr(value: Any) -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value (floats become numbers)."""
    result: dict[str, Any] = _serializer.serialize(_to_dynamo(value))
    return result


def item(values: dict[str, Any]) -> dict[str, Any]:
    """A Python dict as a DynamoDB item; None values are left out."""
    return {name: attr(value) for name, value in values.items() if value is not None}


def plain(raw: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as a Python dict (whole numbers as int, others as float, binary as bytes)."""
    result: dict[str, Any] = {}
    for name, value in raw.items():
        decoded = _deserializer.deserialize(value)
        if hasattr(decoded, "value") and isinstance(getattr(decoded, "value", None), bytes):
            decoded = decoded.value
        result[name] = _from_dynamo(decoded)
    return result

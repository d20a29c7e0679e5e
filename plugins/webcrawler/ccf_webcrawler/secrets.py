"""Header values given by reference: ``env:NAME``, a Secrets Manager ARN or an SSM parameter ARN.

A reference keeps the secret out of config files, job definitions and the CCF API. Values are
resolved once per run; neither a value nor a reference's resolved text ever reaches a log line or
an error message (errors name the header and the kind of reference only).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import SecretStr

from ccf_core import CCFError


class HeaderSecretError(CCFError):
    """A header's secret reference cannot be resolved (the message names the header, not the value)."""


def _json_key(text: str, key: str | None, header: str) -> str:
    if key is None:
        return text
    try:
        value = json.loads(text)[key]
    except (ValueError, KeyError, TypeError):
        raise HeaderSecretError(f"headers.{header}: the secret has no JSON key {key!r}") from None
    return str(value)


def _secretsmanager(arn: str, region: str) -> str:
    import boto3

    response: Any = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=arn)
    return str(response["SecretString"])


def _ssm(arn: str, region: str) -> str:
    import boto3

    name = arn.split(":parameter", 1)[1]
    response: Any = boto3.client("ssm", region_name=region).get_parameter(Name=name, WithDecryption=True)
    return str(response["Parameter"]["Value"])


_AWS_READERS: dict[str, Callable[[str, str], str]] = {"secretsmanager": _secretsmanager, "ssm": _ssm}


def resolve_value(header: str, value: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of one header: a reference resolved, anything else as it is.

    Raises:
        HeaderSecretError: naming the header when the reference cannot be resolved.
    """
    environ = os.environ if environ is None else environ
    if value.startswith("env:"):
        name = value[4:]
        if name not in environ:
            raise HeaderSecretError(f"headers.{header}: environment variable {name} is not set")
        return environ[name]
    if value.startswith("arn:aws:"):
        reference, _, key = value.partition("#")
        parts = reference.split(":")
        service = parts[2] if len(parts) > 5 else ""
        reader = _AWS_READERS.get(service)
        if reader is None:
            raise HeaderSecretError(
                f"headers.{header}: only Secrets Manager and SSM parameter ARNs are supported references"
            )
        try:
            text = reader(reference, parts[3])
        except Exception as err:
            raise HeaderSecretError(
                f"headers.{header}: the {service} reference cannot be read ({type(err).__name__})"
            ) from None
        return _json_key(text, key or None, header)
    return value


def resolve_headers(
    headers: Mapping[str, SecretStr], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every configured header with its references resolved."""
    return {name: resolve_value(name, value.get_secret_value(), environ) for name, value in headers.items()}

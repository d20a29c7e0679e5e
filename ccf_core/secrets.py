"""Secrets given by reference (an environment variable, a Secrets Manager secret, an SSM parameter).

A connector setting may hold a reference instead of the secret itself, so the secret stays out of
config files, job definitions and the CCF API:

- ``env:NAME``: the environment variable ``NAME`` (where a backend job's secret references land);
- ``arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME``: a Secrets Manager secret's string;
- ``arn:aws:ssm:REGION:ACCOUNT:parameter/NAME``: an SSM parameter (a SecureString is decrypted).

``#KEY`` after either ARN picks one key of a secret that holds JSON. :func:`resolve_secret` reads all
three and passes any other value through. boto3 is imported only when an ARN is read; its debug
logging (which prints response bodies) is silenced meanwhile. Errors name the setting and the kind of
reference, never a value.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping

from ccf_core.errors import CCFError

__all__ = [
    "ENV_PREFIX",
    "SecretReferenceError",
    "is_secret_reference",
    "read_secret_reference",
    "resolve_secret",
]

#: What starts a reference to an environment variable: ``env:NAME``.
ENV_PREFIX = "env:"

_REFERENCE = re.compile(r"^arn:aws[a-z-]*:(secretsmanager|ssm):([a-z0-9-]*):")
_KIND_NAMES = {"secretsmanager": "Secrets Manager secret", "ssm": "SSM parameter"}


class SecretReferenceError(CCFError):
    """A secret reference could not be resolved (the message names the reference, never a value).

    Attributes:
        field: the setting that holds the reference (``token``, ``headers.Authorization``), or None.
        kind: the kind of reference: ``env``, ``secretsmanager``, ``ssm``, or ``arn`` for an ARN of
            another service (None when not known).
    """

    def __init__(self, problem: str, *, field: str | None = None, kind: str | None = None) -> None:
        self.field = field
        self.kind = kind
        super().__init__(f"{field}: {problem}" if field else problem)


def is_secret_reference(value: str) -> bool:
    """True for a Secrets Manager secret ARN or an SSM parameter ARN (with an optional ``#KEY``)."""
    return _REFERENCE.match(value) is not None


def resolve_secret(value: str, field: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret a setting gives: a reference resolved, any other value as it is.

    Every value starting with ``arn:`` (in any partition) is taken for a reference, so an ARN of the
    wrong service fails here instead of being sent on as the secret itself.

    Args:
        value: the setting's value: ``env:NAME``, a Secrets Manager or SSM ARN (``#KEY`` optional),
            or the secret itself.
        field: the setting's name as the user wrote it (``token``, ``headers.Authorization``), for errors.
        environ: the environment ``env:NAME`` is read from (default: ``os.environ``).

    Raises:
        SecretReferenceError: naming ``field`` and the reference when it cannot be resolved (variable
            unset or empty, secret missing or unreadable, no such JSON key, unsupported ARN).
    """
    if value.startswith(ENV_PREFIX):
        return _read_environment(value[len(ENV_PREFIX) :], field, os.environ if environ is None else environ)
    if value.startswith("arn:"):
        return _read_arn(value, field)
    return value


def read_secret_reference(reference: str) -> str:
    """The text a Secrets Manager secret or an SSM parameter holds (one JSON key with ``#KEY``).

    Raises:
        SecretReferenceError: the reference is not one of the two kinds, cannot be read (missing,
            access denied, no credentials) or has no such JSON key.
    """
    return _read_arn(reference, None)


def _read_environment(name: str, field: str, environ: Mapping[str, str]) -> str:
    if not name:
        raise SecretReferenceError("env: needs a variable name (env:NAME)", field=field, kind="env")
    value = environ.get(name)
    if value is None:
        raise SecretReferenceError(f"environment variable {name} is not set", field=field, kind="env")
    if not value:
        raise SecretReferenceError(f"environment variable {name} is empty", field=field, kind="env")
    return value


def _read_arn(reference: str, field: str | None) -> str:
    arn, _, key = reference.partition("#")
    found = _REFERENCE.match(arn)
    if found is None:
        # The value is not shown: a secret pasted where a reference was meant must not be echoed.
        raise SecretReferenceError(
            "only Secrets Manager and SSM parameter ARNs are supported references "
            "(arn:aws:secretsmanager:... or arn:aws:ssm:...)",
            field=field,
            kind="arn",
        )
    service, region = found.group(1), found.group(2) or None
    described = f"{_KIND_NAMES[service]} {arn}"
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        with _quiet_sdk():
            client = boto3.client(service, region_name=region)
            if service == "secretsmanager":
                text = str(client.get_secret_value(SecretId=arn)["SecretString"])
            else:
                text = str(client.get_parameter(Name=arn, WithDecryption=True)["Parameter"]["Value"])
    except (BotoCoreError, ClientError) as err:
        code = getattr(err, "response", {}).get("Error", {}).get("Code") or type(err).__name__
        raise SecretReferenceError(f"cannot read {described}: {code}", field=field, kind=service) from None
    if not key:
        return text
    try:
        return str(json.loads(text)[key])
    except (ValueError, KeyError, TypeError):
        raise SecretReferenceError(
            f"{described} holds no JSON key {key!r}", field=field, kind=service
        ) from None


@contextlib.contextmanager
def _quiet_sdk() -> Iterator[None]:
    """Silence the AWS SDK's debug logging while a secret is read: it logs response bodies."""
    loggers = [logging.getLogger(name) for name in ("botocore", "boto3", "urllib3")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)

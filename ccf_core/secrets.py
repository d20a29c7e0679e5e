"""Secrets given by reference: an AWS Secrets Manager secret or SSM parameter ARN, read at run time.

A connector setting may hold ``arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`` or
``arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`` instead of the secret itself, so the secret stays out
of config files, job definitions and the CCF API. ``#KEY`` after the ARN picks one key of a secret
that holds JSON. boto3 is imported only when a reference is read; its debug logging (which prints
response bodies) is silenced meanwhile, and errors name the reference, never the value.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator

from ccf_core.errors import CCFError

_REFERENCE = re.compile(r"^arn:aws[a-z-]*:(secretsmanager|ssm):([a-z0-9-]*):")


class SecretReferenceError(CCFError):
    """A secret reference could not be read (the message names the reference, never a value)."""


def is_secret_reference(value: str) -> bool:
    """True for a Secrets Manager secret ARN or an SSM parameter ARN (with an optional ``#KEY``)."""
    return _REFERENCE.match(value) is not None


def read_secret_reference(reference: str) -> str:
    """The text a Secrets Manager secret or an SSM parameter holds (one JSON key with ``#KEY``).

    Raises:
        SecretReferenceError: the reference is not one of the two kinds, cannot be read (missing,
            access denied, no credentials) or has no such JSON key.
    """
    arn, _, key = reference.partition("#")
    found = _REFERENCE.match(arn)
    if found is None:
        raise SecretReferenceError(
            f"{arn!r} is not a Secrets Manager secret or SSM parameter ARN "
            "(arn:aws:secretsmanager:... or arn:aws:ssm:...)"
        )
    service, region = found.group(1), found.group(2) or None
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
        raise SecretReferenceError(f"cannot read {arn}: {code}") from None
    if not key:
        return text
    try:
        return str(json.loads(text)[key])
    except (ValueError, KeyError, TypeError):
        raise SecretReferenceError(f"{arn} holds no JSON key {key!r}") from None


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

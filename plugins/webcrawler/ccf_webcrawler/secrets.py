"""Header values given by reference: ``env:NAME``, a Secrets Manager ARN or an SSM parameter ARN.

A reference keeps the secret out of config files, job definitions and the CCF API. Values are
resolved once per run; neither a value nor a reference's resolved text ever reaches a log line or
an error message (errors name the header and the kind of reference only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import SecretStr

from ccf_core import CCFError
from ccf_core.secrets import SecretReferenceError, is_secret_reference, read_secret_reference


class HeaderSecretError(CCFError):
    """A header's secret reference cannot be resolved (the message names the header, not the value)."""


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
    if value.startswith("arn:"):  # every partition: arn:aws:, arn:aws-cn:, arn:aws-us-gov:
        if not is_secret_reference(value):
            raise HeaderSecretError(
                f"headers.{header}: only Secrets Manager and SSM parameter ARNs are supported references"
            )
        try:
            return read_secret_reference(value)
        except SecretReferenceError as err:
            raise HeaderSecretError(f"headers.{header}: {err}") from None
    return value


def resolve_headers(
    headers: Mapping[str, SecretStr], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every configured header with its references resolved."""
    return {name: resolve_value(name, value.get_secret_value(), environ) for name, value in headers.items()}

"""Header values given by reference: ``env:NAME``, a Secrets Manager ARN or an SSM parameter ARN.

The references are ccf's own (:func:`ccf_core.secrets.resolve_secret`). Values are resolved once per
run; neither a value nor a reference's resolved text ever reaches a log line or an error message
(errors name the header and the kind of reference only).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from ccf_core.secrets import resolve_secret


def resolve_headers(
    headers: Mapping[str, SecretStr], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every configured header with its references resolved.

    Raises:
        SecretReferenceError: naming the header (``headers.NAME``) when a reference cannot be resolved.
    """
    return {
        name: resolve_secret(value.get_secret_value(), f"headers.{name}", environ)
        for name, value in headers.items()
    }

"""Pagination tokens: opaque to clients, signed, and bound to what they were issued for.

A token carries the DynamoDB key to continue after, the operation and the scope it came from
(the connector id, or the tenant for ListCustomConnectors), the filter in use and an expiry,
signed with HMAC-SHA256. A token that was altered, comes from another connector or operation,
was issued for another filter, or expired is a 400 naming ``next_token``.

The signing key comes from Secrets Manager (``CCF_TOKEN_KEY_SECRET_ARN``, what the template sets
up, so every Lambda instance shares it), or ``CCF_TOKEN_KEY``; without either, each process makes
a random key (fine for the local server, whose tokens need not outlive it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from typing import Any

from ccf_backend.clients import get_client
from ccf_backend.errors import BadRequest
from ccf_backend.settings import get_settings

logger = logging.getLogger(__name__)

TOKEN_VERSION = 1
TOKEN_LIFETIME_SECONDS = 24 * 3600
_FIELD = "next_token"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenCodec:
    """Signs and verifies pagination tokens with one key."""

    def __init__(self, key: bytes, lifetime_seconds: int = TOKEN_LIFETIME_SECONDS) -> None:
        self._key = key
        self.lifetime_seconds = lifetime_seconds

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest())

    def encode(self, operation: str, scope: str, key: dict[str, Any], filters: str = "") -> str:
        """A token to continue ``operation`` in ``scope`` after ``key``."""
        payload = json.dumps(
            {
                "v": TOKEN_VERSION,
                "o": operation,
                "s": scope,
                "f": filters,
                "k": key,
                "x": int(time.time()) + self.lifetime_seconds,
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode("utf-8")
        return f"{_b64(payload)}.{self._sign(payload)}"

    def decode(self, token: str, operation: str, scope: str, filters: str = "") -> dict[str, Any]:
        """The key a token continues after.

        Raises:
            BadRequest: the token is malformed, altered, expired, or issued for another
                operation, connector or filter.
        """
        try:
            encoded, signature = token.split(".", 1)
            payload = _unb64(encoded)
            valid = hmac.compare_digest(signature, self._sign(payload))
        except (ValueError, TypeError) as err:
            raise BadRequest(_FIELD, "is not a token this API issued") from err
        if not valid:
            raise BadRequest(_FIELD, "is not a token this API issued (or it was altered)")
        data = json.loads(payload)
        if data.get("v") != TOKEN_VERSION:
            raise BadRequest(_FIELD, "comes from another version of the API; list again from the start")
        if data.get("o") != operation or data.get("s") != scope:
            raise BadRequest(_FIELD, "was issued for another connector or operation")
        if data.get("f") != filters:
            raise BadRequest(_FIELD, "was issued with other filters; pass the same filters as the first call")
        if int(data.get("x", 0)) < time.time():
            raise BadRequest(_FIELD, "has expired; list again from the start")
        key: dict[str, Any] = data["k"]
        return key


_lock = threading.Lock()
_codec: TokenCodec | None = None


def get_codec() -> TokenCodec:
    """The codec of this process, its key loaded on first use."""
    global _codec  # noqa: PLW0603 - lazily built process-wide value
    with _lock:
        if _codec is None:
            _codec = TokenCodec(_load_key())
        return _codec


def set_codec(codec: TokenCodec | None) -> None:
    """Replace the codec (tests); None loads the key again on next use."""
    global _codec  # noqa: PLW0603
    with _lock:
        _codec = codec


def _load_key() -> bytes:
    settings = get_settings()
    if settings.token_key_secret_arn:
        response = get_client("secretsmanager").get_secret_value(SecretId=settings.token_key_secret_arn)
        secret = response.get("SecretString") or response.get("SecretBinary", b"")
        return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if settings.token_key:
        return settings.token_key.encode("utf-8")
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        logger.warning(
            "no pagination token key configured (CCF_TOKEN_KEY_SECRET_ARN); tokens will not work "
            "across Lambda instances"
        )
    return os.urandom(32)

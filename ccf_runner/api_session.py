"""The boto3 session for calls to the CCF API, used by the ``ccf`` commands and ``ccf-run --state api``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ccf_core.api.hosts import is_loopback


def api_session(endpoint_url: str, *, profile: str | None = None, region: str | None = None) -> Any:
    """A ``boto3.Session`` for the CCF API at ``endpoint_url``, with the usual credential chain.

    boto3 signs every request, and will not send one without credentials; a local backend
    (``ccf backend serve`` on this machine) checks no signature. So when no credentials are
    configured and the API is on this machine, the session gets dummy ones. Its
    ``get_credentials()`` is None only for an API elsewhere with no credentials configured.

    Args:
        endpoint_url: the API's base URL.
        profile: the AWS profile to use (default: the environment's).
        region: the signing region (default: the profile's or the environment's).
    """
    import boto3

    session = boto3.Session(profile_name=profile, region_name=region)
    if session.get_credentials() is None and is_loopback(urlsplit(endpoint_url).hostname or ""):
        session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - a local backend checks no signature
            region_name=region,
        )
    return session

"""The botocore service model ``ccf``, shipped as package data, and how botocore finds it.

An installed ccf-framework puts the data folder on ``AWS_DATA_PATH`` at interpreter start (a
``.pth`` file at the top of site-packages), so ``boto3.client("ccf", endpoint_url=...)`` works in
any process; :func:`register_service_model` does the same explicitly (for sessions made earlier,
or a Python started without site processing), and ``aws ccf ...`` works with
``AWS_DATA_PATH=$(python -m ccf_core.api)``. The model
is generated from ``infrastructure/openapi.json`` by ``scripts/generate_service_model.py``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

#: The botocore service name and API version of the model.
SERVICE_NAME = "ccf"
API_VERSION = "2025-06-01"

_DATA_PATH = Path(__file__).resolve().parent / "data"
_lock = threading.Lock()


def data_path() -> str:
    """The folder to add to botocore's search path (it holds ``ccf/2025-06-01/service-2.json``)."""
    return str(_DATA_PATH)


def register_service_model(session: Any = None) -> None:
    """Make botocore find the ``ccf`` model; idempotent and cheap.

    Adds the data folder to ``AWS_DATA_PATH`` (for every session created from now on), and to
    the loader of ``session`` (a boto3 or botocore session) and of boto3's default session if
    they already exist.
    """
    path = data_path()
    with _lock:
        parts = [part for part in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if part]
        if path not in parts:
            os.environ["AWS_DATA_PATH"] = os.pathsep.join([*parts, path])
        sessions = [session] if session is not None else []
        import boto3

        if boto3.DEFAULT_SESSION is not None:
            sessions.append(boto3.DEFAULT_SESSION)
        for found in sessions:
            _add_to_loader(getattr(found, "_session", found), path)


def _add_to_loader(botocore_session: Any, path: str) -> None:
    loader = botocore_session.get_component("data_loader")
    if path not in loader.search_paths:
        loader.search_paths.append(path)
        # The loader memoises the services it found; forget them so it looks again.
        cache = getattr(loader, "_cache", None)
        if isinstance(cache, dict):
            cache.clear()


def create_client(
    endpoint_url: str,
    *,
    region_name: str | None = None,
    session: Any = None,
    config: Any = None,
) -> Any:
    """A boto3 ``ccf`` client for the API at ``endpoint_url`` (signed with SigV4 for ``execute-api``).

    The client always uses this package's model (``api_version`` :data:`API_VERSION`, searched in
    this package's folder first): botocore would otherwise take the highest version it finds, and
    the upstream CCF's deploy script registers its own ``ccf`` model (api version
    ``2025-07-09T22:47:42Z``, without paging parameters) in ``~/.aws/models``.

    Args:
        endpoint_url: the API's base URL (``https://{api}.execute-api.{region}.amazonaws.com/prod``
            or a local backend's ``http://127.0.0.1:8000``).
        region_name: the signing region; defaults to the session's, then ``us-east-1``.
        session: a ``boto3.Session`` (default: a new one with the usual credential chain).
        config: a ``botocore.config.Config``.
    """
    import boto3

    session = session or boto3.Session()
    register_service_model(session)
    _search_first(getattr(session, "_session", session), data_path())
    region = region_name or session.region_name or "us-east-1"
    return session.client(
        SERVICE_NAME, api_version=API_VERSION, endpoint_url=endpoint_url, region_name=region, config=config
    )


def _search_first(botocore_session: Any, path: str) -> None:
    """Put ``path`` first in the session's model search path (it holds only the ``ccf`` model)."""
    loader = botocore_session.get_component("data_loader")
    if loader.search_paths[:1] != [path]:
        with _lock:
            if path in loader.search_paths:
                loader.search_paths.remove(path)
            loader.search_paths.insert(0, path)
            cache = getattr(loader, "_cache", None)
            if isinstance(cache, dict):
                cache.clear()

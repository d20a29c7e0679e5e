"""The key a connector's state is kept under: one per connector and destination."""

from __future__ import annotations

from ccf_core.ports import Destination


def state_scope(connector: str, destination: Destination) -> str:
    """The key a connector's state is kept under for one destination: ``connector@identity``.

    State belongs to a connector *and* a destination, so pointing a connector at another index
    syncs everything there instead of finding it all "unchanged". A destination without an
    ``identity`` attribute keeps the bare connector name.
    """
    identity = getattr(destination, "identity", None)
    return f"{connector}@{identity}" if identity else connector


def split_scope(scope: str) -> tuple[str, str | None]:
    """``(connector, destination identity)`` of a state key (identity None for a bare name)."""
    connector, separator, identity = scope.partition("@")
    return connector, identity if separator else None

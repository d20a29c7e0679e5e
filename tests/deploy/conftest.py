"""The deploy tests reuse the backend suite's local API (``backend``) and its boto3 client (``ccf``)."""

from tests.backend.conftest import backend, ccf

__all__ = ["backend", "ccf"]

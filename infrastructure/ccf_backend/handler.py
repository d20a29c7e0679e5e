"""The API Lambda: an API Gateway (REST, AWS_IAM) proxy event in, a proxy response out."""

from __future__ import annotations

from typing import Any

from ccf_backend import logs, routes


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Serve one API request; every operation of ``infrastructure/openapi.json`` comes through here."""
    logs.configure()
    return routes.dispatch(event, getattr(context, "aws_request_id", None))

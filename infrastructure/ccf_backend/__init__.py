"""The CCF backend: the API Lambda, its DynamoDB storage and a local server for development.

Imports ccf_core (the wire models) and boto3, never ccf_runner or a plugin. The Lambda entry
point is :func:`ccf_backend.handler.lambda_handler`.
"""

__all__: list[str] = []

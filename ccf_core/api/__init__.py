"""The CCF HTTP API from the client side: wire models, the ``ccf`` service model and ``CCFClient``.

``register_service_model()`` lets ``boto3.client("ccf", endpoint_url=...)`` find the model
shipped in this package; ``CCFClient`` is the thick client the runner and the builder-kit
interface use.
"""

from ccf_core.api.client import CCFClient, DocumentsMap
from ccf_core.api.errors import ApiConflict, ApiRequestInvalid, ApiResourceNotFound, ApiThrottled, CCFApiError
from ccf_core.api.hosts import is_loopback
from ccf_core.api.service_model import (
    API_VERSION,
    SERVICE_NAME,
    create_client,
    data_path,
    register_service_model,
)

__all__ = [
    "API_VERSION",
    "SERVICE_NAME",
    "ApiConflict",
    "ApiRequestInvalid",
    "ApiResourceNotFound",
    "ApiThrottled",
    "CCFApiError",
    "CCFClient",
    "DocumentsMap",
    "create_client",
    "data_path",
    "is_loopback",
    "register_service_model",
]

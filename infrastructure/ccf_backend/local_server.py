"""The API on localhost: the Lambda handler behind ``http.server``, DynamoDB under moto.

Each HTTP request becomes an API Gateway REST proxy event with a fake caller identity (account
``123456789012`` unless told otherwise), goes through :func:`ccf_backend.handler.lambda_handler`
exactly as in AWS, and the proxy response becomes the HTTP response. Signatures are not checked.
DynamoDB is moto's in-memory backend, started in this process (``moto.mock_aws``): the data lives
as long as the server. ``ccf backend serve`` runs this; the backend tests use it too.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ccf_backend import clients, handler, logs, tokens
from ccf_backend.settings import Settings, set_settings

FAKE_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

_moto_lock = threading.RLock()
_moto_patched = False


def serialize_moto_dynamodb() -> None:
    """Make each moto DynamoDB call atomic, as each DynamoDB call is in AWS.

    moto's in-memory tables are not thread-safe: two transactions running in two threads can
    both pass their conditions. DynamoDB guarantees that a conditional write or a transaction is
    atomic; holding one lock per call gives moto the same guarantee and nothing more (a
    read-then-write across two calls still races, as it would in AWS).
    """
    global _moto_patched  # noqa: PLW0603 - patch once per process
    with _moto_lock:
        if _moto_patched:
            return
        from moto.dynamodb.responses import DynamoHandler

        original = DynamoHandler.call_action

        @functools.wraps(original)
        def call_action(self: Any) -> Any:
            with _moto_lock:
                return original(self)

        DynamoHandler.call_action = call_action  # type: ignore[method-assign]
        _moto_patched = True


def proxy_event(
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    *,
    account_id: str = FAKE_ACCOUNT_ID,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The API Gateway REST proxy event API Gateway would send for this request."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    try:
        text: str | None = body.decode("utf-8") if body else None
        encoded = False
    except UnicodeDecodeError:
        import base64

        text, encoded = base64.b64encode(body).decode("ascii"), True
    request_id = str(uuid.uuid4())
    return {
        "resource": "/{proxy+}",
        "path": parts.path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": parts.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": account_id,
            "apiId": "local",
            "stage": "local",
            "requestId": request_id,
            "httpMethod": method,
            "path": parts.path,
            "resourcePath": "/{proxy+}",
            "identity": {
                "accountId": account_id,
                "caller": "AIDALOCALDEVELOPER",
                "userArn": f"arn:aws:iam::{account_id}:user/local-developer",
                "sourceIp": source_ip,
            },
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "ccf-local-backend"
    protocol_version = "HTTP/1.1"
    account_id = FAKE_ACCOUNT_ID

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        event = proxy_event(
            self.command,
            self.path,
            dict(self.headers.items()),
            body,
            account_id=self.account_id,
            source_ip=self.client_address[0],
        )
        context = SimpleNamespace(
            aws_request_id=event["requestContext"]["requestId"], get_remaining_time_in_millis=lambda: 29_000
        )
        result = handler.lambda_handler(event, context)
        payload = result.get("body") or ""
        data = payload.encode("utf-8")
        self.send_response(int(result["statusCode"]))
        for name, value in (result.get("headers") or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve
    # Methods no operation has get the API's JSON 405 from the router, not http.server's HTML 501.
    do_OPTIONS = do_TRACE = do_QUERY = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged by the handler as JSON; the default access log is off."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients at once (the default backlog is 5)


class LocalBackend:
    """The backend on ``http://host:port``, with its own in-memory DynamoDB.

    Use as a context manager (or :meth:`start` / :meth:`stop`); :attr:`endpoint_url` is what
    ``boto3.client("ccf", endpoint_url=...)`` and ``ccf --endpoint-url`` take. With
    ``job_seconds``, fake jobs go STARTED -> RUNNING -> SUCCEEDED (after that many seconds), and
    STOPPING -> STOPPED (see :mod:`ccf_backend.local_jobs`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account_id: str = FAKE_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        use_moto: bool = True,
        settings: Settings | None = None,
        job_seconds: float | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.account_id = account_id
        self.region = region
        self.use_moto = use_moto
        self.settings = settings or Settings(region=region, purge_seconds=300.0)
        self.job_seconds = job_seconds
        self._jobs: Any = None
        self._mock: Any = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        """The base URL of the API."""
        if self._server is None:
            raise RuntimeError("the local backend is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalBackend:
        """Start moto (unless ``use_moto`` is false), create the tables and serve in a thread."""
        if self.use_moto:
            for name, value in (
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
            ):
                os.environ.setdefault(name, value)
            from moto import mock_aws

            serialize_moto_dynamodb()
            self._mock = mock_aws()
            self._mock.start()
        set_settings(self.settings)
        clients.set_client_factory(None)
        tokens.set_codec(None)
        from ccf_backend.storage.tables import create_tables

        create_tables(clients.get_client("dynamodb"), self.settings)
        if self.job_seconds is not None:
            from ccf_backend.local_jobs import LocalJobRunner

            self._jobs = LocalJobRunner(self.job_seconds).start()
        handler_class = type("LocalRequestHandler", (_RequestHandler,), {"account_id": self.account_id})
        self._server = _Server((self.host, self.port), handler_class)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ccf-local-backend", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and stop moto (its data is gone)."""
        if self._jobs is not None:
            self._jobs.stop()
            self._jobs = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        clients.set_client_factory(None)
        tokens.set_codec(None)
        set_settings(None)
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def wait(self) -> None:
        """Block until interrupted (Ctrl-C), then stop."""
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> LocalBackend:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1", port: int = 8000, *, job_seconds: float | None = 10.0, log_stream: Any = None
) -> LocalBackend:
    """Start a local backend and configure its JSON logs (to ``log_stream``, stderr by default)."""
    import sys

    logs.configure(stream=log_stream or sys.stderr)
    return LocalBackend(host, port, job_seconds=job_seconds).start()

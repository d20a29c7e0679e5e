"""The API on localhost: the Lambda handler behind ``http.server``, on SQLite or DynamoDB.

Each HTTP request becomes an API Gateway REST proxy event with a fake caller identity (account
``123456789012`` unless told otherwise), goes through :func:`ccf_backend.handler.lambda_handler`
exactly as in AWS, and the proxy response becomes the HTTP response. Signatures are not checked;
with an access token (``--token``) every request must carry it as a bearer token. The data is
in one SQLite file under the data folder (``ccf backend serve --data DIR``), or in moto's
in-memory DynamoDB (the DynamoDB half of the backend tests). Started jobs run as subprocesses
(:mod:`ccf_backend.local_executor`).
"""

from __future__ import annotations

import email.utils
import functools
import hmac
import json
import os
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ccf_backend import clients, errors, handler, logs, tokens
from ccf_backend.settings import Settings, set_settings
from ccf_backend.storage.interface import use_storage
from ccf_core.api.hosts import is_loopback

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


#: API Gateway refuses bodies over 10 MB; so does the local server (before reading them).
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Routes the local server answers itself, outside the API (the job logs of the local executor).
LOCAL_PREFIX = "/local/"


_date: tuple[int, str] = (0, "")


def _http_date(now: float | None = None) -> str:
    """The ``Date`` header for ``now`` (default: the clock); formatted once a second, not per request."""
    global _date  # noqa: PLW0603 - a cache the request threads share (a tuple: replaced whole)
    second = int(time.time() if now is None else now)
    if _date[0] != second:
        _date = (second, email.utils.formatdate(second, usegmt=True))
    return _date[1]


class _RequestHandler(BaseHTTPRequestHandler):
    server_version = "ccf-local-backend"
    protocol_version = "HTTP/1.1"
    account_id = FAKE_ACCOUNT_ID
    #: The bearer token clients must send, if any (``--token``).
    token: str | None = None
    #: Answers ``/local/...`` routes (the executor's job logs); None: 404.
    local_routes: Any = None
    #: Held while the handler serves a request, so one request runs at a time (None: no lock).
    #: The handler is Python and SQLite work under the GIL, so requests cannot overlap anyway;
    #: without the lock 50 busy threads take the GIL from each other in the middle of requests
    #: (26 futex calls per list call under 50 clients, against 12 with it): a quarter more CPU.
    handling: Any = None

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Send the whole response in one write (no small writes for Nagle to hold back)."""
        lines = [f"{self.protocol_version} {status} {self.responses.get(status, ('',))[0]}\r\n"]
        all_headers = {"Server": self.version_string(), "Date": _http_date()}
        all_headers.update(headers or {})
        all_headers["Content-Length"] = str(len(body))
        if self.close_connection:
            all_headers["Connection"] = "close"
        lines += [f"{name}: {value}\r\n" for name, value in all_headers.items()]
        head = ("".join(lines) + "\r\n").encode("latin-1", "replace")
        self.wfile.write(head + (b"" if self.command == "HEAD" else body))
        self.wfile.flush()

    def _error(self, error: errors.ApiError, *, close: bool = False) -> None:
        self.close_connection = self.close_connection or close
        body = json.dumps(error.body(), separators=(",", ":")).encode("utf-8")
        self._answer(
            error.status,
            body,
            {"Content-Type": "application/json", "x-amzn-ErrorType": error.error_type.value},
        )

    def _body_length(self) -> int | None:
        """The request's Content-Length, or None after answering 400 for a bad one."""
        if self.headers.get("Transfer-Encoding"):
            # The body's end could not be found: answer, and close rather than misread the rest.
            self._error(
                errors.BadRequest("Transfer-Encoding", "not supported: send the body with a Content-Length"),
                close=True,
            )
            return None
        text = self.headers.get("Content-Length")
        if text is None:
            return 0
        text = text.strip()
        if not (text.isascii() and text.isdigit()):  # "²".isdigit() is True, and int() refuses it
            self._error(
                errors.BadRequest("Content-Length", f"must be a number of bytes, not {text[:40]!r}"),
                close=True,
            )
            return None
        length = int(text)
        if length > MAX_BODY_BYTES:
            self._error(
                errors.BadRequest("Content-Length", f"the body may be at most {MAX_BODY_BYTES} bytes"),
                close=True,
            )
            return None
        return length

    def _authorized(self) -> bool:
        if self.token is None:
            return True
        given = self.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode()):
            return True
        # Closed: the body of a refused request is never read.
        self._error(
            errors.Unauthorized(
                "this server requires its access token: send 'Authorization: Bearer <token>' "
                "(ccf: --token or CCF_API_TOKEN)"
            ),
            close=True,
        )
        return False

    def _serve(self) -> None:
        if not self._authorized():
            return
        length = self._body_length()
        if length is None:
            return
        body = self.rfile.read(length) if length else b""
        if self.path.startswith(LOCAL_PREFIX):
            self._serve_local()
            return
        # HEAD is GET without the body (http.server would answer 501).
        method = "GET" if self.command == "HEAD" else self.command
        event = proxy_event(
            method,
            self.path,
            dict(self.headers.items()),
            body,
            account_id=self.account_id,
            source_ip=self.client_address[0],
        )
        context = SimpleNamespace(
            aws_request_id=event["requestContext"]["requestId"], get_remaining_time_in_millis=lambda: 29_000
        )
        if self.handling is None:
            result = handler.lambda_handler(event, context)
        else:
            with self.handling:
                result = handler.lambda_handler(event, context)
        payload = (result.get("body") or "").encode("utf-8")
        self._answer(int(result["statusCode"]), payload, dict(result.get("headers") or {}))

    def _serve_local(self) -> None:
        routes = self.local_routes
        found = routes(self.command, self.path) if routes is not None else None
        if found is None:
            self._error(errors.NotFound(f"no local route for {self.command} {urlsplit(self.path).path}"))
            return
        status, headers, data = found
        self._answer(status, data, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve
    # Methods no operation has get the API's JSON 405 from the router, not http.server's HTML 501.
    do_OPTIONS = do_TRACE = do_QUERY = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged by the handler as JSON; the default access log is off."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients at once (the default backlog is 5)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection with Nagle's algorithm off: replies go out at once on keep-alive."""
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class LocalBackend:
    """The backend on ``http://host:port``.

    Use as a context manager (or :meth:`start` / :meth:`stop`); :attr:`endpoint_url` is what
    ``boto3.client("ccf", endpoint_url=...)`` and ``ccf --endpoint-url`` take.

    Args:
        host: the address to listen on; anything but loopback needs ``token`` or ``insecure``.
        port: the port (0: any free port).
        account_id: the AWS account every caller is taken to be.
        region: the region in ARNs.
        data_dir: keep the data in ``DATA_DIR/backend.db`` (SQLite; survives restarts). Without
            it, the data lives in moto's in-memory DynamoDB for as long as the server.
        use_moto: with no ``data_dir``, start moto (False: use whatever DynamoDB boto3 reaches).
        settings: the backend settings (table names, region).
        jobs: what happens to started jobs: ``"local"`` runs them as subprocesses
            (:mod:`ccf_backend.local_executor`, needs ``data_dir``), ``"fake"`` moves them through
            their states without running anything (:mod:`ccf_backend.local_jobs`), ``"none"``
            leaves them as the API left them.
        fake_job_seconds: how long a fake job stays RUNNING.
        token: the bearer token every client must send.
        insecure: allow a non-loopback ``host`` without a token.
        stop_grace_seconds: how long a stopped local job has between SIGTERM and SIGKILL.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account_id: str = FAKE_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        data_dir: str | Path | None = None,
        use_moto: bool = True,
        settings: Settings | None = None,
        jobs: str = "none",
        fake_job_seconds: float = 10.0,
        token: str | None = None,
        insecure: bool = False,
        stop_grace_seconds: float = 10.0,
    ) -> None:
        if jobs not in ("local", "fake", "none"):
            raise ValueError(f"jobs must be local, fake or none, not {jobs!r}")
        if jobs == "local" and data_dir is None:
            raise ValueError("the local executor needs a data folder (data_dir) for its logs and indexes")
        if not is_loopback(host) and not token and not insecure:
            raise ValueError(
                f"refusing to serve the API on {host}, which other machines can reach, without an access "
                "token: give --token (clients then send it) or --insecure"
            )
        self.host = host
        self.port = port
        self.account_id = account_id
        self.region = region
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.use_moto = use_moto
        self.settings = settings or Settings(region=region, purge_seconds=300.0)
        self.jobs = jobs
        self.fake_job_seconds = fake_job_seconds
        self.token = token
        self.stop_grace_seconds = stop_grace_seconds
        self.storage: Any = None
        self.executor: Any = None
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
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def _open_storage(self) -> None:
        set_settings(self.settings)
        clients.set_client_factory(None)
        tokens.set_codec(None)
        if self.data_dir is not None:
            from ccf_backend.storage.sqlite import SqliteStorage

            self.storage = SqliteStorage(self.data_dir / "backend.db", self.settings.job_retention_days)
            use_storage(self.storage)
            return
        use_storage(None)
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
        from ccf_backend.storage.tables import create_tables

        create_tables(clients.get_client("dynamodb"), self.settings)

    def start(self) -> LocalBackend:
        """Open the storage, start serving in a thread, then start the job executor."""
        self._open_storage()
        attributes: dict[str, Any] = {"account_id": self.account_id, "token": self.token}
        if self.data_dir is not None:
            # SQLite in this process: requests are CPU work that cannot run in parallel. With
            # DynamoDB (moto or a real endpoint) a request may wait on the network: no lock.
            attributes["handling"] = threading.Lock()
        if self.jobs == "local":
            from ccf_backend.local_executor import LocalExecutor

            assert self.data_dir is not None
            self.executor = LocalExecutor(self.data_dir, grace_seconds=self.stop_grace_seconds)
            attributes["local_routes"] = staticmethod(self.executor.local_route)
        handler_class = type("LocalRequestHandler", (_RequestHandler,), attributes)
        self._server = _Server((self.host, self.port), handler_class)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ccf-local-backend", daemon=True
        )
        self._thread.start()
        if self.executor is not None:
            self.executor.start(self.endpoint_url, api_token=self.token)
        elif self.jobs == "fake":
            from ccf_backend.local_jobs import LocalJobRunner

            self._jobs = LocalJobRunner(self.fake_job_seconds).start()
        return self

    def stop(self) -> None:
        """Stop the jobs, stop serving, close the storage (moto's data is gone; SQLite's stays)."""
        if self.executor is not None:
            self.executor.stop_all()
            self.executor = None
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
        use_storage(None)
        if self.storage is not None:
            self.storage.close()
            self.storage = None
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
    host: str = "127.0.0.1", port: int = 8000, *, log_stream: Any = None, **options: Any
) -> LocalBackend:
    """Start a local backend (``options`` as :class:`LocalBackend` takes them) with JSON logs on stderr."""
    import sys

    logs.configure(stream=log_stream or sys.stderr)
    return LocalBackend(host, port, **options).start()

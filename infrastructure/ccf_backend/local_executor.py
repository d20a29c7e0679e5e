"""The local executor: ``ccf backend serve`` runs each started job as a subprocess.

It implements :class:`ccf_backend.executors.JobExecutor`, as the AWS Batch executor does, and a
thread drives it with the shared transitions of :mod:`ccf_backend.executors`: a STARTED job is
launched with exactly the command and environment :func:`ccf_backend.launch.build_launch` gives
AWS Batch (``ccf-run --connector <type> --state api`` and the ``CUSTOM_CONNECTOR_FRAMEWORK_*``,
``CCF_<CONNECTOR>_<FIELD>`` and Q Business variables), a STOPPING job gets SIGTERM and, after
the grace period, SIGKILL, and a job whose process ended becomes SUCCEEDED, FAILED (with the exit
code and the log's last line) or STOPPED.

Where things go, under the data folder ``DATA``:

- ``DATA/jobs/<connector_id>/<job_id>.log``: the job's output (stdout and stderr);
- ``DATA/jobs/<connector_id>/``: the job's working folder; with no Q Business ids in the
  connector, ``ccf-run`` writes its local index to ``.ccf/index.db`` there
  (``ccf search --index DATA/jobs/<connector_id>/.ccf/index.db``).

Deliberate differences from a container:

- The process inherits the server's environment (PATH, AWS credentials for Q Business), minus
  the framework's own variables, which come from the launch spec only.
- Secret references are not resolved: a connector with ``secret_references`` fails to start,
  saying so. Give the value to the server's environment instead (``CCF_<CONNECTOR>_<FIELD>``);
  resolving ARNs here would put the server's AWS credentials behind any connector's request.
- The connector type must be installed in the server's Python environment; if not, the job fails
  saying which package to install.

On start, jobs that were RUNNING or STOPPING when the previous server died are closed by the
reaper logic at once (FAILED, or STOPPED if a stop was asked), and their orphaned processes are
killed when they can be recognised (``/proc``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

from ccf_backend import executors
from ccf_backend.executors import ExternalState, ExternalStatus
from ccf_backend.launch import JOB_ID_VARIABLE, LaunchSpec
from ccf_backend.storage import jobs as jobs_dao
from ccf_core.api.models import JobStatus

logger = logging.getLogger(__name__)
#: Why a job still running when ``ccf backend serve`` stops ends FAILED (STOPPED if a stop was asked).
_STOPPED_WITH_SERVER = "ccf backend serve was stopped while the job ran"

#: Variables of the server's own environment a job never inherits: the launch spec sets them.
_FRAMEWORK_VARIABLES = re.compile(
    r"^(CUSTOM_CONNECTOR_|Q_BUSINESS_|CCF_LOAD_PLUGINS$|CCF_DISABLE_PLUGINS$|CCF_API_TOKEN$|CCF_ENDPOINT_URL$)"
)
_LOG_ROUTE = re.compile(r"^/local/jobs/(cc-[0-9a-f]{12})/(ccj-[0-9a-f]{12})/log$")
_PLUGIN_GROUP = "ccf"
_TRAILER = "[ccf backend serve]"
#: How long a job may be without news before the reaper closes it as lost (runs in this process).
LOST_GRACE_SECONDS = 30.0


class LocalLaunchError(Exception):
    """The job cannot run on this machine as it is (the message says what to change)."""


@dataclass
class _Process:
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    stop_requested_at: float | None = None
    killed: bool = False
    returncode: int | None = field(default=None)


def job_folder(data_dir: Path, connector_id: str) -> Path:
    """The working folder of a connector's jobs (the local index is ``.ccf/index.db`` in it)."""
    return data_dir / "jobs" / connector_id


def log_path(data_dir: Path, connector_id: str, job_id: str) -> Path:
    """Where a job's output goes."""
    return job_folder(data_dir, connector_id) / f"{job_id}.log"


def _installed(connector_type: str) -> bool:
    return bool(entry_points(group=_PLUGIN_GROUP, name=connector_type))


def _last_line(path: Path, limit: int = 300) -> str:
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - 8192))
            lines = [line.strip() for line in file.read().decode("utf-8", "replace").splitlines()]
    except OSError:
        return ""
    found = next((line for line in reversed(lines) if line and not line.startswith(_TRAILER)), "")
    return found[:limit]


class LocalExecutor:
    """Runs jobs as subprocesses of the server and drives them through their states.

    Args:
        data_dir: the server's data folder (logs and job folders go under ``jobs/``).
        grace_seconds: time between SIGTERM and SIGKILL when a job is stopped.
        interval: how often the driver looks at the jobs.
    """

    def __init__(self, data_dir: Path, *, grace_seconds: float = 10.0, interval: float = 0.2) -> None:
        self.data_dir = Path(data_dir)
        self.grace_seconds = grace_seconds
        self.interval = interval
        self.endpoint_url = ""
        self.api_token: str | None = None
        self._processes: dict[str, _Process] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Whether this server's environment has AWS credentials, found once: without any, boto3's
        #: search ends at the instance metadata service, a second or more per job start otherwise.
        self._credentials: bool | None = None

    # -- JobExecutor ---------------------------------------------------------------------------

    def submit(self, spec: LaunchSpec, connector_id: str, job_id: str) -> str:
        """Start ``ccf-run`` for the job; its external id (``local:<pid>:<job id>``)."""
        connector_type = spec.command[2] if len(spec.command) > 2 else ""
        if spec.secrets:
            raise LocalLaunchError(
                "the local executor does not resolve secret references ("
                + ", ".join(sorted(spec.secrets))
                + "): remove them from the connector and give the values to the environment of "
                "`ccf backend serve` instead (e.g. CCF_<CONNECTOR>_<FIELD>=...)"
            )
        if not _installed(connector_type):
            raise LocalLaunchError(
                f"connector type {connector_type!r} is not installed in the Python environment of "
                f"`ccf backend serve` ({sys.prefix}): pip install its plugin there and restart the server"
            )
        folder = job_folder(self.data_dir, connector_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = log_path(self.data_dir, connector_id, job_id)
        log_file = path.open("ab")
        try:
            popen = subprocess.Popen(  # noqa: S603 - the command comes from build_launch
                [self._program(spec.command[0]), *spec.command[1:]],
                cwd=folder,
                env=self._environment(spec),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C on the server's terminal is the server's to handle
            )
        except OSError:
            log_file.close()
            raise
        external_id = f"local:{popen.pid}:{job_id}"
        with self._lock:
            self._processes[external_id] = _Process(popen, path, log_file)
        logger.info("job %s of %s started as process %d, log %s", job_id, connector_id, popen.pid, path)
        return external_id

    def stop(self, external_id: str) -> None:
        """SIGTERM the job's process group (once); the driver sends SIGKILL after the grace period."""
        with self._lock:
            process = self._processes.get(external_id)
            if process is None or process.stop_requested_at is not None or process.popen.poll() is not None:
                return
            process.stop_requested_at = time.monotonic()
        self._signal(process, signal.SIGTERM)

    def status(self, external_id: str) -> ExternalStatus | None:
        """RUNNING, SUCCEEDED or FAILED (with the exit code and the log's last line); None if unknown."""
        with self._lock:
            process = self._processes.get(external_id)
        if process is None:
            return None
        code = process.popen.poll()
        if code is None:
            return ExternalStatus(ExternalState.RUNNING)
        with self._lock:
            if not process.log_file.closed:
                # The last line of every log says how the process ended (the exit code is not
                # in the job's record: its status and reason are).
                process.log_file.write(f"{_TRAILER} ccf-run ended with exit code {code}\n".encode())
                process.log_file.close()
        if code == 0:
            return ExternalStatus(ExternalState.SUCCEEDED)
        how = f"was killed by signal {-code}" if code < 0 else f"ended with exit code {code}"
        last = _last_line(process.log_path)
        return ExternalStatus(
            ExternalState.FAILED,
            f"ccf-run {how} (log: {process.log_path})" + (f": {last}" if last else ""),
        )

    # -- the driver ----------------------------------------------------------------------------

    def start(self, endpoint_url: str, api_token: str | None = None) -> LocalExecutor:
        """Close what the previous server left running, then drive jobs in a thread."""
        self.endpoint_url = endpoint_url
        self.api_token = api_token
        self._close_orphans()
        self._thread = threading.Thread(target=self._loop, name="ccf-local-executor", daemon=True)
        self._thread.start()
        return self

    def stop_all(self) -> None:
        """Stop driving; stop every running job and close it (STOPPED if asked, FAILED otherwise)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            running = [(key, p) for key, p in self._processes.items() if p.popen.poll() is None]
        for _, process in running:
            self._signal(process, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for _, process in running:
            try:
                process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal(process, signal.SIGKILL)
                process.popen.wait()
        for external_id, process in running:
            _, _, job_id = external_id.split(":", 2)
            connector_id = process.log_path.parent.name
            job = executors.current_job(connector_id, job_id)
            if job is None:
                continue  # its connector was deleted meanwhile: nothing to close
            external = self.status(external_id)
            if external is None or external.state is not ExternalState.SUCCEEDED:
                # It was stopped with the server, not by its own end: STOPPED when a stop was asked.
                external = ExternalStatus(
                    ExternalState.FAILED, "ccf backend serve was stopped while the job ran"
                )
            executors.finish_from_external(connector_id, job_id, JobStatus(job["status"]), external)
        for external_id in list(self._processes):
            self.status(external_id)  # writes each log's last line and closes it

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.step()
            except Exception:
                logger.exception("the local executor failed a step; it will try again")

    def step(self) -> None:
        """Start STARTED jobs, stop STOPPING ones, close ended or lost ones, SIGKILL late stoppers.

        The active jobs are listed once. The reaper then judges only those whose record is still
        as listed: not one that was STARTED (it was just launched or failed, or is launched on the
        next step), nor one this step moved.
        """
        active = jobs_dao.list_active_jobs()
        as_listed = []
        for job in active:
            try:
                moved = executors.dispatch_job(self, job, api_endpoint=self.endpoint_url)
            except Exception:
                # One job's trouble (a storage error, a signal refused) must not hold up the others,
                # nor the reaper below: that job is tried again on the next step.
                logger.exception(
                    "job %s of %s: dispatch failed; trying again", job["job_id"], job["connector_id"]
                )
                continue
            if moved is None and JobStatus(job["status"]) is not JobStatus.STARTED:
                as_listed.append(job)
        executors.reap(self, LOST_GRACE_SECONDS, jobs=as_listed)
        now = time.monotonic()
        with self._lock:
            late = [
                p
                for p in self._processes.values()
                if p.stop_requested_at is not None
                and not p.killed
                and p.popen.poll() is None
                and now - p.stop_requested_at > self.grace_seconds
            ]
        for process in late:
            process.killed = True
            logger.warning(
                "process %d did not stop within %gs: SIGKILL", process.popen.pid, self.grace_seconds
            )
            self._signal(process, signal.SIGKILL)
        self._forget_closed(active)

    def _forget_closed(self, active: list[dict[str, Any]]) -> None:
        """Drop the processes of closed jobs: ended, log closed, and not among the ``active`` jobs.

        A job closed during this step is still in ``active`` (listed at its start): its process is
        dropped on the next step.
        """
        with self._lock:
            ended = [
                key for key, p in self._processes.items() if p.popen.poll() is not None and p.log_file.closed
            ]
        if not ended:
            return
        external_ids = {str(job.get(executors.EXTERNAL_ID) or "") for job in active}
        with self._lock:
            for key in ended:
                if key not in external_ids:
                    del self._processes[key]

    def _close_orphans(self) -> None:
        """Close the jobs a previous server left RUNNING or STOPPING (it died without closing them)."""
        now = time.time()
        for job in jobs_dao.list_active_jobs():
            if JobStatus(job["status"]) is JobStatus.STARTED:
                continue  # never launched: the driver launches it now
            external_id = str(job.get(executors.EXTERNAL_ID) or "")
            _kill_orphan(external_id, str(job["job_id"]))
            moved = executors.reap_job(self, job, 0.0, now + 1)
            logger.warning(
                "job %s of %s was left by a previous server: %s", job["job_id"], job["connector_id"], moved
            )

    # -- helpers -------------------------------------------------------------------------------

    def _program(self, name: str) -> str:
        # The server's own environment first (a venv's bin folder need not be on PATH).
        beside = Path(sys.executable).parent / name
        if beside.exists():
            return str(beside)
        found = shutil.which(name)
        if found is None:
            raise LocalLaunchError(
                f"{name} is not on PATH of `ccf backend serve`: install ccf-framework there"
            )
        return found

    def _environment(self, spec: LaunchSpec) -> dict[str, str]:
        environment = {
            name: value for name, value in os.environ.items() if not _FRAMEWORK_VARIABLES.match(name)
        }
        if self._credentials is None:
            self._credentials = _has_credentials(environment)
        if not self._credentials:
            # The local API checks no signature, but boto3 will not send a request without one.
            environment.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")  # noqa: S106
        environment.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        environment.update(spec.environment)
        if self.api_token:
            environment["CCF_API_TOKEN"] = self.api_token
        return environment

    @staticmethod
    def _signal(process: _Process, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.popen.pid, signum)

    # -- the log route -------------------------------------------------------------------------

    def local_route(self, method: str, target: str) -> tuple[int, dict[str, str], bytes] | None:
        """``GET|HEAD /local/jobs/<connector>/<job>/log?offset=N``: the job's log from byte N."""
        parts = urlsplit(target)
        found = _LOG_ROUTE.match(parts.path)
        if found is None or method not in ("GET", "HEAD"):
            return None
        path = log_path(self.data_dir, found.group(1), found.group(2))
        try:
            offset = max(0, int((parse_qs(parts.query).get("offset") or ["0"])[0]))
        except ValueError:
            offset = 0
        headers = {"Content-Type": "text/plain; charset=utf-8", "X-Ccf-Log-Path": str(path.resolve())}
        if not path.exists():
            return 404, headers, b""
        with path.open("rb") as file:
            file.seek(offset)
            data = file.read(4 * 1024 * 1024)
        headers["X-Ccf-Log-Next-Offset"] = str(offset + len(data))
        return 200, headers, data


def _has_credentials(environment: dict[str, str]) -> bool:
    if environment.get("AWS_ACCESS_KEY_ID") or environment.get("AWS_PROFILE"):
        return True
    try:
        import boto3

        return boto3.Session().get_credentials() is not None
    except Exception:  # a broken AWS configuration: the dummy keys still reach the local API
        return False


def _kill_orphan(external_id: str, job_id: str) -> None:
    """SIGKILL a previous server's job process if it still runs and is that job's (Linux: /proc)."""
    match = re.fullmatch(r"local:(\d+):(ccj-[0-9a-f]+)", external_id)
    if match is None or match.group(2) != job_id:
        return
    pid = int(match.group(1))
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return  # gone, or no /proc to tell whose process it is
    if f"{JOB_ID_VARIABLE}={job_id}".encode() in environ.split(b"\0"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)

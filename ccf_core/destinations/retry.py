"""Retries for destinations that call a throttling AWS API through boto3.

:class:`AdaptiveLimiter` is an AIMD limit on concurrent calls: it shrinks by a factor when the
service throttles (:data:`THROTTLE_DECREASE_FACTOR` for a :class:`RetryingCaller`) and grows back
by steps for every window of successful calls, so a run finds the rate a service accepts without a
setting to tune. :class:`RetryingCaller` puts the limiter and a :class:`Backoff`
(exponential with full jitter, from :mod:`ccf_core.retry` and still importable from here) around a
boto3 client and sorts what fails into :class:`ErrorKind`s: retry it, give up on the items of the
call, or stop. :func:`in_threads` spreads calls of one kind (a destination's groups) over a few
threads.

botocore is imported only when a call fails.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from ccf_core.errors import CCFError
from ccf_core.retry import Backoff

__all__ = [
    "THROTTLED_TRIES",
    "THROTTLE_DECREASE_FACTOR",
    "THROTTLE_MAX_DELAY",
    "THROTTLE_RECOVERY_GROWTH",
    "AdaptiveLimiter",
    "Backoff",  # re-exported: it lived here before connectors shared it
    "CallError",
    "ErrorKind",
    "RetryingCaller",
    "build_client",
    "classify",
    "in_threads",
]

logger = logging.getLogger(__name__)

_THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException", "SlowDown"}
)
_TRANSIENT_CODES = frozenset({"InternalServerException", "InternalFailure", "ServiceUnavailable"})
_FATAL_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "MissingAuthenticationTokenException",
    }
)
_REFUSED_REASONS = {"ServiceQuotaExceededException": "quota_exceeded", "ConflictException": "conflict"}
_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


#: What one throttle (once per window) multiplies the number of calls in flight by. Q Business
#: throttles by rate, and a token bucket that refuses a call also refuses calls at random moments
#: whatever the concurrency: halving on each window starves the uploader (30% of calls throttled
#: at random brought 16 calls in flight down to 1-4 and the rate to 17% of the unthrottled one).
#: With 30% throttled at random, 0.75 kept 690-730 documents/s in bench/qbusiness.py (0.35-0.45 of
#: the unthrottled rate), 0.8 kept 737-810; against a token bucket both use 0.95-0.99 of its rate.
THROTTLE_DECREASE_FACTOR = 0.8

#: Steps of one the number of calls in flight grows by per window of successful calls, so a
#: limit lowered by a burst of throttles comes back within a few round trips.
THROTTLE_RECOVERY_GROWTH = 3.5

#: The longest wait before a throttled call is tried again while the limiter is above its
#: minimum, in seconds. The limiter, not the wait, keeps the calls under the service's rate: a call
#: backed off toward the backoff's cap (20 s) lagged behind the others, and the last batches of a
#: run waited for it (against a token bucket of 50 calls/s a run took 10.3-12.4 s for 10 s of
#: calls; 10.2-10.6 s with this cap). Once the limit is at its minimum the load cannot go lower by
#: itself, and waits grow to the cap again: a long congestion is waited out as before.
THROTTLE_MAX_DELAY = 1.0

#: The most tries of one call that is throttled while other calls succeed (or ``max_attempts``
#: when larger). Those throttles do not count toward ``max_attempts``: against a token bucket, a
#: call can lose its turn ten times in a row while the service takes the others (a batch failed
#: so twice in 8 runs of bench/qbusiness.py, while the run went on at the service's rate).
THROTTLED_TRIES = 50


class AdaptiveLimiter:
    """At most :attr:`limit` holders at once; the limit adapts to throttling (AIMD).

    A caller takes a slot with :meth:`acquire` and gives it back with :meth:`release`, saying whether
    the call was throttled. A throttled call multiplies the limit by ``decrease_factor``, at most
    once per window: throttles of calls that started before the last decrease do not count again
    (as TCP halves its window once per round trip). Every ``limit / growth`` successful calls with
    no throttle between them raise the limit by one, up to ``maximum``.

    Args:
        maximum: the limit to start with and never exceed.
        minimum: the limit never goes below this (at least 1).
        decrease_factor: what a throttle multiplies the limit by.
        growth: how many steps of one the limit grows by per window of successful calls.
    """

    def __init__(
        self, maximum: int, minimum: int = 1, decrease_factor: float = 0.5, growth: float = 1.0
    ) -> None:
        if maximum < 1:
            raise ValueError(f"maximum must be at least 1, is {maximum}")
        self.maximum = maximum
        self.minimum = max(1, min(minimum, maximum))
        self.decrease_factor = decrease_factor
        self.growth = max(growth, 1e-9)
        self._limit = maximum
        self._successes = 0
        self._in_use = 0
        self._epoch = 0
        self._condition = threading.Condition()
        self.decreases = 0
        self.peak_in_use = 0

    @property
    def limit(self) -> int:
        """How many callers may hold a slot now."""
        return self._limit

    @property
    def in_use(self) -> int:
        """How many slots are held now."""
        return self._in_use

    def acquire(self) -> int:
        """Wait for a free slot and take it; returns a ticket to hand back to :meth:`release`."""
        with self._condition:
            while self._in_use >= self.limit:
                self._condition.wait()
            self._in_use += 1
            self.peak_in_use = max(self.peak_in_use, self._in_use)
            return self._epoch

    def release(self, ticket: int, throttled: bool | None) -> None:
        """Give a slot back.

        Args:
            ticket: what :meth:`acquire` returned.
            throttled: True when the call was throttled, False when it succeeded, None when it
                failed for another reason (the limit does not change).
        """
        with self._condition:
            self._in_use -= 1
            if throttled:
                if ticket == self._epoch:
                    self._limit = max(self.minimum, int(self._limit * self.decrease_factor))
                    self._successes = 0
                    self._epoch += 1
                    self.decreases += 1
            elif throttled is not None and self._limit < self.maximum:
                self._successes += 1
                if self._successes >= self._limit / self.growth:
                    self._limit += 1
                    self._successes = 0
            self._condition.notify_all()


class ErrorKind(Enum):
    """What a failed call means for the caller."""

    #: throttled (HTTP 429 or a throttling code): retried, and the limiter lowers its limit
    THROTTLED = "throttled"
    #: a 5xx or a connection error: retried
    TRANSIENT = "service_error"
    #: the request was refused as invalid (HTTP 400): a batch is split to find the bad item
    INVALID = "invalid"
    #: access denied, unknown resource, bad credentials: nothing else will work either
    FATAL = "fatal"
    #: another refusal (conflict, quota): the items of the call fail, the run goes on
    REFUSED = "refused"


@dataclass(frozen=True)
class CallError:
    """A call that failed for good (after any retries): its kind, the service's code and message."""

    kind: ErrorKind
    code: str
    message: str
    resource_id: str | None = None
    attempts: int = 1

    @property
    def reason(self) -> str:
        """The failure reason to report for the items of the call."""
        if self.kind is ErrorKind.REFUSED:
            return _REFUSED_REASONS.get(self.code, "service_error")
        return "invalid_document" if self.kind is ErrorKind.INVALID else self.kind.value

    def describe(self, operation: str) -> str:
        """A one-line message naming the operation, the code and the service's message."""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{operation} failed{tries}: {self.code}: {self.message}"


def classify(err: Exception) -> CallError | None:
    """Sort a failed boto3 call into an :class:`ErrorKind`; None when ``err`` is not a call error."""
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, ParamValidationError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or err)
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        resource_id = err.response.get("resourceId")
        if code in _THROTTLING_CODES or status == 429:
            kind = ErrorKind.THROTTLED
        elif status >= 500 or code in _TRANSIENT_CODES:
            kind = ErrorKind.TRANSIENT
        elif code in _FATAL_CODES or status in (401, 403, 404):
            kind = ErrorKind.FATAL
        elif code == "ValidationException" or status == 400:
            kind = ErrorKind.INVALID
        else:
            kind = ErrorKind.REFUSED
        return CallError(kind, code, message, None if resource_id is None else str(resource_id))
    if isinstance(err, ParamValidationError):
        return CallError(ErrorKind.INVALID, "ParamValidationError", str(err))
    if isinstance(err, BotoConnectionError | HTTPClientError):
        return CallError(ErrorKind.TRANSIENT, type(err).__name__, str(err))
    if isinstance(err, BotoCoreError):
        return CallError(ErrorKind.FATAL, type(err).__name__, str(err))
    return None


class RetryingCaller:
    """Calls a boto3 client's operations with bounded retries and an AIMD limit on calls in flight.

    Every attempt holds a slot of :attr:`limiter`; a throttled attempt lowers the limit, a
    successful one raises it. Throttling and transient errors are retried up to ``max_attempts``
    times in all, after a random wait from ``backoff`` (at most :data:`THROTTLE_MAX_DELAY` after a
    throttle while the limit is above its minimum; a throttle while other calls got through does not
    count, up to :data:`THROTTLED_TRIES` tries, unless ``max_attempts`` is 1); the caller gets the
    response, or a :class:`CallError` once the call failed for good. Thread-safe.

    Args:
        client: a boto3 client (its own retries should be off).
        max_in_flight: the most calls at once.
        max_attempts: attempts per call, the first included.
        backoff: the waits between attempts.
    """

    def __init__(self, client: Any, *, max_in_flight: int, max_attempts: int, backoff: Backoff) -> None:
        self.client = client
        self.limiter = AdaptiveLimiter(
            max_in_flight, decrease_factor=THROTTLE_DECREASE_FACTOR, growth=THROTTLE_RECOVERY_GROWTH
        )
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff
        self.sleep: Callable[[float], None] = time.sleep
        #: Set when the run is asked to stop: waits end at once and no further retry is made.
        self.cancel_event: threading.Event | None = None
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self._succeeded = 0  # calls that succeeded, of every operation

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | CallError:
        """Call ``operation`` (its API name, e.g. ``BatchPutDocument``) with ``params``.

        Raises:
            Exception: whatever the client raised that is not a service or connection error.
        """
        method = getattr(self.client, _CAMEL_BOUNDARY.sub("_", operation).lower())
        counted = tries = 0
        progress = self._succeeded
        while True:
            ticket = self.limiter.acquire()
            try:
                response = method(**params)
            except Exception as err:
                error = classify(err)
                throttled = error is not None and error.kind is ErrorKind.THROTTLED
                self.limiter.release(ticket, True if throttled else None)
                if error is None:
                    raise
                tries += 1
                # Throttled while other calls got through since its last try: the service works and
                # this call lost its turn, which brings it no closer to giving up (THROTTLED_TRIES
                # tries in all at most).
                others_got_through, progress = self._succeeded > progress, self._succeeded
                if not (throttled and others_got_through and self.max_attempts > 1):
                    counted += 1
                if (
                    error.kind not in (ErrorKind.THROTTLED, ErrorKind.TRANSIENT)
                    or counted >= self.max_attempts
                    or tries >= max(THROTTLED_TRIES, self.max_attempts)
                    or self.cancelled
                ):
                    if tries > 1:
                        logger.warning("%s failed after %d attempts: %s", operation, tries, error.code)
                    return dataclasses.replace(error, attempts=tries)
                with self._lock:
                    self.retries[operation] += 1
                # While the limiter can still lower the load, it is what answers a throttle.
                quick = throttled and self.limiter.limit > self.limiter.minimum
                delay = self.backoff.delay(tries - 1, THROTTLE_MAX_DELAY if quick else None)
                logger.debug("%s: %s on attempt %d, retrying in %.2fs", operation, error.code, tries, delay)
                if not self.wait(delay):
                    return dataclasses.replace(error, attempts=tries)
                continue
            self.limiter.release(ticket, False)
            with self._lock:
                self.calls[operation] += 1
                self._succeeded += 1
            return dict(response)

    @property
    def cancelled(self) -> bool:
        """True once the run was asked to stop."""
        return self.cancel_event is not None and self.cancel_event.is_set()

    def wait(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if the run is asked to stop; False when it was."""
        if self.cancel_event is None:
            self.sleep(seconds)
            return True
        return not self.cancel_event.wait(seconds)

    def count(self, operation: str) -> None:
        """Count a call made outside :meth:`call` (an S3 upload, say)."""
        with self._lock:
            self.calls[operation] += 1

    def stats(self) -> dict[str, dict[str, int]]:
        """Successful calls and retries by operation."""
        with self._lock:
            return {"calls": dict(self.calls), "retries": dict(self.retries)}


def build_client(
    service: str,
    session: Any = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    attempts: int = 1,
) -> Any:
    """A boto3 client making ``attempts`` attempts per call (1: botocore never retries, callers do).

    ``total_max_attempts`` counts the first attempt; botocore's ``max_attempts`` counts retries only,
    so ``max_attempts=1`` would still retry once.

    Raises:
        CCFError: when no client can be built (no region, say).
    """
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    config = Config(retries={"total_max_attempts": attempts, "mode": "standard"}, max_pool_connections=64)
    try:
        session = session if session is not None else boto3.session.Session()
        # AWS_REGION is what Lambda and AWS Batch set; boto3 itself reads only AWS_DEFAULT_REGION.
        region = region or session.region_name or os.environ.get("AWS_REGION") or None
        return session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
    except BotoCoreError as err:
        raise CCFError(
            f"cannot build a boto3 {service} client: {err} (set region=, or AWS_REGION in the environment)"
        ) from err


Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def in_threads(function: Callable[[Item], Outcome], items: Sequence[Item], workers: int) -> list[Outcome]:
    """``function`` of each item, in order, with up to ``workers`` calls at once."""
    workers = min(len(items), workers)
    if workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(workers, thread_name_prefix="ccf-calls") as pool:
        return list(pool.map(function, items))

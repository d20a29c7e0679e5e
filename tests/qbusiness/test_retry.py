"""Unit tests of the retry parts: the AIMD limiter, error classification."""

from __future__ import annotations

import random
import threading
import time

from botocore.exceptions import ClientError, EndpointConnectionError

from ccf_core.destinations.retry import (
    THROTTLE_MAX_DELAY,
    THROTTLED_TRIES,
    AdaptiveLimiter,
    Backoff,
    CallError,
    ErrorKind,
    RetryingCaller,
    classify,
)


def client_error(code: str, status: int) -> ClientError:
    response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "BatchPutDocument")  # type: ignore[arg-type]


def test_limiter_halves_once_per_window_of_throttled_calls() -> None:
    limiter = AdaptiveLimiter(16)
    tickets = [limiter.acquire() for _ in range(8)]

    for ticket in tickets:
        limiter.release(ticket, throttled=True)

    assert limiter.limit == 8
    assert limiter.decreases == 1
    limiter.release(limiter.acquire(), throttled=True)
    assert limiter.limit == 4


def test_limiter_grows_by_one_per_window_of_successes_up_to_its_maximum() -> None:
    limiter = AdaptiveLimiter(8)
    limiter.release(limiter.acquire(), throttled=True)
    assert limiter.limit == 4

    for _ in range(4):
        limiter.release(limiter.acquire(), throttled=False)
    assert limiter.limit == 4 + 1

    for _ in range(200):
        limiter.release(limiter.acquire(), throttled=False)
    assert limiter.limit == 8


def test_limiter_with_a_gentler_decrease_and_faster_growth_recovers_within_a_window() -> None:
    limiter = AdaptiveLimiter(16, decrease_factor=0.75, growth=4)
    limiter.release(limiter.acquire(), throttled=True)
    assert limiter.limit == 12

    for _ in range(3):
        limiter.release(limiter.acquire(), throttled=False)
    assert limiter.limit == 13

    for _ in range(12):
        limiter.release(limiter.acquire(), throttled=False)
    assert limiter.limit == 16


def test_limiter_never_goes_below_its_minimum() -> None:
    limiter = AdaptiveLimiter(4)

    for _ in range(10):
        limiter.release(limiter.acquire(), throttled=True)

    assert limiter.limit == 1


def test_a_caller_waits_while_every_slot_is_taken() -> None:
    limiter = AdaptiveLimiter(1)
    ticket = limiter.acquire()
    got_in = threading.Event()
    waiter = threading.Thread(target=lambda: (limiter.acquire(), got_in.set()))
    waiter.start()

    time.sleep(0.05)
    assert not got_in.is_set()
    limiter.release(ticket, throttled=None)
    waiter.join(timeout=2)

    assert got_in.is_set()
    assert limiter.peak_in_use == 1


def test_errors_are_sorted_into_retry_give_up_or_stop() -> None:
    assert classify(client_error("ThrottlingException", 429)).kind is ErrorKind.THROTTLED
    assert classify(client_error("Whatever", 429)).kind is ErrorKind.THROTTLED
    assert classify(client_error("InternalServerException", 500)).kind is ErrorKind.TRANSIENT
    assert classify(client_error("BadGateway", 502)).kind is ErrorKind.TRANSIENT
    assert classify(EndpointConnectionError(endpoint_url="http://x")).kind is ErrorKind.TRANSIENT
    assert classify(client_error("AccessDeniedException", 403)).kind is ErrorKind.FATAL
    assert classify(client_error("ResourceNotFoundException", 404)).kind is ErrorKind.FATAL
    assert classify(client_error("ValidationException", 400)).kind is ErrorKind.INVALID
    assert classify(client_error("ServiceQuotaExceededException", 402)).reason == "quota_exceeded"
    assert classify(ValueError("a bug")) is None


class _Failing:
    """A client whose ``batch_put_document`` raises ``errors`` in turn, then answers."""

    def __init__(self, errors: list[ClientError]) -> None:
        self.errors = errors

    def batch_put_document(self, **_: object) -> dict[str, object]:
        if self.errors:
            raise self.errors.pop(0)
        return {"failedDocuments": []}


def _waits_before_success(error: ClientError, attempts: int, in_flight: int = 16) -> list[float]:
    """The waits of a call that fails ``attempts - 1`` times with ``error`` (seeded jitter)."""
    caller = RetryingCaller(
        _Failing([error] * (attempts - 1)),
        max_in_flight=in_flight,
        max_attempts=attempts,
        backoff=Backoff(base=0.1, cap=20.0, _random=random.Random(7)),
    )
    waits: list[float] = []
    caller.sleep = waits.append
    assert caller.call("BatchPutDocument", {}) == {"failedDocuments": []}
    return waits


def test_a_throttled_call_is_tried_again_within_a_second_while_the_limiter_can_lower_the_load() -> None:
    """The limiter keeps the rate; a long wait would only leave the batch behind the others. Each
    throttle lowers the limit (16, 12, 9, 7, 5, 4, 3, 2, 1): at its minimum the load cannot go lower
    by itself, and the waits grow again, so a long congestion is still waited out."""
    waits = _waits_before_success(client_error("ThrottlingException", 429), attempts=20)

    assert len(waits) == 19
    assert max(waits[:7]) <= THROTTLE_MAX_DELAY == 1.0
    assert max(waits[7:]) > THROTTLE_MAX_DELAY


def test_a_throttled_call_of_a_caller_at_its_minimum_backs_off_in_full() -> None:
    waits = _waits_before_success(client_error("ThrottlingException", 429), attempts=20, in_flight=1)

    assert max(waits[:10]) > THROTTLE_MAX_DELAY


def test_a_failing_service_is_waited_for_with_the_full_backoff() -> None:
    waits = _waits_before_success(client_error("InternalServerException", 500), attempts=20)

    assert len(waits) == 19
    assert THROTTLE_MAX_DELAY < max(waits[:10]) <= max(waits) <= 20.0


class _Unlucky:
    """A client that throttles the call without ``lucky`` ``throttles`` times, then answers."""

    def __init__(self, throttles: int) -> None:
        self.throttles = throttles

    def batch_put_document(self, **params: object) -> dict[str, object]:
        if self.throttles and not params.get("lucky"):
            self.throttles -= 1
            raise client_error("ThrottlingException", 429)
        return {"failedDocuments": []}


def _caller(client: object, max_attempts: int = 10) -> RetryingCaller:
    return RetryingCaller(
        client,
        max_in_flight=16,
        max_attempts=max_attempts,
        backoff=Backoff(base=0.1, cap=20.0, _random=random.Random(7)),
    )


def test_a_call_throttled_while_others_get_through_is_tried_past_max_attempts() -> None:
    """Against a token bucket a batch can lose its turn ten times while the others are taken."""
    caller = _caller(_Unlucky(throttles=14))
    # While the call waits, another batch gets through.
    caller.sleep = lambda _seconds: caller.call("BatchPutDocument", {"lucky": True})  # type: ignore[assignment, func-returns-value]

    assert caller.call("BatchPutDocument", {}) == {"failedDocuments": []}
    assert caller.retries["BatchPutDocument"] == 14


def test_a_call_throttled_with_nothing_getting_through_gives_up_after_max_attempts() -> None:
    caller = _caller(_Unlucky(throttles=14))
    caller.sleep = lambda _seconds: None

    outcome = caller.call("BatchPutDocument", {})

    assert isinstance(outcome, CallError)
    assert (outcome.kind, outcome.attempts) == (ErrorKind.THROTTLED, 10)


def test_a_call_that_keeps_losing_its_turn_gives_up_after_throttled_tries() -> None:
    caller = _caller(_Unlucky(throttles=1000))
    caller.sleep = lambda _seconds: caller.call("BatchPutDocument", {"lucky": True})  # type: ignore[assignment, func-returns-value]

    outcome = caller.call("BatchPutDocument", {})

    assert isinstance(outcome, CallError)
    assert outcome.attempts == THROTTLED_TRIES


def test_a_caller_without_retries_never_retries_a_throttle() -> None:
    caller = _caller(_Unlucky(throttles=3), max_attempts=1)
    caller.sleep = lambda _seconds: caller.call("BatchPutDocument", {"lucky": True})  # type: ignore[assignment, func-returns-value]

    outcome = caller.call("BatchPutDocument", {})

    assert isinstance(outcome, CallError)
    assert outcome.attempts == 1

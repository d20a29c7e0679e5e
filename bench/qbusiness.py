"""Upload throughput into Amazon Q Business, measured against the fake service with 50 ms per call.

N small documents (5,000 by default) go through the engine and the ``qbusiness`` destination, with a
real boto3 client, to the fake Q Business of ``tests/fakes`` answering every call after 50 ms.
Cases: default settings, the 4 batches in flight first asked for, one batch in flight, and default
settings with 30% of calls throttled (seeded), and default settings against a token bucket of
``RATE`` BatchPutDocument calls per second (goal: 85% of RATE * 10 documents/s, none lost; 30%
throttled: none lost and 40% of the unthrottled rate). Each case prints one JSON line: documents/s,
documents lost (sent by the connector but neither in the fake index nor recorded as synced),
BatchPutDocument calls, throttled calls, the most calls seen in flight, and retries.

Usage: python bench/qbusiness.py [N]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# First, whatever else is on the path: an editable plugin install puts its own `tests` package there.
sys.path.insert(0, str(ROOT))

from ccf_core import Document, DocumentMetadata, SyncEngine  # noqa: E402
from ccf_core.destinations.qbusiness import DEFAULT_MAX_IN_FLIGHT, QBusinessDestination  # noqa: E402
from ccf_core.engine import state_scope  # noqa: E402
from ccf_core.state.sqlite import SqliteStateStore  # noqa: E402
from tests.fakes.qbusiness_server import FakeQBusiness  # noqa: E402
from tests.support import NumberedDocuments  # noqa: E402

LATENCY = 0.05
IDS = {
    "application_id": "b0000000-0000-4000-8000-00000000a001",
    "index_id": "b0000000-0000-4000-8000-00000000b002",
    "data_source_id": "b0000000-0000-4000-8000-00000000c003",
}
#: Runs of each case; the fastest counts.
RUNS = 2

#: Batch calls per second the rate-limited case allows (a token bucket holding RATE / 5 calls).
RATE = 50
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("defaults", {}, {}),
    ("four_in_flight", {"max_in_flight": 4}, {}),
    ("one_in_flight", {"max_in_flight": 1}, {}),
    ("defaults_30pct_throttled", {}, {"throttle_rate": 0.3}),
    (f"defaults_rate_limited_{RATE}_calls_per_second", {}, {"rate_limit": RATE}),
]


def small_document(number: int) -> Document:
    """Plain-text document ``number``, of about 200 bytes, with a few attributes."""
    return Document(
        id=f"https://bench.example.com/docs/{number:06d}",
        content=f"Document {number}. " + "Lorem ipsum dolor sit amet. " * 6,
        metadata=DocumentMetadata(
            title=f"Document {number}",
            source_uri=f"https://bench.example.com/docs/{number:06d}",
            attributes={"team": "bench", "number": number},
        ),
    )


def run_case(name: str, options: dict[str, Any], faults: dict[str, Any], count: int) -> dict[str, Any]:
    with (
        FakeQBusiness(
            latency=LATENCY, seed=7, throttle_operations=frozenset({"BatchPutDocument"}), **faults
        ) as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        destination = QBusinessDestination(
            region="us-east-1", endpoint_url=fake.endpoint_url, **IDS, **options
        )
        state = SqliteStateStore(Path(tmp) / "state.db")
        try:
            connector = NumberedDocuments(count, small_document)
            report = SyncEngine(destination, state).run(connector)
            recorded = state.load_checksums(state_scope(connector.name, destination))
        finally:
            state.close()
        expected = {f"https://bench.example.com/docs/{number:06d}" for number in range(count)}
        lost = len(expected - (set(fake.documents) & set(recorded)))
        return {
            "case": name,
            "documents": count,
            "latency_ms": int(LATENCY * 1000),
            "max_in_flight": destination.limits.max_in_flight,
            "status": report.status.value,
            "seconds": round(report.duration_seconds, 2),
            "documents_per_second": round(count / report.duration_seconds),
            "documents_lost": lost,
            "failed": report.failed,
            "calls": fake.calls["BatchPutDocument"],
            "throttled_calls": fake.throttled["BatchPutDocument"],
            "max_concurrent_calls": fake.max_concurrent["BatchPutDocument"],
            "retries": destination.stats()["retries"].get("BatchPutDocument", 0),
            "final_in_flight_limit": destination.limiter.limit,
        }


def main(argv: list[str]) -> None:
    count = int(argv[0]) if argv else 5000
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    rates: dict[str, float] = {}
    # Each case runs RUNS times and its fastest run counts: the unthrottled rate, the denominator of
    # the throttled share, moves by a fifth between runs on a shared machine.
    for _ in range(RUNS):
        for name, options, faults in CASES:
            result = run_case(name, options, faults, count)
            rates[name] = max(rates.get(name, 0), result["documents_per_second"])
            print(json.dumps(result), flush=True)
    limited = f"defaults_rate_limited_{RATE}_calls_per_second"
    print(
        json.dumps(
            {
                "note": f"default max_in_flight is {DEFAULT_MAX_IN_FLIGHT}",
                "target_documents_per_second": 1500,
                "throttled_30pct_share_of_unthrottled": round(
                    rates["defaults_30pct_throttled"] / rates["defaults"], 2
                ),
                "rate_limited_share_of_allowed": round(rates[limited] / (RATE * 10), 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])

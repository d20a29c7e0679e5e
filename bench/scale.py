"""The engine at scale: documents/s against the I/O floor, and peak memory up to a million documents.

Two parts, each case in a fresh process, one JSON line per case:

``throughput`` (N files, 50,000 by default): the floor (a bare loop that opens, reads and SHA-256s
each file), then a seed-style ``QBusinessCustomConnectorInterface`` over the same files through the
Q Business destination with a stub boto3 client (a real client whose HTTP send answers at once, so
request building and botocore's validation are measured; the first sync is also run with a plain
stand-in object, without botocore): first sync and unchanged re-sync with ``DocumentFile``
versions (size and mtime: no file opened), without versions (the content is read and hashed),
and with ``DocumentVersion`` hints (the folder listed with ``os.scandir``, documents built only
when their version changed). With ``--reference DIR`` (a checkout of the reference builder kit)
its interface is run the same way, its first syncs alternating with ccf's. Each case runs twice
and its faster run counts; the floor is measured first and last. The last line gives each case as
a share of the floor, by documents/s and by CPU time per document (steadier on a shared machine).

``memory`` (100,000, 300,000 and 1,000,000 documents): a connector yielding in-memory text
documents (no files: a million files take long to write), SQLite state, a destination that accepts
everything; a first run and an unchanged rerun, with the peak RSS of each process and the size
of the state file.

Usage: python bench/scale.py [throughput|memory|all] [--files N] [--sizes N,N,...] [--reference DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# First, whatever else is on the path: an editable plugin install puts its own `tests` package there.
sys.path.insert(0, str(ROOT))  # for tests.support, shared with the test suite

from ccf_core import (  # noqa: E402
    Document,
    DocumentFile,
    DocumentMetadata,
    DocumentVersion,
    QBusinessCustomConnectorInterface,
    SyncEngine,
    SyncOptions,
    SyncReport,
)
from ccf_core.destinations.qbusiness_mapping import request_shape  # noqa: E402
from ccf_core.plugins import get_plugin_manager  # noqa: E402
from ccf_core.state.sqlite import SqliteStateStore  # noqa: E402
from ccf_core.testing import AcceptingDestination  # noqa: E402
from ccf_core.validation import qbusiness_limits  # noqa: E402
from tests.support import NumberedDocuments  # noqa: E402

IDS = {
    "app": "b0000000-0000-4000-8000-00000000a001",
    "index": "b0000000-0000-4000-8000-00000000b002",
    "source": "b0000000-0000-4000-8000-00000000c003",
}
RESPONSES: dict[str, dict[str, Any]] = {
    "BatchPutDocument": {"failedDocuments": []},
    "BatchDeleteDocument": {"failedDocuments": []},
    "StartDataSourceSyncJob": {"executionId": "e0000000-0000-4000-8000-000000000001"},
    "StopDataSourceSyncJob": {},
    "ListDataSourceSyncJobs": {"history": []},
}


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def measured(run: Callable[[], SyncReport], label: str, count: int) -> tuple[SyncReport, dict[str, Any]]:
    """Run ``run()``, a sync of ``count`` documents; its report and the figures every case prints.

    Elapsed and CPU time of this process, documents per second, and its peak RSS after the run.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    report = run()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return report, {
        "case": label,
        "documents": count,
        "status": report.status.value,
        "uploaded": report.uploaded,
        "unchanged": report.unchanged,
        "seconds": round(elapsed, 3),
        "documents_per_second": round(count / elapsed),
        "cpu_seconds": round(cpu, 3),
        "cpu_us_per_document": round(cpu / count * 1e6, 1),
        "peak_rss_mb": peak_rss_mb(),
    }


# the stub Q Business client -----------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def stub_qbusiness_client() -> Any:
    """A real boto3 ``qbusiness`` client whose requests are answered in process, at once."""
    import boto3
    from botocore.awsrequest import AWSResponse

    client = boto3.client(
        "qbusiness",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        endpoint_url="http://127.0.0.1:9",
    )

    def answer(request: Any, event_name: str, **_: Any) -> AWSResponse:
        body = json.dumps(RESPONSES.get(event_name.rsplit(".", 1)[-1], {})).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(body))

    client.meta.events.register("before-send.qbusiness", answer)
    return client


class PlainStub:
    """A stand-in object with the client's methods, answering at once: no botocore at all."""

    def __getattr__(self, name: str) -> Any:
        operation = "".join(part.title() for part in name.split("_"))
        if operation not in RESPONSES:
            raise AttributeError(name)
        return lambda **_: dict(RESPONSES[operation])


# throughput ---------------------------------------------------------------------------------


class UnversionedFile(DocumentFile):
    """A file without the size-and-mtime version: the engine reads and hashes it every run."""

    __slots__ = ()

    def version(self) -> str:
        return None  # type: ignore[return-value]


class SeedFolder(QBusinessCustomConnectorInterface):
    """The seed's builder-kit style: one document per file.

    ``versions``: ``file`` (a ``DocumentFile``: its size and mtime are the version), ``none`` (no
    version: the content is read and hashed every run) or ``hint`` (the folder is listed with
    ``os.scandir`` and each file yields a ``DocumentVersion`` of its size and mtime, loaded into a
    ``Document`` only when that changed: the way to skip unchanged items entirely).
    """

    folder = Path()
    count = 0
    versions = "file"

    def get_documents_to_add(self) -> Iterator[Document | DocumentVersion]:
        if self.versions == "hint":
            yield from self._hints()
            return
        make_file = DocumentFile if self.versions == "file" else UnversionedFile
        for index in range(self.count):
            yield self._document(index, make_file)

    def _document(self, index: int, make_file: type[DocumentFile] = DocumentFile) -> Document:
        name = f"doc-{index:06d}"
        return Document(
            id=name,
            file=make_file(self.folder / f"{name}.txt"),
            metadata=DocumentMetadata(
                title=f"Document {index}",
                source_uri=f"https://example.com/docs/{index}",
                attributes={"author": "bench", "number": index},
            ),
        )

    def _hints(self) -> Iterator[DocumentVersion]:
        with os.scandir(self.folder) as entries:
            for entry in entries:
                name = entry.name
                if not name.endswith(".txt"):
                    continue
                index = int(name[4:-4])
                if index >= self.count:
                    continue
                stat = entry.stat()
                yield DocumentVersion(
                    name[:-4], f"{stat.st_size}-{stat.st_mtime_ns}", partial(self._document, index)
                )


def write_files(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        path = folder / f"doc-{index:06d}.txt"
        if not path.exists():
            path.write_text(f"Document number {index}. Lorem ipsum dolor sit amet, bench text.\n")


def case_floor(folder: Path, count: int) -> dict[str, Any]:
    paths = [folder / f"doc-{index:06d}.txt" for index in range(count)]
    started, cpu_started = time.perf_counter(), time.process_time()
    for path in paths:
        with open(path, "rb") as handle:
            hashlib.sha256(handle.read()).hexdigest()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "case": "floor",
        "documents": count,
        "documents_per_second": round(count / elapsed),
        "cpu_us_per_document": round(cpu / count * 1e6, 1),
    }


class TimedState(SqliteStateStore):
    """The SQLite state store, adding up the CPU time and the number of its writes (each one
    transaction): a steadier figure of the state's share than the whole run on a shared machine."""

    cpu_seconds = 0.0
    writes = 0

    def record(self, *args: Any, **kwargs: Any) -> None:
        self._timed(super().record, *args, **kwargs)

    def forget(self, *args: Any, **kwargs: Any) -> None:
        self._timed(super().forget, *args, **kwargs)

    def worker_factory(self) -> Callable[[], SqliteStateStore] | None:
        # An upload process writes through a plain store: its writes are not counted here.
        return partial(SqliteStateStore, self.path)

    def _timed(self, write: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        started = time.process_time()
        write(*args, **kwargs)
        self.cpu_seconds += time.process_time() - started
        self.writes += 1


def case_ccf(
    folder: Path,
    state_path: Path,
    count: int,
    label: str,
    versions: str,
    plain: bool = False,
    process: bool = False,
) -> dict[str, Any]:
    client = PlainStub() if plain else stub_qbusiness_client()
    # Start-up, once per process, is left out of the timing and reported apart: botocore's model
    # of Q Business (read for the limits and the request measures) and plugin discovery.
    started = time.perf_counter()
    qbusiness_limits()
    request_shape()
    get_plugin_manager()
    startup = time.perf_counter() - started
    state = TimedState(state_path)
    options = SyncOptions(upload_process=process)
    connector = SeedFolder(client, IDS["app"], IDS["index"], IDS["source"], state=state, options=options)
    connector.folder, connector.count, connector.versions = folder, count, versions
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    report, result = measured(connector.sync, label, count)
    worker = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = worker.ru_utime + worker.ru_stime - children.ru_utime - children.ru_stime
    return {
        **result,
        # The upload process's CPU (SyncOptions(upload_process=True)), beside this process's.
        "worker_cpu_us_per_document": round(worker_cpu / count * 1e6, 1),
        "worker_peak_rss_mb": round(worker.ru_maxrss / 1024, 1),
        "failed": report.failed,
        "startup_seconds": round(startup, 2),
        "state_writes": state.writes,
        "state_cpu_us_per_document": round(state.cpu_seconds / count * 1e6, 2),
    }


def case_reference(reference: Path, folder: Path, count: int, plain: bool = False) -> dict[str, Any]:
    """The reference builder kit's interface over the same files, with the same stub client."""
    sys.path.insert(0, str(reference))
    from custom_connector_framework.custom_connector_interface import (  # type: ignore[import-not-found]
        QBusinessCustomConnectorInterface as Reference,
    )
    from custom_connector_framework.models.document import (  # type: ignore[import-not-found]
        Document as RefDocument,
    )
    from custom_connector_framework.models.document import DocumentFile as RefFile
    from custom_connector_framework.models.document import DocumentMetadata as RefMetadata

    class RefFolder(Reference):  # type: ignore[misc]
        def get_documents_to_add(self) -> Iterator[Any]:
            for index in range(count):
                name = f"doc-{index:06d}"
                yield RefDocument(
                    id=name,
                    file=RefFile(folder / f"{name}.txt"),
                    metadata=RefMetadata(
                        title=f"Document {index}",
                        source_uri=f"https://example.com/docs/{index}",
                        attributes={"author": "bench", "number": str(index)},
                    ),
                )

        def get_documents_to_delete(self) -> Iterator[str]:
            return iter(())

    connector = RefFolder(
        qbusiness_client=PlainStub() if plain else stub_qbusiness_client(),
        qbusiness_app_id=IDS["app"],
        qbusiness_index_id=IDS["index"],
        qbusiness_data_source_id=IDS["source"],
    )
    started = time.perf_counter()
    connector.sync()
    elapsed = time.perf_counter() - started
    return {
        "case": "reference_first_sync" + ("_plain_stub" if plain else ""),
        "documents": count,
        "documents_per_second": round(count / elapsed),
        "peak_rss_mb": peak_rss_mb(),
    }


# memory -------------------------------------------------------------------------------------


def in_memory_document(number: int) -> Document:
    """Text document ``number``, made in memory (no files), with a version so a rerun reads nothing."""
    return Document(
        id=f"https://scale.example.com/docs/{number:08d}",
        content=f"Document {number}. Lorem ipsum dolor sit amet, bench text.",
        version="1",
        metadata=DocumentMetadata(title=f"Document {number}", attributes={"number": number}),
    )


def case_memory(state_path: Path, count: int, label: str) -> dict[str, Any]:
    state = SqliteStateStore(state_path)
    engine = SyncEngine(AcceptingDestination(), state)
    _, result = measured(lambda: engine.run(NumberedDocuments(count, in_memory_document)), label, count)
    state.close()  # the last connection's close moves the WAL into the file
    size = state_path.stat().st_size
    return {
        **result,
        "connector": "in-memory documents (no files)",
        "state_file_mb": round(size / 1e6, 1),
        "state_bytes_per_document": round(size / count),
    }


# driver -------------------------------------------------------------------------------------


def _in_child(*args: str) -> dict[str, Any]:
    os.sync()  # files just written would otherwise be flushed in the middle of a measurement
    output = subprocess.run(
        # -P: bench/ stays off sys.path (none of its scripts may stand in for a module the plugins import).
        [sys.executable, "-P", __file__, "--case", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    print(json.dumps(result), flush=True)
    if "cpu_us_per_document" in result:
        _CPU.setdefault(result["case"], []).append(result["cpu_us_per_document"])
    return result


#: CPU µs per document of every run of each case, for the CPU shares of the summary.
_CPU: dict[str, list[float]] = {}


#: Runs of each throughput case; the fastest counts.
RUNS = 2


def _best(runs: int, *args: str) -> int:
    """The highest documents/s of ``runs`` runs of a case (each printed)."""
    return max(_in_child(*args)["documents_per_second"] for _ in range(runs))


def run_case(args: list[str]) -> dict[str, Any]:
    kind = args[0]
    if kind == "floor":
        return case_floor(Path(args[1]), int(args[2]))
    if kind == "ccf":
        extra = args[6:]
        return case_ccf(
            Path(args[1]), Path(args[2]), int(args[3]), args[4], args[5], "plain" in extra, "process" in extra
        )
    if kind == "reference":
        return case_reference(Path(args[1]), Path(args[2]), int(args[3]), args[4:] == ["plain"])
    return case_memory(Path(args[1]), int(args[2]), args[3])


def throughput(tmp: Path, count: int, reference: Path | None) -> None:
    folder = tmp / "files"
    write_files(folder, count)
    # Every case runs RUNS times and its fastest run counts (as timeit takes the minimum): on a
    # shared machine other work only ever slows a run down. The floor is measured first and
    # last, so a drift of the machine's speed over the minutes of the bench shows.
    rates: dict[str, int] = {}

    def run(label: str, *args: str) -> None:
        """Run a case once; its best documents/s so far is kept under ``label``."""
        rate = _in_child(*args)["documents_per_second"]
        rates[label] = max(rates.get(label, 0), rate)

    def reference_run(*extra: str) -> None:
        if reference is not None:
            label = "reference_first_sync" + ("_plain_stub" if extra else "")
            run(label, "reference", str(reference), str(folder), str(count), *extra)

    floors = [_best(RUNS, "floor", str(folder), str(count))]
    # A first sync runs on a fresh state each time; the unchanged re-syncs then reuse the last.
    # The reference's first syncs alternate with ccf's (with the boto3 client, then with the plain
    # stub), so a drift of the machine's speed weighs on both sides of the ratio alike.
    for name, first_versions, unchanged_versions in (
        ("", "file", "file"),
        ("_without_versions", "none", "none"),
        ("_version_hints", "file", "hint"),
    ):
        states = [str(tmp / f"state{name}-{number}.db") for number in range(RUNS)]
        first = f"ccf_first_sync{name}"
        for state in states:
            run(first, "ccf", str(folder), state, str(count), first, first_versions)
            if not name:
                reference_run()
        unchanged = {"": "ccf_unchanged_with_versions"}.get(name, f"ccf_unchanged{name}")
        for _ in range(RUNS):
            run(unchanged, "ccf", str(folder), states[-1], str(count), unchanged, unchanged_versions)
    # The same first sync with a plain stand-in object instead of a boto3 client: what is left is
    # the engine and the destination's own work (botocore builds, validates and signs each call).
    plain = "ccf_first_sync_plain_stub"
    # ... and with the upload pipeline in a second process (SyncOptions(upload_process=True)).
    process = "ccf_first_sync_plain_stub_upload_process"
    for number in range(RUNS):
        run(plain, "ccf", str(folder), str(tmp / f"plain-{number}.db"), str(count), plain, "file", "plain")
        reference_run("plain")
        run(
            process,
            "ccf",
            str(folder),
            str(tmp / f"process-{number}.db"),
            str(count),
            process,
            "file",
            "plain",
            "process",
        )
    floors.append(_best(RUNS, "floor", str(folder), str(count)))
    floor = max(floors)
    summary: dict[str, Any] = {
        "summary": "throughput",
        "documents": count,
        "runs_per_case": RUNS,
        "floor_first_and_last": floors,
        **{f"{name}_share_of_floor": round(rate / floor, 2) for name, rate in rates.items()},
        # The same shares by CPU time (the least of each case's runs): steadier on a shared machine,
        # where the wall clock also counts the other processes' work.
        **{
            f"{name}_cpu_share_of_floor": round(min(_CPU["floor"]) / min(_CPU[name]), 2)
            for name in rates
            if name in _CPU and min(_CPU[name]) > 0
        },
    }
    if "reference_first_sync" in rates:
        summary["ccf_first_sync_vs_reference"] = round(
            rates["ccf_first_sync"] / rates["reference_first_sync"], 2
        )
        for name in (plain, process):
            summary[f"{name.replace('ccf_first_sync', 'ccf_first_sync_vs_reference')}"] = round(
                rates[name] / rates["reference_first_sync_plain_stub"], 2
            )
    print(json.dumps(summary), flush=True)


def memory(tmp: Path, sizes: list[int]) -> None:
    for count in sizes:
        state = tmp / f"memory-{count}.db"
        for label in ("first_run", "unchanged_rerun"):
            _in_child("memory", str(state), str(count), label)
        state.unlink()


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--case":
        print(json.dumps(run_case(argv[1:])), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="all", choices=["throughput", "memory", "all"])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--reference", type=Path, default=None)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ccf-scale-") as tmp:
        if options.part in ("throughput", "all"):
            throughput(Path(tmp), options.files, options.reference)
        if options.part in ("memory", "all"):
            memory(Path(tmp), [int(size) for size in options.sizes.split(",")])


if __name__ == "__main__":
    main(sys.argv[1:])

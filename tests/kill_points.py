"""Kill a sync run right after its N-th write, for every N, and check what the next runs make of it.

A "write" is any call that changes the state store or the destination. The run happens in a forked
child that ends itself with ``os._exit`` (no cleanup, like SIGKILL) right after write N returned;
the parent then checks that the state claims nothing the destination lost, and that the next runs
bring the destination exactly in step with the source.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ccf_core import Connector, Document, DocumentMetadata, Group, SyncContext, SyncEngine, SyncReport
from ccf_core.ports import Destination, StateStore

STATE_WRITES = ("record", "forget", "save_checkpoint")
DESTINATION_WRITES = ("open", "put_documents", "delete_documents", "put_groups", "delete_groups", "close")


class Source(Connector):
    """A full-mode connector over a ``{id: text}`` mapping, with one group."""

    name = "source"

    def __init__(self, texts: Mapping[str, str]) -> None:
        super().__init__()
        self.texts = dict(texts)

    def documents(self, context: SyncContext) -> Iterator[Document]:
        for doc_id, text in sorted(self.texts.items()):
            yield Document(id=doc_id, content=text, metadata=DocumentMetadata(title=doc_id))

    def groups(self, context: SyncContext) -> Iterator[Group]:
        yield Group(name="readers", users=sorted(self.texts)[:2])


class Killer:
    """Counts writes across the wrapped objects and ends the process right after the N-th."""

    def __init__(self, kill_after: int | None) -> None:
        self.kill_after = kill_after
        self.count = 0
        self.lock = threading.Lock()

    def wrap(self, target: Any, methods: tuple[str, ...]) -> Any:
        killer = self

        class Wrapped:
            def __getattr__(self, name: str) -> Any:
                attribute = getattr(target, name)
                if name not in methods:
                    return attribute

                def write(*args: Any, **kwargs: Any) -> Any:
                    result = attribute(*args, **kwargs)
                    with killer.lock:
                        killer.count += 1
                        if killer.count == killer.kill_after:
                            os._exit(0)
                    return result

                return write

        return Wrapped()


def run_in_child(
    build: Callable[[], tuple[Destination, StateStore]],
    texts: Mapping[str, str],
    kill_after: int | None,
    tmp: Path,
) -> int:
    """Run one sync in a forked child killed after write ``kill_after``; the number of writes it made."""
    count_file = tmp / "writes"
    error_file = tmp / "child-error"
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            destination, state = build()
            killer = Killer(kill_after)
            engine = SyncEngine(
                killer.wrap(destination, DESTINATION_WRITES),
                killer.wrap(state, STATE_WRITES),
            )
            report = engine.run(Source(texts))
            if report.error:
                error_file.write_text(report.error)
                code = 2
            count_file.write_text(str(killer.count))
        except BaseException:
            error_file.write_text(traceback.format_exc())
            code = 3
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise AssertionError(
            f"child failed ({code}): {error_file.read_text() if error_file.exists() else ''}"
        )
    return int(count_file.read_text()) if count_file.exists() and kill_after is None else -1


def run_here(build: Callable[[], tuple[Destination, StateStore]], texts: Mapping[str, str]) -> SyncReport:
    """A normal run in this process."""
    destination, state = build()
    try:
        return SyncEngine(destination, state).run(Source(texts))
    finally:
        state.close()
        shutdown = getattr(destination, "shutdown", None)
        if shutdown is not None:
            shutdown()


def source_versions() -> tuple[dict[str, str], dict[str, str]]:
    """The source before (24 documents) and after a change: 9 removed, 4 changed, 3 added."""
    before = {f"doc-{number:02d}": f"text of document {number}" for number in range(24)}
    after = {doc_id: text for doc_id, text in before.items() if int(doc_id[4:]) % 8 not in (1, 3, 6)}
    for doc_id in ("doc-00", "doc-04", "doc-10", "doc-20"):
        after[doc_id] = before[doc_id] + " (changed)"
    after.update({f"new-{number}": f"new document {number}" for number in range(3)})
    return before, after

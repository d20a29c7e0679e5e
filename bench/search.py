"""Search time of the local index under hostile input.

Builds an index of 20,000 small documents plus one 60 MB document made of the searched word, then
times searches that used to take minutes: the word of the huge document, that word repeated 1,000
times, a word in every small document, and an ACL-filtered search. Prints one JSON line per case
(seconds, hits). Goal: every search answers in under 1 s.

Usage: python bench/search.py [SMALL_DOCS] [HUGE_MB]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from ccf_core import AccessControl, Document, DocumentMetadata, PreparedDocument, Principal, PrincipalUser
from ccf_core.destinations.local_index import LocalIndex
from ccf_core.ports import RunInfo


def _prepared(doc_id: str, text: str, acl: list[AccessControl] | None = None) -> PreparedDocument:
    metadata = DocumentMetadata(title=f"Document {doc_id}", access_control_list=acl or [])
    document = Document(id=doc_id, content=text, metadata=metadata)
    return PreparedDocument(document, "0" * 64, len(text), True)


def build(path: Path, small: int, huge_mb: int) -> None:
    only_alice = [AccessControl(principals=[Principal(user=PrincipalUser(id="alice"))])]
    with LocalIndex(path) as index:
        index.open(RunInfo("bench", "build", True))
        batch = []
        for number in range(small):
            acl = only_alice if number % 2 else None
            batch.append(_prepared(f"doc-{number:05d}", f"report {number} about deploy and review", acl))
            if len(batch) == 500:
                index.put_documents(batch)
                batch = []
        index.put_documents(batch)
        index.put_documents([_prepared("huge", "needle " * (huge_mb * 1024 * 1024 // 7))])


def main() -> None:
    small = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    huge_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.db"
        started = time.perf_counter()
        build(path, small, huge_mb)
        print(
            json.dumps(
                {"case": "build", "documents": small + 1, "seconds": round(time.perf_counter() - started, 2)}
            )
        )
        cases = {
            "word of the huge document": ("needle", None),
            "that word 1,000 times": (" ".join(["needle"] * 1000), None),
            "word in every small document": ("deploy", None),
            "two words, ACL-filtered as bob": ("deploy review", "bob"),
        }
        with LocalIndex(path) as index:
            for case, (query, user) in cases.items():
                started = time.perf_counter()
                results = index.search_results(query, user=user, limit=10)
                seconds = time.perf_counter() - started
                print(
                    json.dumps(
                        {
                            "case": case,
                            "seconds": round(seconds, 3),
                            "hits": len(results.hits),
                            "hidden": results.hidden,
                        }
                    )
                )


if __name__ == "__main__":
    main()

"""Loading the stored checksums of N documents takes N / 1000 API calls (100,000 in 100).

The page math is the API's: ListCustomConnectorDocuments returns up to 1000 documents a page,
BatchPut takes up to 1000, and the last page carries no token (so no empty extra call). Under
moto a Query sorts and skips the whole partition on every page, which makes 100,000 documents
take many minutes; the default here is 10,000 documents (10 calls). Set
``CCF_FULL_SCALE_TESTS=1`` to run the 100,000-document case.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from ccf_core.api import CCFClient
from ccf_core.api.models import MAX_BATCH_PUT_DOCUMENTS, MAX_LIST_DOCUMENTS
from ccf_core.state.api import ApiStateStore

DOCUMENTS = 100_000 if os.environ.get("CCF_FULL_SCALE_TESTS") == "1" else 10_000


@pytest.fixture
def calls(ccf: Any) -> Iterator[Counter[str]]:
    """Counts the API operations the ``ccf`` client calls."""
    counter: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    ccf.meta.events.register("before-call.*.*", count)
    yield counter
    ccf.meta.events.unregister("before-call.*.*", count)


@pytest.mark.slow
def test_loading_checksums_takes_one_call_per_thousand_documents(
    ccf: Any, connector_id: str, calls: Counter[str]
) -> None:
    store = ApiStateStore(CCFClient(ccf, connector_id))
    for start in range(0, DOCUMENTS, 10_000):
        store.record(
            "big", [(f"document-{n:06d}", f"{n:064x}") for n in range(start, min(start + 10_000, DOCUMENTS))]
        )
    assert calls == {"BatchPutCustomConnectorDocuments": DOCUMENTS // MAX_BATCH_PUT_DOCUMENTS}
    calls.clear()
    loaded = store.load_checksums("big")
    assert len(loaded) == DOCUMENTS
    assert loaded[f"document-{DOCUMENTS - 1:06d}"] == f"{DOCUMENTS - 1:064x}"
    assert calls == {"ListCustomConnectorDocuments": DOCUMENTS // MAX_LIST_DOCUMENTS}
    assert DOCUMENTS // MAX_LIST_DOCUMENTS <= 100 * DOCUMENTS // 100_000

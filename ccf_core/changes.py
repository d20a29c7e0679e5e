"""Change detection: whether a document is new, changed or unchanged since its stored record.

A run that finds nothing to do spends its time here, once per document, so this reads as little as
it can. A :class:`~ccf_core.models.document.DocumentVersion` hint whose version is the recorded one
is not even loaded. A document with a version (the connector's, or its file's size and mtime) whose
version and metadata are the recorded ones is unchanged without a read of its content. Otherwise
the content checksum decides: a document whose checksum is the recorded one is not validated again
(it was valid when it was sent), and a new version with the same content only updates the record.
Only a new or changed document is validated.
"""

from __future__ import annotations

from ccf_core.checksum import (
    SyncRecord,
    checksum_and_content,
    file_checksum_and_version,
    metadata_fingerprint,
    metadata_key,
    reads_its_file,
)
from ccf_core.models.document import Document, DocumentFile, DocumentVersion
from ccf_core.ports import PreparedDocument, StateStore
from ccf_core.report import SyncReport
from ccf_core.validation import document_problems
from ccf_core.working_set import SEEN, WorkingSet

#: Records whose version changed but whose content did not are written in batches of this size.
RERECORD_BATCH = 500

_UNENCODABLE = (
    "metadata text: not valid UTF-8 (a lone surrogate, as os.fsdecode makes of a name in "
    "another encoding); build titles, URIs and attributes from decoded text"
)


def invalid_document(doc_id: str, problems: list[str]) -> str:
    """The failure message of a document that breaks ``problems``."""
    return f"document {doc_id!r}: " + "; ".join(problems)


_has_version = SyncRecord.has_version
_FILE_VERSION = DocumentFile.version


class ChangeDetector:
    """Decides, document by document, what a run sends, and counts the unchanged documents.

    Args:
        known: the run's working set: the stored records, and the ids the run produced.
        report: the run's report; unchanged documents and failures are counted in it.
        state: where the new record of an unchanged document goes (its version changed, its
            content did not), in batches: no destination call is needed for it.
        scope: the run's state scope.
        dry_run: when True, nothing is written.

    ``validates`` (True) says whether a document to send is checked against Q Business's rules
    here; the upload process checks them itself (off the engine's CPU) when it takes the pipeline.
    """

    def __init__(
        self, known: WorkingSet, report: SyncReport, state: StateStore, scope: str, dry_run: bool = False
    ) -> None:
        self.known = known
        self.report = report
        self.state = state
        self.scope = scope
        self.dry_run = dry_run
        self.validates = True
        self._rerecord: list[tuple[str, str]] = []

    def hinted(self, item: DocumentVersion) -> Document | None:
        """The document behind a version hint; None when it is unchanged, gone or failed to load.

        The id is looked up and marked seen in one step. A hint that must be loaded gets its stored
        record back, so the document it loads is compared (and marked seen) like any other; one
        whose loader says it is gone stays unseen, so a full run deletes it.
        """
        known, report = self.known, self.report
        previous = known.see(item.id)
        if previous and _has_version(previous, item.version):
            report.unchanged += 1
            return None
        if previous == SEEN:
            report.fail(item.id, "duplicate_id", f"document {item.id!r} was produced twice in this run")
            return None
        try:
            document = item.load()
        except Exception as err:
            # The item exists (it was listed) but could not be read: it stays seen, so its indexed
            # copy is kept.
            report.fail(item.id, "load_failed", f"document {item.id!r}: {type(err).__name__}: {err}")
            return None
        if document is not None and document.id != item.id:
            report.fail(
                item.id,
                "invalid_document",
                f"document {item.id!r}: its loader returned a document with id {document.id!r}",
            )
            return None
        known.restore(item.id, previous)
        if document is None:
            return None
        if document.version is None:
            document = document.model_copy(update={"version": item.version})
        return document

    def changed(self, doc: Document, previous: str | None) -> PreparedDocument | None:
        """The document to send, or None when it is unchanged since ``previous`` (its stored record).

        Raises:
            OSError: the content (or the file's size and mtime) could not be read.
        """
        report = self.report
        content_type = doc.resolved_content_type()
        file, version = doc.file, doc.version
        # A new document's file is read anyway: its version then comes from the open file.
        version_when_read = False
        if version is None and file is not None:
            if previous is None and type(file).version is _FILE_VERSION and reads_its_file(doc):
                version_when_read = True
            else:
                version = file.version()
        try:
            fingerprint = metadata_fingerprint(doc, content_type)
        except (ValueError, RecursionError):
            # UnicodeEncodeError: a lone surrogate from a name that is not UTF-8; RecursionError: an
            # attribute list that contains itself.
            problems = document_problems(doc, content_type) or [_UNENCODABLE]
            report.fail(doc.id, "invalid_document", invalid_document(doc.id, problems))
            return None
        meta_key = None if version is None and not version_when_read else metadata_key(fingerprint)
        if previous:
            if meta_key is not None and SyncRecord.matches(previous, meta_key, version):  # type: ignore[arg-type]
                report.unchanged += 1
                return None
            checksum, size, content = checksum_and_content(doc, content_type, fingerprint)
            if SyncRecord.checksum_of(previous) == checksum:
                report.unchanged += 1
                encoded = checksum if meta_key is None else SyncRecord(checksum, meta_key, version).encode()
                if encoded != previous:
                    self._remember(doc.id, encoded)
                return None
        if self.validates:
            problems = document_problems(doc, content_type)
            if problems:
                report.fail(doc.id, "invalid_document", invalid_document(doc.id, problems))
                return None
        if version_when_read:
            checksum, size, content, version = file_checksum_and_version(doc, fingerprint)
        elif not previous:
            checksum, size, content = checksum_and_content(doc, content_type, fingerprint)
        encoded = checksum if meta_key is None else SyncRecord(checksum, meta_key, version).encode()
        return PreparedDocument(doc, encoded, size, previous is None, content_type, content, len(fingerprint))

    def _remember(self, doc_id: str, encoded: str) -> None:
        """Queue a new record for an unchanged document (no destination call needed)."""
        if self.dry_run:
            return
        self._rerecord.append((doc_id, encoded))
        if len(self._rerecord) >= RERECORD_BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the queued records of unchanged documents."""
        if self._rerecord:
            self.state.record(self.scope, self._rerecord)
            self._rerecord = []

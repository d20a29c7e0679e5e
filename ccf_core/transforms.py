"""The ``ccf_transform_document`` hooks, applied in turn to each document before change detection."""

from __future__ import annotations

from typing import Any, cast

from ccf_core.models.document import Document, DocumentMetadata


class TransformChain:
    """The transform hooks of a plugin manager, called in registration order on one document."""

    def __init__(self, hookimpls: list[Any], context: Any) -> None:
        self._impls = list(reversed(hookimpls))
        self._context = context

    def __bool__(self) -> bool:
        return bool(self._impls)

    def apply(self, document: Document) -> Document | None:
        """Run the hooks in turn, each on the previous one's result; None when one dropped it.

        A changed document is validated again (``model_copy(update=...)`` skips validation), so
        text content becomes bytes and a wrong type is caught here, for this document only.

        Raises:
            TypeError: a hook returned something other than a Document or None.
        """
        current: object = document
        for impl in self._impls:
            arguments = {"document": current, "context": self._context}
            current = impl.function(*(arguments[name] for name in impl.argnames))
            if current is None:
                return None
            if not isinstance(current, Document):
                raise TypeError(
                    f"the ccf_transform_document hook of plugin {impl.plugin_name} returned "
                    f"{type(current).__name__}, not a Document or None"
                )
        return document if current is document else revalidated(cast(Document, current))


def revalidated(document: Document) -> Document:
    """Validate a document (and its metadata) again, as if it had just been built."""
    metadata = DocumentMetadata.model_validate(
        {name: getattr(document.metadata, name) for name in DocumentMetadata.model_fields}
    )
    fields = {name: getattr(document, name) for name in Document.model_fields}
    fields["metadata"] = metadata
    return Document.model_validate(fields)

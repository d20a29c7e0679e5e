"""Searchable text from the content of text documents, with the standard library only.

The local index keeps the text a person would read: visible HTML text and its title, the string
values of JSON, the cells of CSV, the text nodes of XML. Binary types (PDF, Word, ...) give no text;
the index still finds them by title.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser

from ccf_core.content_types import TEXT_TYPES, ContentType

_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")


def decode(data: bytes) -> str:
    """UTF-8 text from bytes; a byte-order mark is dropped and undecodable bytes become U+FFFD."""
    return data.decode("utf-8-sig", errors="replace")


def _squeeze(parts: list[str]) -> str:
    return _WHITESPACE.sub(" ", " ".join(parts)).strip()


class _VisibleText(HTMLParser):
    # Browsers never render these; their content would only add noise (and code) to the index.
    _HIDDEN = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.body: list[str] = []
        self._hidden_depth = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        (self.title if self._in_title else self.body).append(data)


def html_text(text: str) -> str:
    """The ``<title>`` and the visible text of an HTML page, ``<script>`` and ``<style>`` dropped."""
    parser = _VisibleText()
    parser.feed(text)
    parser.close()
    return "\n".join(part for part in (_squeeze(parser.title), _squeeze(parser.body)) if part)


def json_text(text: str) -> str:
    """The string values of a JSON document, in document order; the raw text if it is not JSON."""
    try:
        root = json.loads(text)
    except (ValueError, RecursionError):
        return text
    found: list[str] = []
    # An explicit stack: deeply nested JSON must not hit the recursion limit here.
    stack = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return "\n".join(found)


def csv_text(text: str) -> str:
    """The cells of a CSV file joined by spaces, one line per row; the raw text if it is not CSV."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return text
    return "\n".join(" ".join(cell for cell in row if cell) for row in rows)


def xml_text(text: str) -> str:
    """The text nodes of an XML (or XSLT) document; tags stripped by pattern if it does not parse."""
    try:
        # Safe on untrusted input: the stdlib parser does not resolve external entities and the
        # bundled expat (>= 2.4.1) limits entity expansion.
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError:
        return _squeeze([_TAG.sub(" ", text)])
    return _squeeze(list(root.itertext()))


def _as_is(text: str) -> str:
    return text


_EXTRACTORS: dict[ContentType, Callable[[str], str]] = {
    ContentType.PLAIN_TEXT: _as_is,
    ContentType.MD: _as_is,
    ContentType.HTML: html_text,
    ContentType.JSON: json_text,
    ContentType.CSV: csv_text,
    ContentType.XML: xml_text,
    ContentType.XSLT: xml_text,
}


def extract_text(content_type: ContentType | None, data: bytes) -> str:
    """The searchable text of a document's content.

    Args:
        content_type: The document's resolved content type; ``None`` or a binary type gives "".
        data: The raw content.

    Returns:
        The text to index, or an empty string for content that is not text.
    """
    if content_type is None or content_type not in TEXT_TYPES:
        return ""
    return _EXTRACTORS[content_type](decode(data))

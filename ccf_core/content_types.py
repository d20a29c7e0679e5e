"""The content types Amazon Q Business accepts and how ccf infers them."""

from __future__ import annotations

import mimetypes
import os
from enum import StrEnum


class ContentType(StrEnum):
    """The twelve ``contentType`` values of the Q Business ``BatchPutDocument`` API."""

    PDF = "PDF"
    HTML = "HTML"
    MS_WORD = "MS_WORD"
    PLAIN_TEXT = "PLAIN_TEXT"
    PPT = "PPT"
    RTF = "RTF"
    XML = "XML"
    XSLT = "XSLT"
    MS_EXCEL = "MS_EXCEL"
    CSV = "CSV"
    JSON = "JSON"
    MD = "MD"


#: Types whose content is text that a local index can extract and search.
TEXT_TYPES = frozenset(
    {
        ContentType.PLAIN_TEXT,
        ContentType.HTML,
        ContentType.MD,
        ContentType.JSON,
        ContentType.CSV,
        ContentType.XML,
        ContentType.XSLT,
    }
)

_BY_EXTENSION = {
    "pdf": ContentType.PDF,
    "html": ContentType.HTML,
    "htm": ContentType.HTML,
    "xhtml": ContentType.HTML,
    "xml": ContentType.XML,
    "xslt": ContentType.XSLT,
    "xsl": ContentType.XSLT,
    "md": ContentType.MD,
    "markdown": ContentType.MD,
    "csv": ContentType.CSV,
    "xlsx": ContentType.MS_EXCEL,
    "xls": ContentType.MS_EXCEL,
    "json": ContentType.JSON,
    "rtf": ContentType.RTF,
    "pptx": ContentType.PPT,
    "ppt": ContentType.PPT,
    "docx": ContentType.MS_WORD,
    "doc": ContentType.MS_WORD,
    "txt": ContentType.PLAIN_TEXT,
    "text": ContentType.PLAIN_TEXT,
    "log": ContentType.PLAIN_TEXT,
}

_BY_MIME = {
    "application/pdf": ContentType.PDF,
    "text/html": ContentType.HTML,
    "application/xhtml+xml": ContentType.HTML,
    "text/xml": ContentType.XML,
    "application/xml": ContentType.XML,
    "application/xslt+xml": ContentType.XSLT,
    "text/markdown": ContentType.MD,
    "text/x-markdown": ContentType.MD,
    "text/csv": ContentType.CSV,
    "application/csv": ContentType.CSV,
    "application/vnd.ms-excel": ContentType.MS_EXCEL,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ContentType.MS_EXCEL,
    "application/json": ContentType.JSON,
    "application/rtf": ContentType.RTF,
    "text/rtf": ContentType.RTF,
    "application/vnd.ms-powerpoint": ContentType.PPT,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ContentType.PPT,
    "application/msword": ContentType.MS_WORD,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ContentType.MS_WORD,
    "text/plain": ContentType.PLAIN_TEXT,
}


def content_type_from_mime(mime: str | None) -> ContentType | None:
    """Map a MIME type (parameters such as ``; charset=utf-8`` allowed) to a content type."""
    if not mime:
        return None
    return _BY_MIME.get(mime.split(";", 1)[0].strip().lower())


def content_type_from_path(path: str | os.PathLike[str]) -> ContentType | None:
    """Infer the content type from a file name's extension, then from its guessed MIME type."""
    name = os.fspath(path)
    found = _BY_EXTENSION.get(_extension(name).lower())
    if found is not None:
        return found
    mime, _ = mimetypes.guess_type(name)
    return content_type_from_mime(mime)


def _extension(name: str) -> str:
    """The extension without its dot, as ``os.path.splitext`` finds it (leading dots are no extension)."""
    base = name[name.rfind("/") + 1 :]
    dot = base.rfind(".")
    if dot <= 0 or not base[:dot].strip("."):
        return ""
    return base[dot + 1 :]

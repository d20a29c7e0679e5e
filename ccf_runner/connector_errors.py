"""Say where a connector's own code failed: the connector, the document, the file and the line.

The engine turns an exception from a connector into the run's error as ``Type: message``; on its
own that reads ``KeyError: 'body'``. :func:`guard_connector` wraps a connector's generators so such
an exception comes out as :class:`ConnectorFailed`, whose message names the connector, the
document it was producing (the one after the last it yielded), the file and line in the
connector's code, and says that ``--log-level debug`` shows the traceback. A
:class:`~ccf_core.errors.CCFError` goes through as it is: a connector raises one with a sentence
written for the user ("no token: set ...").
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ccf_core.connector import Connector, SyncContext
from ccf_core.errors import CCFError
from ccf_core.models.acl import Group
from ccf_core.models.document import Document

#: The connector methods whose exceptions are described.
GUARDED_METHODS = ("documents", "deleted_document_ids", "groups")


class ConnectorFailed(CCFError):
    """A connector's own code raised; the message says which connector, document, file and line."""


def guard_connector(connector: Connector) -> Connector:
    """Wrap ``connector``'s generators (this instance only) so their exceptions say where they came from."""
    for method in GUARDED_METHODS:
        setattr(connector, method, _guarded(connector, method, getattr(connector, method)))
    return connector


def _guarded(
    connector: Connector, method: str, original: Callable[[SyncContext], Iterable[Any] | None]
) -> Callable[[SyncContext], Iterable[Any] | None]:
    def call(context: SyncContext) -> Iterable[Any] | None:
        try:
            result = original(context)
        except (CCFError, KeyboardInterrupt):
            raise
        except Exception as err:
            raise ConnectorFailed(describe_failure(connector, method, err, None)) from err
        return None if result is None else _iterate(connector, method, result)

    return call


def _iterate(connector: Connector, method: str, items: Iterable[Any]) -> Iterator[Any]:
    iterator = iter(items)
    last: str | None = None
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except CCFError:  # a sentence for the user already (SyncCancelled too), as from a plain call
            raise
        except Exception as err:
            raise ConnectorFailed(describe_failure(connector, method, err, last)) from err
        yield item
        last = _item_name(item)


def _item_name(item: Any) -> str | None:
    if isinstance(item, Document):
        return item.id
    if isinstance(item, Group):
        return item.name
    return item if isinstance(item, str) else None


def describe_failure(connector: Connector, method: str, err: BaseException, last: str | None) -> str:
    """One line: the connector, what it was doing, the exception, its file and line, and the fix."""
    if method == "documents":
        doing = (
            f"while producing the document after {last!r}"
            if last is not None
            else "while producing its first document"
        )
    else:
        after = f" after {last!r}" if last is not None else ""
        doing = f"in {method}(){after}"
    where = _location(type(connector), err)
    return (
        f"connector {connector.name!r} raised {type(err).__name__}: {err} {doing}{where}; "
        "run with --log-level debug for the traceback"
    )


def _location(connector_class: type[Connector], err: BaseException) -> str:
    """`` (at file:line in function)`` of the deepest frame in the connector's own package."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return ""
    module = sys.modules.get(connector_class.__module__)
    module_file = getattr(module, "__file__", None)
    home = Path(module_file).resolve().parent if module_file else None
    chosen = frames[-1]
    if home is not None:
        own = [frame for frame in frames if _is_under(frame.filename, home)]
        if own:
            chosen = own[-1]
    return f" (at {_short(chosen.filename)}:{chosen.lineno} in {chosen.name})"


def _is_under(filename: str, folder: Path) -> bool:
    try:
        Path(filename).resolve().relative_to(folder)
    except (ValueError, OSError):
        return False
    return True


def _short(filename: str) -> str:
    """The file relative to the working directory when it is below it, else as it is."""
    try:
        return os.path.relpath(filename) if Path(filename).resolve().is_relative_to(Path.cwd()) else filename
    except (ValueError, OSError):
        return filename

"""Built-in destinations: the embedded local index (and, in its own module, Amazon Q Business)."""

from ccf_core.destinations.local_index import LocalIndex
from ccf_core.destinations.local_search import SearchHit

__all__ = ["LocalIndex", "SearchHit"]

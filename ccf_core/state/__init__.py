"""State stores: where checksums and checkpoints are kept between runs."""

from ccf_core.state.memory import MemoryStateStore
from ccf_core.state.sqlite import SqliteStateStore

__all__ = ["MemoryStateStore", "SqliteStateStore"]

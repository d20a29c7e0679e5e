"""Waits between retries, shared by destinations and connectors.

:class:`Backoff` gives exponential delays with full jitter (a random wait between zero and the
exponential ceiling), which spreads the retries of many workers over time instead of bunching them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter.

    Attributes:
        base: the ceiling of the first delay, in seconds.
        cap: the largest ceiling, in seconds.
    """

    base: float = 0.1
    cap: float = 20.0
    _random: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def ceiling(self, attempt: int) -> float:
        """The longest wait after the ``attempt``-th failure (0-based)."""
        return min(self.cap, self.base * (1 << min(attempt, 62)))

    def delay(self, attempt: int, cap: float | None = None) -> float:
        """A random wait between 0 and :meth:`ceiling`, or ``cap`` when that is lower (thread-safe)."""
        ceiling = self.ceiling(attempt)
        return self._random.uniform(0.0, ceiling if cap is None else min(ceiling, cap))

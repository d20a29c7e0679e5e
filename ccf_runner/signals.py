"""Stopping a run cleanly on SIGINT (Ctrl-C) and SIGTERM (how AWS Batch stops a job).

The first signal asks the run to stop at the next document: what the destination accepted stays
recorded, the destination is closed, the report says ``stopped``. A second signal raises
``KeyboardInterrupt`` at once, for a connector stuck in a call that never looks at the flag.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from ccf_core.connector import SyncContext
from ccf_runner.logs import RUNNER_LOGGER

logger = logging.getLogger(RUNNER_LOGGER)

#: The signals that stop a run.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def cancel_on_signals(context: SyncContext) -> Iterator[None]:
    """Cancel ``context`` on the first SIGINT/SIGTERM inside the block; restore the old handlers after.

    Whether the run stopped is the engine's to say (its report's status), so nothing is yielded.
    Outside the main thread (where Python cannot install handlers) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    signalled = False

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal signalled
        if signalled:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}")
        signalled = True
        context.cancel()
        logger.warning(
            "%s received: stopping after the current document (send it again to stop at once)",
            signal.Signals(signum).name,
        )

    previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # None means a handler installed outside Python; the default is the closest we can restore.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)

"""Stopping a run on SIGINT/SIGTERM: the first signal cancels, the second one interrupts."""

from __future__ import annotations

import os
import signal

import pytest
from pydantic import BaseModel

from ccf_core.connector import SyncContext, SyncMode
from ccf_runner.signals import cancel_on_signals


class _NoSettings(BaseModel):
    pass


def _context() -> SyncContext:
    return SyncContext(connector="notes", config=_NoSettings(), mode=SyncMode.FULL)


def test_cancel_on_signals_yields_nothing() -> None:
    with cancel_on_signals(_context()) as value:
        assert value is None


def test_first_signal_cancels_the_context() -> None:
    context = _context()
    with cancel_on_signals(context):
        os.kill(os.getpid(), signal.SIGTERM)
        assert context.cancelled


def test_second_signal_raises_keyboard_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt, match="second SIGTERM"), cancel_on_signals(_context()):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)

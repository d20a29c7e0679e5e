"""The runner's own error: a message a person can act on, and the exit code it ends with."""

from __future__ import annotations

from ccf_runner import exit_codes


class RunnerError(Exception):
    """Something stops ``ccf-run`` before or around a run; ``exit_code`` is one of :mod:`exit_codes`."""

    def __init__(self, message: str, exit_code: int = exit_codes.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class BadConfiguration(RunnerError):
    """The settings of the connector, the destination or the state store are invalid."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_codes.BAD_CONFIGURATION)

"""ccf runner: the ``ccf-run`` and ``ccf`` command-line programs of the ccf connector framework.

``ccf-run`` (:mod:`ccf_runner.run_cli`) runs one connector once, against the local index or Amazon
Q Business; ``ccf`` (:mod:`ccf_runner.ccf_cli`) searches and inspects what it wrote. Settings,
logging, signal handling and rendering each live in their own module.
"""

from ccf_runner.errors import BadConfiguration, RunnerError
from ccf_runner.logs import configure_logging, register_secret
from ccf_runner.schema import config_schema
from ccf_runner.settings import build_config

__all__ = [
    "BadConfiguration",
    "RunnerError",
    "build_config",
    "config_schema",
    "configure_logging",
    "register_secret",
]

"""``python -m ccf_core.api`` prints the folder to put in ``AWS_DATA_PATH`` for ``aws ccf ...``."""

from ccf_core.api.service_model import data_path

print(data_path())

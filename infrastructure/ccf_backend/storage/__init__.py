"""DynamoDB access: one module per table, sharing the client factory and paging in ``base``."""

from ccf_backend.storage import connectors, documents, jobs
from ccf_backend.storage.tables import create_tables, table_definitions

__all__ = ["connectors", "create_tables", "documents", "jobs", "table_definitions"]

"""The GitLab connector plugin of ccf: projects, files, issues, merge requests, wikis and releases."""

from ccf_gitlab.config import GitLabConfig, Kind
from ccf_gitlab.connector import GitLabConnector

__all__ = ["GitLabConfig", "GitLabConnector", "Kind"]

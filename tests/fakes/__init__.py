"""Fake services reached over real HTTP by the real clients (boto3 with ``endpoint_url``, httpx...)."""

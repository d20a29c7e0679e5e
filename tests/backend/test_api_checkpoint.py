"""The checkpoint: a JSON string of up to 1 MiB, replaced whole, read back exactly."""

from __future__ import annotations

import json
import random
import string
from typing import Any

import pytest

from ccf_core.api.models import MAX_CHECKPOINT_BYTES

#: Every test runs on both storage implementations (tests/backend/conftest.py).
STORAGES = ("dynamodb", "sqlite")


def test_put_get_delete_round_trip(ccf: Any, connector_id: str) -> None:
    data = json.dumps({"cursor": "2025-06-01T00:00:00Z", "pages": [1, 2, 3]})
    put = ccf.put_custom_connector_checkpoint(connector_id=connector_id, checkpoint_data=data)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    checkpoint = ccf.get_custom_connector_checkpoint(connector_id=connector_id)["checkpoint"]
    assert checkpoint["checkpoint_data"] == data
    assert checkpoint["connector_id"] == connector_id
    assert checkpoint["created_at"] and checkpoint["updated_at"]
    deleted = ccf.delete_custom_connector_checkpoint(connector_id=connector_id)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ccf.exceptions.ResourceNotFoundException) as caught:
        ccf.get_custom_connector_checkpoint(connector_id=connector_id)
    assert "no checkpoint" in caught.value.response["Error"]["Message"]


def test_replacing_keeps_created_at(ccf: Any, connector_id: str) -> None:
    ccf.put_custom_connector_checkpoint(connector_id=connector_id, checkpoint_data='{"n": 1}')
    first = ccf.get_custom_connector_checkpoint(connector_id=connector_id)["checkpoint"]
    ccf.put_custom_connector_checkpoint(connector_id=connector_id, checkpoint_data='{"n": 2}')
    second = ccf.get_custom_connector_checkpoint(connector_id=connector_id)["checkpoint"]
    assert second["checkpoint_data"] == '{"n": 2}'
    assert second["created_at"] == first["created_at"]


def test_a_one_mebibyte_checkpoint_of_random_text_round_trips(ccf: Any, connector_id: str) -> None:
    """Incompressible data larger than a DynamoDB item is stored in chunks."""
    rng = random.Random(7)
    data = json.dumps(
        {"blob": "".join(rng.choices(string.ascii_letters + string.digits, k=MAX_CHECKPOINT_BYTES - 20))}
    )
    assert len(data.encode()) <= MAX_CHECKPOINT_BYTES
    ccf.put_custom_connector_checkpoint(connector_id=connector_id, checkpoint_data=data)
    assert (
        ccf.get_custom_connector_checkpoint(connector_id=connector_id)["checkpoint"]["checkpoint_data"]
        == data
    )
    ccf.put_custom_connector_checkpoint(connector_id=connector_id, checkpoint_data='{"small": true}')
    assert ccf.get_custom_connector_checkpoint(connector_id=connector_id)["checkpoint"][
        "checkpoint_data"
    ] == ('{"small": true}')


def test_multibyte_text_is_measured_in_bytes(ccf: Any, connector_id: str) -> None:
    data = "é" * (MAX_CHECKPOINT_BYTES // 2 + 1)
    with pytest.raises(ccf.exceptions.BadRequestException) as caught:
        ccf.put_custom_connector_checkpoint(connector_id=connector_id, checkpoint_data=data)
    assert caught.value.response["Error"]["Message"].startswith("checkpoint_data:")


def test_delete_without_a_checkpoint_is_not_found(ccf: Any, connector_id: str) -> None:
    with pytest.raises(ccf.exceptions.ResourceNotFoundException):
        ccf.delete_custom_connector_checkpoint(connector_id=connector_id)


def test_checkpoint_of_unknown_connector_is_not_found(ccf: Any) -> None:
    with pytest.raises(ccf.exceptions.ResourceNotFoundException) as caught:
        ccf.put_custom_connector_checkpoint(connector_id="cc-0123456789ab", checkpoint_data="{}")
    assert "cc-0123456789ab" in caught.value.response["Error"]["Message"]

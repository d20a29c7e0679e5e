"""Several batches in flight: the engine's pipeline calls the destination from worker threads."""

from __future__ import annotations

from ccf_core.destinations.qbusiness import DEFAULT_MAX_IN_FLIGHT

PUT = "BatchPutDocument"


def test_default_settings_keep_several_batches_in_flight(
    fake_qbusiness, run_sync, make_destination, make_connector, make_docs
) -> None:
    fake_qbusiness.latency = 0.05
    destination = make_destination()

    report = run_sync(make_connector(make_docs(200)), destination=destination)

    assert report.added == 200
    assert destination.limits.max_in_flight == DEFAULT_MAX_IN_FLIGHT
    assert fake_qbusiness.max_concurrent[PUT] > 1
    assert fake_qbusiness.max_concurrent[PUT] <= DEFAULT_MAX_IN_FLIGHT


def test_one_in_flight_means_one_batch_at_a_time(
    fake_qbusiness, run_sync, make_destination, make_connector, make_docs
) -> None:
    fake_qbusiness.latency = 0.05
    destination = make_destination(max_in_flight=1)

    report = run_sync(make_connector(make_docs(50)), destination=destination)

    assert report.added == 50
    assert destination.limits.max_in_flight == 1
    assert fake_qbusiness.max_concurrent[PUT] == 1


def test_the_configured_in_flight_count_bounds_concurrent_calls(
    fake_qbusiness, run_sync, make_destination, make_connector, make_docs
) -> None:
    fake_qbusiness.latency = 0.05

    run_sync(make_connector(make_docs(200)), destination=make_destination(max_in_flight=3))

    assert fake_qbusiness.max_concurrent[PUT] == 3

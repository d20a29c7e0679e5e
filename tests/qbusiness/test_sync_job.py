"""The data source sync job: started before uploads, carried by every batch call, stopped in every outcome."""

from __future__ import annotations

import threading

from ccf_core import RunStatus, SyncEngine, SyncMode


def test_sync_job_starts_before_the_first_upload_and_stops_after_the_last(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    report = run_sync(make_connector(make_docs(25)))

    assert report.status is RunStatus.SUCCEEDED
    operations = [call.operation for call in fake_qbusiness.log]
    assert operations[0] == "StartDataSourceSyncJob"
    assert operations[-1] == "StopDataSourceSyncJob"
    assert operations.count("BatchPutDocument") == 3
    assert fake_qbusiness.running_jobs == []


def test_every_batch_call_carries_the_execution_id_of_the_job(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    run_sync(make_connector(make_docs(12)))
    report = run_sync(make_connector(make_docs(2), mode=SyncMode.INCREMENTAL, deleted=["doc-005", "doc-006"]))

    assert report.deleted == 2
    first_job, second_job = fake_qbusiness.sync_jobs
    puts = fake_qbusiness.successful_params("BatchPutDocument")
    deletes = fake_qbusiness.successful_params("BatchDeleteDocument")
    assert [params["dataSourceSyncId"] for params in puts] == [first_job.execution_id] * 2
    assert [params["dataSourceSyncId"] for params in deletes] == [second_job.execution_id]


def test_sync_job_is_stopped_when_the_connector_raises(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    report = run_sync(make_connector(make_docs(30), fail_after=15))

    assert report.status is RunStatus.FAILED
    assert "source went away" in (report.error or "")
    assert fake_qbusiness.calls["StopDataSourceSyncJob"] == 1
    assert fake_qbusiness.running_jobs == []


def test_sync_job_is_stopped_when_the_run_is_cancelled(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    report = run_sync(make_connector(make_docs(30), cancel_after=5))

    assert report.status is RunStatus.STOPPED
    assert fake_qbusiness.calls["StopDataSourceSyncJob"] == 1
    assert fake_qbusiness.running_jobs == []


def test_a_running_job_is_waited_for_then_the_run_goes_ahead(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    fake_qbusiness.conflict(attempts=3)

    report = run_sync(make_connector(make_docs(5)))

    assert report.status is RunStatus.SUCCEEDED
    assert fake_qbusiness.calls["StartDataSourceSyncJob"] == 4
    assert len(fake_qbusiness.documents) == 5


def test_a_job_still_running_after_the_wait_fails_the_run_and_says_so(
    fake_qbusiness, run_sync, make_destination, make_connector, make_docs
) -> None:
    fake_qbusiness.conflict(seconds=60)

    report = run_sync(make_connector(make_docs(5)), destination=make_destination(conflict_wait_seconds=0.2))

    assert report.status is RunStatus.FAILED
    assert "a sync job is already running for data source" in (report.error or "")
    assert "conflict_wait_seconds=0.2" in (report.error or "")
    assert fake_qbusiness.calls["StartDataSourceSyncJob"] > 1
    assert fake_qbusiness.calls["BatchPutDocument"] == 0


def test_access_denied_when_starting_the_job_fails_the_run_with_what_to_check(
    fake_qbusiness, run_sync, make_connector, make_docs
) -> None:
    fake_qbusiness.fail_next("StartDataSourceSyncJob", "AccessDeniedException", message="not authorized")

    report = run_sync(make_connector(make_docs(5)))

    assert report.status is RunStatus.FAILED
    assert "AccessDeniedException: not authorized" in (report.error or "")
    assert "qbusiness:StartDataSourceSyncJob" in (report.error or "")
    assert fake_qbusiness.calls["BatchPutDocument"] == 0


def test_a_throttled_start_is_retried(fake_qbusiness, run_sync, make_connector, make_docs) -> None:
    fake_qbusiness.fail_next("StartDataSourceSyncJob", "ThrottlingException", times=2)

    report = run_sync(make_connector(make_docs(3)))

    assert report.status is RunStatus.SUCCEEDED
    assert fake_qbusiness.calls["StartDataSourceSyncJob"] == 3


def test_a_stop_while_waiting_for_a_running_job_ends_the_wait_at_once(
    fake_qbusiness, make_destination, make_connector, make_docs, state
) -> None:
    fake_qbusiness.conflict(seconds=60)
    destination = make_destination(conflict_wait_seconds=60, conflict_poll_seconds=5)
    engine = SyncEngine(destination, state)
    connector = make_connector(make_docs(5))
    context = engine.make_context(connector)
    threading.Timer(0.2, context.cancel).start()

    report = engine.run(connector, context)

    assert report.status is RunStatus.STOPPED
    assert len(fake_qbusiness.calls_of("StartDataSourceSyncJob")) == 1
    assert fake_qbusiness.calls["BatchPutDocument"] == 0


def _killed_after_open(make_destination, state, connector) -> str:
    """Open a run's destination as the engine would, then drop it as a kill would; its job id."""
    from ccf_core.engine import _Run

    destination = make_destination()
    engine = SyncEngine(destination, state)
    run = _Run(engine, connector, engine.make_context(connector))
    from ccf_core.ports import RunInfo

    destination.open(RunInfo(connector.name, "killed", True, remember=run._keep_note))
    assert destination.sync_job_id is not None
    return destination.sync_job_id


def test_a_job_left_running_by_a_killed_run_is_stopped_by_the_next(
    fake_qbusiness, make_destination, state, make_connector, make_docs
) -> None:
    orphan = _killed_after_open(make_destination, state, make_connector(make_docs(3)))

    report = SyncEngine(make_destination(conflict_wait_seconds=0.2), state).run(make_connector(make_docs(3)))

    assert report.status is RunStatus.SUCCEEDED, report.error
    assert report.added == 3
    assert fake_qbusiness.sync_jobs[0].execution_id == orphan
    assert fake_qbusiness.running_jobs == []


def test_a_job_of_someone_else_is_not_stopped(
    fake_qbusiness, make_destination, state, make_connector, make_docs, qbusiness_client
) -> None:
    from tests.qbusiness.conftest import APPLICATION_ID, DATA_SOURCE_ID, INDEX_ID

    _killed_after_open(make_destination, state, make_connector(make_docs(3)))
    ids = {"applicationId": APPLICATION_ID, "indexId": INDEX_ID, "dataSourceId": DATA_SOURCE_ID}
    qbusiness_client.stop_data_source_sync_job(**ids)
    other = qbusiness_client.start_data_source_sync_job(**ids)["executionId"]

    report = SyncEngine(make_destination(conflict_wait_seconds=0.1), state).run(make_connector(make_docs(3)))

    assert report.status is RunStatus.FAILED
    assert "already running" in (report.error or "")
    assert [job.execution_id for job in fake_qbusiness.running_jobs] == [other]

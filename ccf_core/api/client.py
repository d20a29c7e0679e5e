"""``CCFClient``: the thick client of the CCF API for one connector, over the boto3 ``ccf`` client.

It pages through every list (the upstream client could not: its model had no ``next_token``),
cuts batches to the API's limits, keeps the checkpoint as a dict (a JSON string on the wire), and
turns API errors into :class:`~ccf_core.api.errors.CCFApiError` subclasses.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from ccf_core.api.errors import ApiRequestInvalid, ApiResourceNotFound, CCFApiError, from_client_error
from ccf_core.api.models import (
    MAX_BATCH_DELETE_DOCUMENTS,
    MAX_BATCH_PUT_DOCUMENTS,
    MAX_LIST_DOCUMENTS,
    MAX_LIST_JOBS,
    ConnectorDetails,
    DocumentDetail,
    JobDetail,
    JobMetrics,
    JobStatus,
)
from ccf_core.api.service_model import create_client

#: The variables the job's container gets from the orchestrator.
ENDPOINT_VARIABLE = "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"
CONNECTOR_ID_VARIABLE = "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"
JOB_ID_VARIABLE = "CUSTOM_CONNECTOR_JOB_ID"
#: The access token of a local backend started with ``ccf backend serve --token``.
TOKEN_VARIABLE = "CCF_API_TOKEN"  # noqa: S105 - the variable's name, not a token

_METRIC_NAMES = tuple(JobMetrics.model_fields)

# A page of 1000 documents costs botocore ~20 ms of parsing against the model (four strings per
# record, each checked for a JSON-value header) where json.loads takes ~2 ms: for a state of a
# million records, half a minute per run. The listing of checksum pages takes the documents out
# of the body before botocore parses it (botocore merges what the handler set aside into the
# result); other calls, and other users of the same boto3 client, are parsed as usual.
_RAW_LIST_EVENT = "before-parse.ccf.ListCustomConnectorDocuments"
_raw_listing = threading.local()


def _set_documents_aside(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    if not getattr(_raw_listing, "active", False) or response_dict.get("status_code") != 200:
        return
    try:
        body = json.loads(response_dict["body"])
        documents = body.pop("documents")
    except (ValueError, KeyError, TypeError):
        return  # not what a CCF API answers: botocore parses it and says what is wrong
    customized_response_dict["documents"] = documents
    _raw_listing.set_aside = len(documents) if isinstance(documents, list) else -1
    response_dict["body"] = json.dumps(body).encode()


def add_bearer_token(ccf_client: Any, token: str) -> Any:
    """Send ``Authorization: Bearer <token>`` on every request of ``ccf_client``; the client.

    For a local backend started with ``--token``: it checks the token and no SigV4 signature, so
    the token replaces the signature's header once the request is signed.
    """
    header = f"Bearer {token}"

    def send_token(request: Any, **_: Any) -> None:
        request.headers["Authorization"] = header

    ccf_client.meta.events.register_last("before-send", send_token)
    return ccf_client


class DocumentsMap(BaseModel):
    """Every recorded document of a connector by id (what the upstream ``list_documents`` returned)."""

    documents: dict[str, DocumentDetail]


class CCFClient:
    """The CCF API for one connector.

    Args:
        ccf_client: a boto3 ``ccf`` client (see :func:`ccf_core.api.create_client`).
        connector_id: the connector (``cc-`` + 12 hex digits).
        job_id: the job this process runs, if any (the default of the job methods).
    """

    def __init__(self, ccf_client: Any, connector_id: str, job_id: str | None = None) -> None:
        self.client = ccf_client
        self.connector_id = connector_id
        self.job_id = job_id

    @classmethod
    def from_endpoint(
        cls,
        endpoint_url: str,
        connector_id: str,
        *,
        job_id: str | None = None,
        region_name: str | None = None,
        session: Any = None,
        token: str | None = None,
    ) -> CCFClient:
        """A client for the API at ``endpoint_url``, with the usual AWS credential chain.

        With ``token``, every request carries it as a bearer token (a local backend's ``--token``).
        """
        client = create_client(endpoint_url, region_name=region_name, session=session)
        if token:
            add_bearer_token(client, token)
        return cls(client, connector_id, job_id)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, *, session: Any = None) -> CCFClient:
        """A client from the variables the orchestrator gives a job's container.

        ``CCF_API_TOKEN``, when set, is sent as a bearer token (a local backend's ``--token``).
        ``session`` is the ``boto3.Session`` to sign with (default: a new one, the usual chain).

        Raises:
            CCFApiError: a required variable is missing.
        """
        env = os.environ if environ is None else environ
        missing = [name for name in (ENDPOINT_VARIABLE, CONNECTOR_ID_VARIABLE) if not env.get(name)]
        if missing:
            raise CCFApiError("MissingConfiguration", f"set {' and '.join(missing)} to use the CCF API")
        return cls.from_endpoint(
            env[ENDPOINT_VARIABLE],
            env[CONNECTOR_ID_VARIABLE],
            job_id=env.get(JOB_ID_VARIABLE) or None,
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
            session=session,
            token=env.get(TOKEN_VARIABLE) or None,
        )

    @property
    def endpoint_url(self) -> str:
        """The API's base URL."""
        return str(self.client.meta.endpoint_url)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError, ParamValidationError

        try:
            result: dict[str, Any] = getattr(self.client, operation)(connector_id=self.connector_id, **params)
        except ClientError as err:
            raise from_client_error(err) from err
        except ParamValidationError as err:
            raise ApiRequestInvalid("ParamValidationError", str(err)) from err
        result.pop("ResponseMetadata", None)
        return result

    # -- connector -----------------------------------------------------------------------------

    def get_connector(self) -> ConnectorDetails:
        """The connector this client works for."""
        return ConnectorDetails.model_validate(self._call("get_custom_connector")["connector"])

    # -- documents -----------------------------------------------------------------------------

    def iter_documents(self, page_size: int = MAX_LIST_DOCUMENTS) -> Iterator[DocumentDetail]:
        """Every recorded document, page after page (``page_size`` per call, at most 1000)."""
        for page in self._pages("list_custom_connector_documents", max_results=page_size):
            for document in page.get("documents", []):
                yield DocumentDetail.model_validate(document)

    def iter_checksum_pages(self, page_size: int = MAX_LIST_DOCUMENTS) -> Iterator[list[tuple[str, str]]]:
        """Every recorded ``(document_id, checksum)``, one list per page (``page_size`` per call).

        What a state store needs, without a model object per record: a million records are a
        thousand pages, and only the page being read is held.

        Raises:
            CCFApiError: a record of the answer has no id or checksum (not a CCF API).
        """
        events = getattr(getattr(self.client, "meta", None), "events", None)
        if events is not None:  # a boto3 client (a test's stand-in has no events)
            events.register(_RAW_LIST_EVENT, _set_documents_aside, unique_id="ccf-checksum-pages")
        for page in self._pages("list_custom_connector_documents", self._raw_page, max_results=page_size):
            try:
                records = [
                    (str(item["document_id"]), str(item["checksum"])) for item in page.get("documents", [])
                ]
            except (KeyError, TypeError) as err:
                raise CCFApiError(
                    "InvalidResponse",
                    f"a listed document has no document_id or checksum ({type(err).__name__}: {err}); "
                    f"is {self.endpoint_url} a CCF API?",
                ) from err
            yield records

    def _raw_page(self, operation: str, **params: Any) -> dict[str, Any]:
        """One page of documents with their records set aside from botocore's parse (see above)."""
        _raw_listing.active, _raw_listing.set_aside = True, None
        try:
            page = self._call(operation, **params)
        finally:
            _raw_listing.active = False
        set_aside = _raw_listing.set_aside
        if set_aside and len(page.get("documents") or ()) != set_aside:
            # botocore stopped merging what the handler set aside: an empty page here would make
            # every run send everything again.
            raise CCFApiError(
                "InvalidResponse",
                f"{set_aside} listed documents were lost on the way through botocore; "
                "this botocore release needs ccf's checksum listing updated",
            )
        return page

    def _pages(
        self, operation: str, call: Callable[..., dict[str, Any]] | None = None, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Every page of a list ``operation``, following ``next_token``."""
        call = call or self._call
        token: str | None = None
        while True:
            page = call(operation, **params, **({"next_token": token} if token else {}))
            yield page
            token = page.get("next_token")
            if not token:
                return

    def list_documents(self) -> DocumentsMap:
        """Every recorded document by id (all pages)."""
        return DocumentsMap(documents={document.document_id: document for document in self.iter_documents()})

    def load_checksums(self) -> dict[str, str]:
        """``document_id -> checksum`` of every recorded document (100,000 documents in 100 calls)."""
        return {document.document_id: document.checksum for document in self.iter_documents()}

    def batch_put_documents(self, documents: Mapping[str, str]) -> None:
        """Record ``{document_id: checksum}``, up to 1000 per call."""
        items = [{"document_id": doc_id, "checksum": checksum} for doc_id, checksum in documents.items()]
        for start in range(0, len(items), MAX_BATCH_PUT_DOCUMENTS):
            self._call(
                "batch_put_custom_connector_documents",
                documents=items[start : start + MAX_BATCH_PUT_DOCUMENTS],
            )

    def batch_delete_documents(self, document_ids: Iterable[str]) -> None:
        """Forget documents, up to 1000 per call (unknown ids are ignored)."""
        ids = list(dict.fromkeys(document_ids))
        for start in range(0, len(ids), MAX_BATCH_DELETE_DOCUMENTS):
            self._call(
                "batch_delete_custom_connector_documents",
                document_ids=ids[start : start + MAX_BATCH_DELETE_DOCUMENTS],
            )

    # -- checkpoint ----------------------------------------------------------------------------

    def get_checkpoint(self) -> dict[str, Any] | None:
        """The saved checkpoint, or None when there is none.

        Raises:
            CCFApiError: the stored checkpoint is not a JSON object (another client wrote it).
        """
        try:
            checkpoint = self._call("get_custom_connector_checkpoint")["checkpoint"]
        except ApiResourceNotFound as err:
            if "checkpoint" in err.message:
                return None
            raise
        try:
            data = json.loads(checkpoint["checkpoint_data"])
        except json.JSONDecodeError as err:
            raise CCFApiError("InvalidCheckpoint", "the stored checkpoint is not JSON") from err
        if not isinstance(data, dict):
            raise CCFApiError("InvalidCheckpoint", "the stored checkpoint is not a JSON object")
        return data

    def save_checkpoint(self, checkpoint: Mapping[str, Any]) -> None:
        """Replace the checkpoint (a JSON-serialisable mapping of at most 1 MiB as JSON)."""
        data = json.dumps(dict(checkpoint), sort_keys=True, separators=(",", ":"), default=str)
        self._call("put_custom_connector_checkpoint", checkpoint_data=data)

    put_checkpoint = save_checkpoint

    def delete_checkpoint(self) -> bool:
        """Delete the checkpoint; False when there was none."""
        try:
            self._call("delete_custom_connector_checkpoint")
        except ApiResourceNotFound as err:
            if "checkpoint" in err.message:
                return False
            raise
        return True

    # -- jobs ----------------------------------------------------------------------------------

    def _job_id(self, job_id: str | None) -> str:
        found = job_id or self.job_id
        if not found:
            raise CCFApiError("MissingJobId", "no job id given, and this client is not bound to a job")
        return found

    def start_job(self, environment: Mapping[str, str] | None = None) -> JobDetail:
        """Start a job (a 409 :class:`~ccf_core.api.errors.ApiConflict` while one runs)."""
        variables = [{"name": name, "value": value} for name, value in (environment or {}).items()]
        return JobDetail.model_validate(
            self._call("start_custom_connector_job", environment=variables)["job"]
        )

    def stop_job(self, job_id: str | None = None) -> JobDetail:
        """Ask a job to stop (idempotent while it is stopping)."""
        job = self._call("stop_custom_connector_job", job_id=self._job_id(job_id))["job"]
        return JobDetail.model_validate(job)

    def get_job(self, job_id: str | None = None) -> JobDetail:
        """A job with its status and metrics."""
        job = self._call("get_custom_connector_job", job_id=self._job_id(job_id))["job"]
        return JobDetail.model_validate(job)

    def list_jobs(
        self, status: JobStatus | str | None = None, page_size: int = MAX_LIST_JOBS
    ) -> Iterator[JobDetail]:
        """The connector's jobs, newest first (all pages), optionally of one status."""
        params: dict[str, Any] = {"max_results": page_size}
        if status is not None:
            params["status"] = JobStatus(status).value
        for page in self._pages("list_custom_connector_jobs", **params):
            for job in page.get("jobs", []):
                yield JobDetail.model_validate(job)

    def report_job_metrics(self, metrics: Mapping[str, Any] | Any, job_id: str | None = None) -> JobDetail:
        """Report what the run did: a mapping, or a report with the counters as attributes."""
        values = (
            dict(metrics)
            if isinstance(metrics, Mapping)
            else {name: getattr(metrics, name) for name in _METRIC_NAMES if hasattr(metrics, name)}
        )
        validated = JobMetrics.model_validate(
            {name: values[name] for name in _METRIC_NAMES if name in values}
        )
        job = self._call(
            "put_custom_connector_job_metrics",
            job_id=self._job_id(job_id),
            metrics=validated.model_dump(exclude_none=True),
        )["job"]
        return JobDetail.model_validate(job)

"""Ray's job API (Ray Jobs) as the lifecycle services use it: training jobs (jobs.py) and OpenAI batches
(batches.py) both submit, read and stop their Ray Jobs through it."""

from __future__ import annotations

from adgenesis.errors import RequestError


def job_client(address: str):
    """Ray's job API at `address`; a 503 RequestError when it does not answer."""
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # noqa: BLE001 - connection errors of any kind
        raise RequestError(503, f"Ray Jobs API at {address} is not reachable: {exc}") from None


def stop_job(client, job_id: str) -> None:
    """Ask Ray to stop a job (a training job or a batch); a 502 RequestError when the job API fails."""
    try:
        client.stop_job(job_id)
    except Exception as exc:  # noqa: BLE001
        raise RequestError(502, f"Ray Jobs could not stop {job_id}: {exc}") from None

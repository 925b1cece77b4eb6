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

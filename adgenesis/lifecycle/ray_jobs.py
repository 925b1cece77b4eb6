"""Ray's job API (Ray Jobs) as the lifecycle services use it: training jobs (jobs.py), OpenAI batches (batches.py)
and the jobs gauge (jobs.watch_jobs) make their client here and stop their jobs here. Its failures become domain
errors in adgenesis/service_errors.py."""

from __future__ import annotations

from adgenesis.errors import Unavailable
from adgenesis.service_errors import dashboard_call


def job_client(address: str):
    """Ray's job API at `address` (its failed answers raise ray_compat.DashboardHttpError); Unavailable when it
    does not answer: making the client asks the dashboard for its version."""
    from adgenesis.ray_compat import JobSubmissionClient

    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # noqa: BLE001 - whatever stops the version check, the API is not there to use
        raise Unavailable(f"Ray Jobs API at {address} is not reachable: {exc}") from None


def stop_job(client, job_id: str) -> None:
    """Ask Ray to stop a job (a training job or a batch)."""
    with dashboard_call(f"Ray Jobs could not stop {job_id}"):
        client.stop_job(job_id)

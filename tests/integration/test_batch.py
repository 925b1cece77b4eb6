"""Batch jobs on the shared local graph: Ray Data pipelines (designs on an engine of their own), bad rows recorded and
not fatal, a killed job resumed with every row exactly once, and the OpenAI Batch API driven by the
official `openai` client (a batch run as a Ray Job to `completed`, another cancelled)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from ray.job_submission import JobSubmissionClient

from adgenesis.paths import DATA_DIR, REPO_ROOT
from adgenesis.settings import load_profile
from adgenesis.rows import read_rows
from batch_jobs.common import run
from batch_jobs.designs import Designer, DesignRow
from batch_jobs.images import ImageRow, Painter
from batch_jobs.product_descriptions import Describer, photo_rows

CATALOGUE = DATA_DIR / "catalogue"
TOO_LONG = "x" * (load_profile("local").limits.max_prompt_chars + 1)


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def catalogue_designs(n: int) -> list[dict]:
    return lines(CATALOGUE / "designs.jsonl")[:n]


def test_designs_job_records_bad_rows_and_goes_on(serve_app, client, api_key, tmp_path):
    admin = {"Authorization": f"Bearer {api_key}"}
    assert client.post("/v1/keys", json={"workspace": "batch"}, headers=admin).status_code == 201  # makes it
    kit = client.post("/v1/brand-kits", headers=admin, json={
        "name": "Batch Kit", "workspace": "batch", "headline_font": {"family": "Oswald"}, "body_font": {"family": "Lato"},
        "palette": [{"hex": "#F5F1E8", "role": "background"}, {"hex": "#1B263B", "role": "text"}],
        "disclaimer": "Batch Co. Terms apply."})
    assert kit.status_code == 201, kit.text
    rows = catalogue_designs(3) + [
        {**catalogue_designs(4)[3], "brand_kit": kit.json()["kit"]["id"]},  # read from the store as the operator
        {"id": "bad-platform", "prompt": "Spring sale", "platform": "facebook", "format": "square"},
        {"id": "too-long", "prompt": TOO_LONG, "platform": "meta", "format": "square"},
        {"id": "no-such-kit", "prompt": "Spring sale", "platform": "meta", "format": "square",
         "brand_kit": "kit_" + "f" * 24},
    ]
    summary = run("designs", read_rows(jsonl(tmp_path / "in.jsonl", rows), DesignRow), Designer, tmp_path / "out",
                  batch_size=4, concurrency=1)
    assert summary == {"rows": 7, "done": 4, "failed": 3, "resumed": 0}
    results, errors = lines(tmp_path / "out" / "results.jsonl"), lines(tmp_path / "out" / "errors.jsonl")
    assert [r["id"] for r in results] == [r["id"] for r in rows[:4]]
    assert all(len(r["designs"]) == 1 and r["quality"][0]["checks"] for r in results)
    on_brand = results[3]
    assert on_brand["quality"][0]["checks"]["on_brand"], on_brand["quality"][0]["problems"]
    assert on_brand["designs"][0]["brand_kit"]["id"] == kit.json()["kit"]["id"]
    assert {e["id"]: e["status"] for e in errors} == {"bad-platform": 422, "too-long": 413, "no-such-kit": 404}
    assert "facebook" in errors[0]["error"]


def test_images_and_product_descriptions_jobs(serve_app, tmp_path):
    rows = lines(CATALOGUE / "images.jsonl")[:2] + [{"id": "no-such-size", "prompt": "a lamp", "size": "huge"}]
    summary = run("images", read_rows(jsonl(tmp_path / "img.jsonl", rows), ImageRow), Painter, tmp_path / "img",
                  batch_size=4, concurrency=1)
    assert summary == {"rows": 3, "done": 2, "failed": 1, "resumed": 0}
    manifest = lines(tmp_path / "img" / "results.jsonl")
    assert all((tmp_path / "img" / m["file"]).read_bytes()[:4] == b"\x89PNG" for m in manifest)
    assert lines(tmp_path / "img" / "errors.jsonl")[0]["id"] == "no-such-size"

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("mug", "watch"):
        (photos / f"{name}.jpg").write_bytes((CATALOGUE / "photos" / f"{name}.jpg").read_bytes())
    (photos / "broken.jpg").write_bytes(b"not a photo at all")
    summary = run("product_descriptions", photo_rows(photos), Describer, tmp_path / "desc", batch_size=4, concurrency=1)
    assert summary == {"rows": 3, "done": 2, "failed": 1, "resumed": 0}
    assert {r["id"] for r in lines(tmp_path / "desc" / "results.jsonl")} == {"mug", "watch"}
    assert all(r["description"] and r["caption"] for r in lines(tmp_path / "desc" / "results.jsonl"))
    broken = lines(tmp_path / "desc" / "errors.jsonl")[0]
    assert broken["id"] == "broken" and broken["status"] == 400


def batch_cli(server, job: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "RAY_ADDRESS": server.head.address}
    return subprocess.Popen([sys.executable, "-m", f"batch_jobs.{job}", *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_killed_job_rerun_finishes_every_row_exactly_once(server, tmp_path):
    # Parts, resume and the summary are batch_jobs.common's, the same for every job: the images job shows them
    # without paying twice for the designs job's engine start.
    rows = lines(CATALOGUE / "images.jsonl")[:10]
    source = jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out"
    args = ("--input", str(source), "--output", str(out), "--batch-size", "1", "--concurrency", "1")
    first = batch_cli(server, "images", *args)
    deadline = time.monotonic() + 240
    while len(list((out / "parts").glob("*.jsonl"))) < 2:
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline, "no part written"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = batch_cli(server, "images", *args)
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == 10 and summary["done"] == 10 and 2 <= summary["resumed"] < 10, summary
    ids = [r["id"] for r in lines(out / "results.jsonl")]
    assert ids == [r["id"] for r in rows]
    parts = [r["id"] for p in (out / "parts").glob("*.jsonl") for r in lines(p)]
    assert sorted(parts) == sorted(ids)  # nothing twice, across the killed run's parts and the rerun's


def test_malformed_input_is_refused_before_any_work(server, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(catalogue_designs(1)[0]) + "\n{\"id\": \"x\", \"prompt\": \"y\"}\n")
    proc = batch_cli(server, "designs", "--input", str(source), "--output", str(tmp_path / "out"))
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "line 2" in output and "platform" in output
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def oai(serve_app, api_key):
    return openai.OpenAI(base_url=f"{serve_app}/v1", api_key=api_key, timeout=120, max_retries=0)


def test_openai_client_batch_runs_to_completed_and_a_cancel_stops_its_job(oai, dashboard, serve_app, tmp_path):
    requests = lines(CATALOGUE / "openai_batch_designs.jsonl")[:3]
    bad = requests[0] | {"custom_id": "bad", "body": requests[0]["body"] | {"platform": "facebook"}}
    upload = oai.files.create(file=("batch.jsonl", "".join(json.dumps(r) + "\n" for r in requests + [bad]).encode()),
                              purpose="batch")
    batch = oai.batches.create(input_file_id=upload.id, endpoint="/v1/designs", completion_window="24h")
    assert batch.status in ("validating", "in_progress") and batch.request_counts.total == 4
    deadline = time.monotonic() + 300
    while batch.status not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, batch
        time.sleep(2)
        batch = oai.batches.retrieve(batch.id)
    assert batch.status == "completed", batch
    assert (batch.request_counts.completed, batch.request_counts.failed) == (3, 1)
    output = [json.loads(l) for l in oai.files.content(batch.output_file_id).text.splitlines()]
    assert sorted(o["custom_id"] for o in output) == sorted(r["custom_id"] for r in requests)
    assert all(o["response"]["status_code"] == 200 and o["response"]["body"]["designs"] for o in output)
    errors = [json.loads(l) for l in oai.files.content(batch.error_file_id).text.splitlines()]
    assert errors[0]["custom_id"] == "bad" and errors[0]["error"]["code"] == "422"

    slow = oai.batches.create(input_file_id=oai.files.create(
        file=("all.jsonl", (CATALOGUE / "openai_batch_designs.jsonl").read_bytes()), purpose="batch").id,
        endpoint="/v1/designs", completion_window="24h")
    assert oai.batches.cancel(slow.id).status in ("cancelling", "cancelled")
    jobs = JobSubmissionClient(dashboard)
    deadline = time.monotonic() + 120
    while str(jobs.get_job_status(slow.id)) not in ("STOPPED", "JobStatus.STOPPED"):
        assert time.monotonic() < deadline, jobs.get_job_status(slow.id)
        time.sleep(1)
    assert oai.batches.retrieve(slow.id).status == "cancelled"


def test_batch_routes_refuse_bad_input_with_4xx(client, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    assert client.post("/v1/files", files={"file": ("b.jsonl", b"{}\n")}, data={"purpose": "batch"}).status_code == 401
    bad = client.post("/v1/files", files={"file": ("b.jsonl", b'{"custom_id": "a"}\n')}, data={"purpose": "batch"},
                      headers=auth)
    assert bad.status_code == 400 and "line 1" in bad.json()["detail"]
    assert client.get("/v1/files/..%2F..%2Fetc%2Fpasswd/content", headers=auth).status_code == 404
    assert client.get("/v1/batches/batch_nope", headers=auth).status_code == 404
    missing = client.post("/v1/batches", json={"input_file_id": "file-" + "0" * 24, "endpoint": "/v1/designs"}, headers=auth)
    assert missing.status_code == 404 and "no file" in missing.json()["detail"]

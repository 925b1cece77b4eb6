"""What CI does, timed: a fresh clone of this repository's HEAD, then its `.ci/run` (which sets up .venv, builds
the local models and runs the whole suite), as CI runs it (CI=true, no standard input).

    python3 benchmarks/ci_fresh_clone.py            # ~30 min on 2 cores; appends to benchmarks/results.jsonl

Records `ci_fresh_clone`: total_s (clone to exit), tests_s (pytest's own clock), setup_s (the rest: venv, models,
collection), passed / failed / skipped, the exit code and the ten slowest tests as `.ci/run` printed them. The
log stays in the clone's folder (printed at the end). CI cuts a run at 90 minutes; our budget is 35.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import record  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"^=*\s*(?P<counts>\d+ (?:passed|failed|skipped|errors?)\b.*?) in (?P<seconds>[\d.]+)s")
SLOWEST = re.compile(r"^\s*(?P<seconds>[\d.]+)s\s+(?P<test>tests/\S+)$")


def counts(summary: str) -> dict[str, int]:
    """pytest's closing counts: 'N passed, N failed, N skipped, N errors' (one error is 'error')."""
    found = {word.rstrip("s") if word.startswith("error") else word: int(n)
             for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)}
    return {k: found.get(k, 0) for k in ("passed", "failed", "skipped", "error")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None, help="where to clone (default: a new temp folder)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="ci-fresh-"))
    clone = workdir / "repo"
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.strip()
    log_path = workdir / "ci.log"
    started = time.monotonic()
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    env = {**os.environ, "CI": "true"}
    crds = REPO.parent / "shared" / "kuberay"  # the clone is elsewhere: point tests/test_kuberay.py at the CRDs
    if crds.is_dir():
        env.setdefault("ADGENESIS_KUBERAY_CRDS", str(crds))
    env.pop("VIRTUAL_ENV", None)
    with log_path.open("w") as log:
        proc = subprocess.Popen(["bash", ".ci/run"], cwd=clone, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        rc = proc.wait()
    total_s = time.monotonic() - started

    lines = log_path.read_text().splitlines()
    summary = next((m for line in reversed(lines) if (m := SUMMARY.match(line))), None)
    tests_s = float(summary["seconds"]) if summary else None
    slowest = [{"test": m["test"], "s": float(m["seconds"])} for line in lines if (m := SLOWEST.match(line))][:10]
    results = {"rc": rc, "total_s": round(total_s, 1), "tests_s": tests_s,
               "setup_s": round(total_s - tests_s, 1) if tests_s else None,
               **(counts(summary["counts"]) if summary else {}), "slowest": slowest, "log": str(log_path)}
    record("ci_fresh_clone", results, measured_commit=sha)
    sys.exit(rc)


if __name__ == "__main__":
    main()

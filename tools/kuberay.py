"""Write serve_config.yaml into the KubeRay RayService's serveConfigV2 (deploy/kuberay/rayservice.yaml).

    python -m tools.kuberay           # or `make kuberay`: rewrite the block
    python -m tools.kuberay --check   # exit 1 if the manifest's block is not serve_config.yaml (tests/test_kuberay.py)

One source: serve_config.yaml is what `serve deploy` takes on a VM cluster (cluster.yaml) and what KubeRay deploys.
The block is replaced as text, so the manifest keeps its comments and its other fields as written.
"""

from __future__ import annotations

import argparse
import sys

from adgenesis.paths import REPO_ROOT

SERVE_CONFIG = REPO_ROOT / "serve_config.yaml"
RAYSERVICE = REPO_ROOT / "deploy" / "kuberay" / "rayservice.yaml"
KEY = "  serveConfigV2: |"
INDENT = " " * 4
HEADER = "# generated from serve_config.yaml by `make kuberay`: edit that file, not this block"


def render(manifest: str, serve_config: str) -> str:
    """`manifest` with the literal block under `serveConfigV2: |` replaced by `serve_config`, indented."""
    lines = manifest.splitlines()
    try:
        start = lines.index(KEY) + 1
    except ValueError:
        raise SystemExit(f"{RAYSERVICE}: no line {KEY.strip()!r} under spec") from None
    end = start
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(INDENT)):
        end += 1  # a block scalar runs while its lines are blank or indented deeper than its key
    while end > start and not lines[end - 1].strip():
        end -= 1  # trailing blank lines belong to what follows
    block = [INDENT + HEADER] + [INDENT + line if line.strip() else "" for line in serve_config.splitlines()]
    return "\n".join(lines[:start] + block + lines[end:]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say whether the manifest is up to date")
    args = parser.parse_args(argv)
    current = RAYSERVICE.read_text()
    wanted = render(current, SERVE_CONFIG.read_text())
    if args.check:
        if current != wanted:
            print(f"{RAYSERVICE.relative_to(REPO_ROOT)} is out of date with serve_config.yaml: run `make kuberay`")
            return 1
        return 0
    if current != wanted:
        RAYSERVICE.write_text(wanted)
        print(f"wrote serve_config.yaml into {RAYSERVICE.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The screenshots in docs/monitoring.md, taken in headless Chromium (Debian's) against `make serve` +
`make monitor` after some traffic:

    python scripts/screenshot_monitoring.py [--prometheus http://127.0.0.1:9090] [--dashboard http://127.0.0.1:8265]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "monitoring"
QUERY = "sum by (outcome) (increase(adgenesis_designs_total[15m]))"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--dashboard", default="http://127.0.0.1:8265")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    graph = f"{args.prometheus}/graph?" + urlencode({"g0.expr": QUERY, "g0.tab": "0", "g0.range_input": "30m"})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(graph, wait_until="networkidle")
        page.wait_for_timeout(2000)
        page.screenshot(path=OUT / "prometheus-designs.png")
        page.goto(f"{args.dashboard}/#/serve", wait_until="networkidle")
        token = page.get_by_placeholder("Enter your authentication token")  # Ray's token auth is on: `ray get-auth-token`
        if token.count():
            ray_cli = Path(sys.executable).with_name("ray")
            token.fill(subprocess.run([ray_cli, "get-auth-token"], capture_output=True, text=True).stdout.split()[-1])
            page.get_by_role("button", name="Submit").click()
        page.wait_for_timeout(6000)
        page.screenshot(path=OUT / "ray-dashboard-serve.png")
        browser.close()
    print(f"wrote {OUT}/prometheus-designs.png and ray-dashboard-serve.png")


if __name__ == "__main__":
    main()

"""Ship a trained design adapter: copy it to data/adapters/<name> with the provenance that made it.

    .venv/bin/python scripts/export_design_adapter.py runs/train/llm_sft/design-default [--to design-llm-alt]

`make train-design` runs the recipe (train_jobs/llm_sft.py, configs/train/llm_sft.yaml) and then this.
`make models` merges the shipped adapter into the served `design-llm` after checking its sha256 against
provenance.json, so a changed adapter file is refused rather than served.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import yaml  # noqa: E402

from adgenesis.checksum import file_sha256 as sha256  # noqa: E402
from adgenesis.paths import DATA_DIR, MODELS_DIR  # noqa: E402
from tools.prepare_models import read_manifest  # noqa: E402

COMMAND = ("python -m train_jobs.llm_sft --config configs/train/llm_sft.yaml --set base_model={base} "
           "--set run.name={run} && python scripts/export_design_adapter.py runs/train/llm_sft/{run} --to {to}"
           "  (= make train-design BASE={base} TO={to})")
METRICS = ("val_loss", "base_val_loss", "epochs_run", "global_step", "base_validity_rate", "tuned_validity_rate",
           "base_quality_rate", "tuned_quality_rate", "heldout_prompts", "fit_seconds", "total_seconds")


def main(run_dir: str, to: str = "design-llm") -> int:
    out = Path(run_dir) / "output"
    report = json.loads((out / "eval_report.json").read_text())
    # the models/ folder trained on, by name (the resolved config holds this machine's absolute path)
    base = Path(yaml.safe_load((out / "train_config.yaml").read_text())["base_model"]).name
    adapter = DATA_DIR / "adapters" / to
    adapter.mkdir(parents=True, exist_ok=True)
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        shutil.copyfile(out / "adapter" / name, adapter / name)
    shutil.copyfile(out / "train_config.yaml", adapter / "train_config.yaml")  # the resolved config
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = base  # not this machine's absolute path
    (adapter / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO_ROOT).stdout.strip()
    provenance = {
        "command": COMMAND.format(base=base, run=Path(run_dir).name, to=to),
        "commit": commit,
        "base": {"folder": base, "sha256": read_manifest()["models"][base]["sha256"]},
        "data_sha256": {split: sha256(DATA_DIR / "design_sft" / f"{split}.jsonl") for split in ("train", "validation")},
        "train_config_sha256": sha256(adapter / "train_config.yaml"),
        "metrics": {k: report["metrics"][k] for k in METRICS if k in report["metrics"]},
        "adapter_sha256": sha256(adapter / "adapter_model.safetensors"),
    }
    (adapter / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(json.dumps(provenance, indent=2))
    print(f"exported to {adapter.relative_to(REPO_ROOT)}; `make models` (or `--only {to}`) now merges it "
          f"into {(MODELS_DIR / to).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--to", default="design-llm", choices=("design-llm", "design-llm-alt"),
                        help="data/adapters/<to>: design-llm is what `make models` serves")
    args = parser.parse_args()
    raise SystemExit(main(args.run_dir, args.to))

"""The design LLM's LoRA adapters: `<model_id>:<name>` names the PEFT folder `<lora_dir>/<name>/`.

Plain Python (no Ray, no vLLM): the Serve replica's LoRA loader (`deployments.llm`), the design deployment, the
ingress's model list and the designs batch job's own engine all resolve a model id to a folder here.
"""

from __future__ import annotations

from pathlib import Path

from adgenesis.paths import PathEscape, safe_child


class UnknownAdapter(LookupError):
    pass


def adapter_names(lora_dir: Path | None) -> list[str]:
    """Adapters are subfolders holding a PEFT `adapter_config.json`."""
    if lora_dir is None or not lora_dir.is_dir():
        return []
    return sorted(p.name for p in lora_dir.iterdir() if (p / "adapter_config.json").is_file())


def adapter_path(lora_dir: Path | None, model_id: str) -> Path:
    """`design-llm:<name>` -> `<lora_dir>/<name>`, refusing names that would leave the folder."""
    _, _, name = model_id.partition(":")
    if lora_dir is None:
        raise UnknownAdapter(f"model {model_id!r}: no LoRA adapters are configured")
    try:
        path = safe_child(lora_dir, name)
    except PathEscape as exc:
        raise UnknownAdapter(f"model {model_id!r}: {exc}") from None
    if not (path / "adapter_config.json").is_file():
        raise UnknownAdapter(f"model {model_id!r}: no adapter named {name!r}; available: {adapter_names(lora_dir)}")
    return path


def adapter_for(model_id: str, lora_dir: Path | None, model: str) -> Path | None:
    """None for the base model `model_id`, the adapter's folder for `<model_id>:<name>`; UnknownAdapter otherwise."""
    if model == model_id:
        return None
    if model.partition(":")[0] != model_id:
        raise UnknownAdapter(f"unknown model {model!r}; this server serves {model_id!r} and its adapters")
    return adapter_path(lora_dir, model)

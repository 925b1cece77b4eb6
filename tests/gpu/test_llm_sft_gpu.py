"""The GPU-only paths of `train_jobs.llm_sft`, without Ray: QLoRA (bitsandbytes 4-bit) loading and
training steps, and FSDP (use_orig_params) gathering the adapter and optimizer state for a checkpoint
and re-sharding them on resume. Skipped without CUDA (CI has none); run on a GPU box with
`pytest tests/gpu`. Needs `models/design-llm` for its config and tokenizer only: the weights here are a
2-layer random model of the same shape family.
"""

from __future__ import annotations

import os

import pytest
import torch

from adgenesis.paths import DATA_DIR, MODELS_DIR

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> str:
    from transformers import AutoConfig, AutoModelForCausalLM

    src = MODELS_DIR / "design-llm"
    if not (src / "tokenizer.json").is_file():
        pytest.skip("models/design-llm (config + tokenizer) not built")
    out = tmp_path_factory.mktemp("tiny-llm")
    cfg = AutoConfig.from_pretrained(src)
    cfg.num_hidden_layers = 2
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(cfg).save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"):
        if (src / name).is_file():
            (out / name).write_bytes((src / name).read_bytes())
    return str(out)


def _cfg(base: str, **extra):
    from adgenesis.train_config import validate_config

    return validate_config({"recipe": "llm_sft", "base_model": base, "max_seq_len": 640,
                            "data": {"train": "design_sft/train.jsonl", "validation": "design_sft/validation.jsonl"},
                            "scaling": {"num_workers": 1, "use_gpu": True}, **extra})


def _batch(tok, device):
    from train_jobs import llm_sft

    lines = (DATA_DIR / "design_sft" / "train.jsonl").read_text().splitlines()[:4]
    return llm_sft.collate(tok, lines, 640, device)


def test_qlora_loads_4bit_and_trains(tiny_base, tmp_path):
    bnb = pytest.importorskip("bitsandbytes")
    from train_jobs import llm_sft

    model, tok = llm_sft.load_lora_model(_cfg(tiny_base, qlora=True), torch.device("cuda"))
    assert sum(isinstance(m, bnb.nn.Linear4bit) for m in model.modules()) > 0
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    batch = _batch(tok, torch.device("cuda"))
    losses = []
    for _ in range(3):
        loss, n = llm_sft.answer_loss(model, batch)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert n > 0 and all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    llm_sft.save_adapter(model, tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()


def test_fsdp_gather_save_and_reshard(tiny_base, tmp_path):
    import torch.distributed as dist
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    from train_jobs import llm_sft

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29517", RANK="0", WORLD_SIZE="1")
    dist.init_process_group("nccl")
    try:
        torch.cuda.set_device(0)
        cfg = _cfg(tiny_base, strategy="fsdp")
        peft_model, tok = llm_sft.load_lora_model(cfg, torch.device("cuda"))
        before = {k: v.detach().clone() for k, v in get_peft_model_state_dict(peft_model).items()}
        model = FSDP(peft_model, use_orig_params=True, device_id=0)  # what prepare_model(strategy=fsdp) builds
        assert llm_sft.is_fsdp(model)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
        batch = _batch(tok, torch.device("cuda"))
        llm_sft.answer_loss(model, batch)[0].backward()
        opt.step()

        full, optim_state = llm_sft.gather_state(model, opt)
        llm_sft.save_adapter(peft_model, tmp_path / "adapter", full)
        adapter = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
        assert set(adapter) == set(before)
        assert any(not torch.equal(adapter[k].cpu(), before[k].cpu()) for k in before)

        peft2, _ = llm_sft.load_lora_model(cfg, torch.device("cuda"))
        set_peft_model_state_dict(peft2, adapter)
        model2 = FSDP(peft2, use_orig_params=True, device_id=0)
        opt2 = torch.optim.AdamW([p for p in model2.parameters() if p.requires_grad], lr=1e-2)
        llm_sft.load_optimizer_state(model2, opt2, optim_state)
        assert len(opt2.state_dict()["state"]) == len(opt.state_dict()["state"])
        with torch.no_grad():
            l1, l2 = llm_sft.answer_loss(model, batch)[0].item(), llm_sft.answer_loss(model2, batch)[0].item()
        assert abs(l1 - l2) < 1e-2, (l1, l2)

        report = llm_sft.generation_eval(tiny_base, str(tmp_path / "adapter"),
                                         llm_sft.read_jsonl(str(DATA_DIR / "design_sft" / "validation.jsonl"))[:1],
                                         max_new_tokens=8, batch_size=1)
        assert set(report) >= {"base", "tuned"}
    finally:
        dist.destroy_process_group()



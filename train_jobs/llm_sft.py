"""LoRA supervised fine-tuning of the design LLM on Ray Train.

    python -m train_jobs.llm_sft --config configs/train/llm_sft.yaml [--set key=value ...] [--resume latest]
    ray job submit --working-dir . -- python -m train_jobs.llm_sft --config configs/train/llm_sft.yaml

What happens, top to bottom:
1. The config is validated on the driver (paths, ranges, QLoRA/FSDP need GPUs) before Ray starts.
2. The JSONL files become Ray Datasets; Ray Train splits them into one shard per worker.
3. Each worker (`train_loop_per_worker`) loads the base model, wraps it in a peft LoRA (QLoRA: 4-bit
   base), hands it to `prepare_model` (DDP over gloo/NCCL, or FSDP on GPUs), and trains on exactly the
   chat the served model sees (`adgenesis.engines.design.build_messages` + the tokenizer's chat
   template) with the loss on the answer tokens only (the compact JSON copy + end-of-turn).
4. After every epoch: validation loss (all-reduced over workers), an adapter-only checkpoint reported by
   rank 0, early stopping on validation loss. A restarted worker group (FailureConfig) or a second run
   with the same `run.name` continues from the latest checkpoint (`ray.train.get_checkpoint()`).
5. On the driver: the best adapter is copied to `<run>/output/adapter`, a held-out generation eval
   (base vs tuned, unconstrained decoding: no grammar holds the words to the brief's spans, so the checks see
   what the model learned; validated with `engines.design.finish`) runs as a Ray task,
   and everything is logged to MLflow and registered as a new model version.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from adgenesis.engines.design import LayoutError, build_messages, copy_for, finish
from adgenesis.engines.quality import check
from adgenesis.schema import canvas_for
from adgenesis.train_config import LLMSFTConfig
from train_jobs import common

ADAPTER_DIR = "adapter"
STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"
IGNORE_INDEX = -100


# --------------------------------------------------------------------------------------------------
# Data: one JSONL row -> (input_ids, labels) with the loss on the answer only
# --------------------------------------------------------------------------------------------------


def parse_row(line: str | dict) -> dict[str, Any]:
    row = json.loads(line) if isinstance(line, str) else line
    response = row["response"]
    if isinstance(response, str):
        response = json.loads(response)
    return {"prompt": row["prompt"], "platform": row["platform"], "format": row["format"],
            # The answer the model learns: the copy as compact JSON, as the serving path parses it.
            "answer": json.dumps(response, separators=(",", ":"), ensure_ascii=False)}


def prompt_text(tokenizer, row: dict[str, Any]) -> str:
    """The served chat up to the assistant turn (generation prompt included)."""
    messages = build_messages(row["prompt"], canvas_for(row["platform"], row["format"]))
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def encode(tokenizer, row: dict[str, Any], max_seq_len: int) -> tuple[list[int], list[int]]:
    """Token ids of prompt + answer, and labels that are IGNORE_INDEX on the prompt."""
    messages = build_messages(row["prompt"], canvas_for(row["platform"], row["format"]))
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": row["answer"]}],
                                         tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("chat template: the answer turn does not extend the generation prompt")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full[len(prompt):], add_special_tokens=False)["input_ids"]  # ends <|im_end|>\n
    if len(prompt_ids) >= max_seq_len:
        raise ValueError(f"max_seq_len {max_seq_len} is too small: the prompt alone is {len(prompt_ids)} tokens")
    ids = (prompt_ids + answer_ids)[:max_seq_len]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + answer_ids)[:max_seq_len]
    return ids, labels


def collate(tokenizer, lines, max_seq_len: int, device) -> dict[str, torch.Tensor]:
    """Left-padded batch: every answer ends at the last position, so the loss needs only the last logits."""
    pairs = [encode(tokenizer, parse_row(str(line)), max_seq_len) for line in lines]
    width = max(len(ids) for ids, _ in pairs)
    pad = tokenizer.pad_token_id
    input_ids = torch.full((len(pairs), width), pad, dtype=torch.long)
    labels = torch.full((len(pairs), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(pairs), width), dtype=torch.long)
    for i, (ids, lab) in enumerate(pairs):
        input_ids[i, width - len(ids):] = torch.tensor(ids)
        labels[i, width - len(lab):] = torch.tensor(lab)
        attention[i, width - len(ids):] = 1
    return {"input_ids": input_ids.to(device), "labels": labels.to(device), "attention_mask": attention.to(device)}


def answer_loss(model, batch) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy over answer tokens, and how many there were.

    Logits are computed only from the position before the earliest answer token on: the 49k-word output
    layer over the whole prompt was most of a step's time on CPU.
    """
    labels = batch["labels"]
    answer_start = int((labels != IGNORE_INDEX).int().argmax(dim=1).min())
    keep = labels.shape[1] - max(answer_start - 1, 0)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep).logits
    targets = labels[:, labels.shape[1] - keep + 1:]
    n = int((targets != IGNORE_INDEX).sum())
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(),
                                             ignore_index=IGNORE_INDEX, reduction="sum")
    return loss / max(n, 1), n


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------


def load_lora_model(cfg: LLMSFTConfig, device: torch.device):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(cfg.base_model)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if cfg.qlora:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            raise RuntimeError("qlora: true needs bitsandbytes on the GPU workers (pip install '.[gpu]')") from None
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=torch.bfloat16)
        model = AutoModelForCausalLM.from_pretrained(cfg.base_model, quantization_config=quant,
                                                     device_map={"": device})
        model = prepare_model_for_kbit_training(  # non-reentrant checkpointing works with DDP
            model, use_gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32  # fp32 is faster on CPU
        model = AutoModelForCausalLM.from_pretrained(cfg.base_model, dtype=dtype)
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=list(cfg.lora.target_modules), task_type="CAUSAL_LM")
    # FSDP flattens frozen and LoRA weights into one buffer, which needs one dtype: keep LoRA in the base's
    # bf16 there (peft would otherwise upcast adapter weights to fp32).
    return get_peft_model(model, lora, autocast_adapter_dtype=cfg.strategy != "fsdp"), tokenizer


def is_fsdp(model) -> bool:
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    return isinstance(model, FSDP)


def _full_state_dict_type(model, rank0_only: bool):
    from torch.distributed.fsdp import (
        FullOptimStateDictConfig,
        FullStateDictConfig,
        StateDictType,
    )
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    return FSDP.state_dict_type(model, StateDictType.FULL_STATE_DICT,
                                FullStateDictConfig(offload_to_cpu=True, rank0_only=rank0_only),
                                FullOptimStateDictConfig(offload_to_cpu=True, rank0_only=rank0_only))


def gather_state(model, optimizer) -> tuple[dict | None, dict]:
    """(model state dict or None, optimizer state dict) for a checkpoint, complete on rank 0.

    Under FSDP the parameters and optimizer moments are sharded: every rank must call this (it gathers).
    Under DDP every rank holds everything already and the model state dict is not needed (None).
    """
    if is_fsdp(model):
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        with _full_state_dict_type(model, rank0_only=True):
            return model.state_dict(), FSDP.optim_state_dict(model, optimizer)
    return None, optimizer.state_dict()


def load_optimizer_state(model, optimizer, saved: dict) -> None:
    """Inverse of `gather_state` for the optimizer (FSDP re-shards the full state onto this rank)."""
    if is_fsdp(model):
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        with _full_state_dict_type(model, rank0_only=False):
            saved = FSDP.optim_state_dict_to_load(model, optimizer, saved)
    optimizer.load_state_dict(saved)


def save_adapter(peft_model, out_dir: Path, full_state: dict | None = None) -> None:
    """adapter_config.json + adapter_model.safetensors: the LoRA weights only, never the base."""
    peft_model.save_pretrained(out_dir, state_dict=full_state) if full_state is not None else \
        peft_model.save_pretrained(out_dir)


# --------------------------------------------------------------------------------------------------
# The per-worker training loop
# --------------------------------------------------------------------------------------------------


def train_loop_per_worker(config: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch
    import torch.distributed as dist
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import get_scheduler

    cfg: LLMSFTConfig = config["cfg"]  # validated on the driver
    rank, world, log = common.worker_context(config)
    device = ray.train.torch.get_device()
    torch.manual_seed(cfg.run.seed)

    model, tokenizer = load_lora_model(cfg, device)
    if rank == 0:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.parameters())
        common.say(f"[llm_sft] {world} worker(s) on {device}; LoRA r={cfg.lora.r}: {trainable:,} trainable of "
                   f"{total:,} parameters ({cfg.strategy}{', QLoRA' if cfg.qlora else ''})")
    peft_model = model

    # ---- resume: a restarted worker group, or a second run with the same run.name ----
    state = {"epoch": -1, "global_step": 0, "best_val_loss": math.inf, "best_epoch": -1, "bad_epochs": 0}
    saved_optim = None
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as ckpt_dir:
            ckpt_dir = Path(ckpt_dir)
            # LoRA weights go in before DDP/FSDP wraps the model (FSDP shards them afterwards).
            set_peft_model_state_dict(peft_model, load_file(ckpt_dir / ADAPTER_DIR / "adapter_model.safetensors"))
            saved_optim = torch.load(ckpt_dir / OPTIMIZER_FILE, map_location="cpu", weights_only=True)
            state = json.loads((ckpt_dir / STATE_FILE).read_text())
        if rank == 0:
            common.say(f"[llm_sft] resumed from checkpoint: epoch {state['epoch'] + 1} done, "
                       f"global step {state['global_step']}")

    # DDP (gloo on CPU, NCCL on GPU) or FSDP; use_orig_params lets FSDP shard frozen and LoRA weights together.
    model = ray.train.torch.prepare_model(
        model, parallel_strategy=cfg.strategy, move_to_device=not cfg.qlora,
        parallel_strategy_kwargs={"use_orig_params": True} if cfg.strategy == "fsdp" else None)

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = config["steps_per_epoch"]
    total_steps = steps_per_epoch * cfg.epochs

    # Linear warm-up, then cosine decay to 10% of the peak rate.
    scheduler = get_scheduler("cosine_with_min_lr", optimizer, num_warmup_steps=cfg.warmup_steps,
                              num_training_steps=total_steps, scheduler_specific_kwargs={"min_lr_rate": 0.1})
    if saved_optim is not None:
        load_optimizer_state(model, optimizer, saved_optim["optimizer"])
        scheduler.load_state_dict(saved_optim["scheduler"])
    resumed_from_step = state["global_step"]
    global_step = state["global_step"]
    fault = cfg.fault_injection

    def validation_loss() -> float:
        model.eval()
        totals = torch.zeros(2, dtype=torch.float64, device=device)  # (sum of token losses, tokens)
        with torch.no_grad():
            for i, batch in enumerate(ray.train.get_dataset_shard("validation").iter_batches(
                    batch_size=cfg.batch_size, batch_format="numpy")):
                if cfg.max_val_batches and i >= cfg.max_val_batches:
                    continue  # drain the shard
                b = collate(tokenizer, batch["text"], cfg.max_seq_len, device)
                loss, n = answer_loss(model, b)
                totals += torch.tensor([loss.item() * n, n], dtype=torch.float64, device=device)
        if world > 1:
            dist.all_reduce(totals)
        model.train()
        return float(totals[0] / max(totals[1], 1))

    started = time.perf_counter()
    if checkpoint is None:  # the untrained adapter (B = 0) is the base model: its loss is the baseline
        state["base_val_loss"] = validation_loss()
        log.step(0, {"val_loss": state["base_val_loss"]},
                 f"[llm_sft] before training: val loss {state['base_val_loss']:.4f} (base model)")
    model.train()
    for epoch in range(state["epoch"] + 1, cfg.epochs):
        shard = ray.train.get_dataset_shard("train")
        epoch_losses: list[float] = []
        accum_loss, micro = 0.0, 0
        batches = shard.iter_batches(batch_size=cfg.batch_size, batch_format="numpy",
                                     local_shuffle_buffer_size=64, local_shuffle_seed=cfg.run.seed + epoch)
        step_in_epoch = 0
        optimizer.zero_grad(set_to_none=True)
        for batch in batches:
            if step_in_epoch >= steps_per_epoch:
                continue  # drain the shard so every worker stays in step
            b = collate(tokenizer, batch["text"], cfg.max_seq_len, device)
            loss, _ = answer_loss(model, b)
            (loss / cfg.grad_accum_steps).backward()
            accum_loss += loss.item() / cfg.grad_accum_steps
            micro += 1
            if micro < cfg.grad_accum_steps:
                continue
            if is_fsdp(model):  # the gradients are sharded: FSDP computes the global norm
                model.clip_grad_norm_(cfg.max_grad_norm)
            else:
                torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            global_step += 1
            step_in_epoch += 1
            epoch_losses.append(accum_loss)
            if global_step % cfg.log_every == 0:
                log.step(global_step, {"train_loss": accum_loss, "lr": scheduler.get_last_lr()[0], "epoch": epoch},
                         f"[llm_sft] epoch {epoch + 1}/{cfg.epochs} step {step_in_epoch}/{steps_per_epoch} "
                         f"(global {global_step}) loss {accum_loss:.4f} lr {scheduler.get_last_lr()[0]:.2e} "
                         f"{time.perf_counter() - started:.0f}s")
            accum_loss, micro = 0.0, 0
            if fault and rank == fault.rank and global_step == fault.step and not os.path.exists(fault.marker):
                Path(fault.marker).write_text(f"killed rank {rank} at step {global_step}\n")
                time.sleep(fault.after_s)
                common.say(f"[llm_sft] fault injection: rank {rank} exits at step {global_step}")
                os._exit(1)

        val_loss = validation_loss()
        train_loss = sum(epoch_losses) / max(1, len(epoch_losses))
        improved = val_loss < state["best_val_loss"] - cfg.early_stopping_min_delta
        state.update(epoch=epoch, global_step=global_step,
                     best_val_loss=val_loss if improved else state["best_val_loss"],
                     best_epoch=epoch if improved else state["best_epoch"],
                     bad_epochs=0 if improved else state["bad_epochs"] + 1)
        stop = state["bad_epochs"] >= cfg.early_stopping_patience
        metrics = {"epoch": epoch, "global_step": global_step, "train_loss": train_loss, "val_loss": val_loss,
                   "base_val_loss": state.get("base_val_loss", math.nan),
                   "best_val_loss": state["best_val_loss"], "resumed_from_step": resumed_from_step,
                   "early_stopped": stop, "train_seconds": time.perf_counter() - started}
        log.step(global_step, {"val_loss": val_loss, "epoch_train_loss": train_loss},
                 f"[llm_sft] epoch {epoch + 1}/{cfg.epochs} done: train loss {train_loss:.4f}, val loss "
                 f"{val_loss:.4f}{' (best)' if improved else ''}{' -> early stop' if stop else ''}")

        # Adapter-only checkpoint: gathered (FSDP), written by rank 0; every worker reports (a barrier).
        full_state, optim_state = gather_state(model, optimizer)
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = None
            if rank == 0:
                save_adapter(peft_model, Path(tmp) / ADAPTER_DIR, full_state)
                torch.save({"optimizer": optim_state, "scheduler": scheduler.state_dict()}, Path(tmp) / OPTIMIZER_FILE)
                (Path(tmp) / STATE_FILE).write_text(json.dumps(state))
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report(metrics, checkpoint=checkpoint)
        if stop:
            break


# --------------------------------------------------------------------------------------------------
# Held-out generation eval (runs as a Ray task after training)
# --------------------------------------------------------------------------------------------------


def generation_eval(base_model: str, adapter_dir: str | None, rows: list[dict[str, Any]], *,
                    max_new_tokens: int, batch_size: int) -> dict[str, Any]:
    """Greedy, unconstrained generation for held-out prompts with the base model and the tuned adapter.

    A sample counts as valid if `engines.design.finish` turns it into a `Design` (parse, lay out, validate),
    i.e. what the serving path would accept, and as good if that layout passes every quality check.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    use_cuda = torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(base_model, padding_side="left")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.bfloat16 if use_cuda else torch.float32)
    model.to(device).eval()
    if adapter_dir:  # the base is passed explicitly: adapter_config.json holds the training machine's path
        model = PeftModel.from_pretrained(model, adapter_dir).to(device).eval()

    def generate(m, disable_adapter: bool) -> list[tuple[str, str]]:
        outs = []
        for i in range(0, len(rows), batch_size):
            chunk = rows[i:i + batch_size]
            enc = tokenizer([prompt_text(tokenizer, r) for r in chunk], return_tensors="pt", padding=True,
                            add_special_tokens=False).to(device)
            ctx = m.disable_adapter() if disable_adapter else contextlib.nullcontext()
            with torch.no_grad(), ctx:
                gen = m.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
            for row_out in gen[:, enc["input_ids"].shape[1]:]:
                ids = row_out.tolist()
                stopped = tokenizer.eos_token_id in ids
                text = tokenizer.decode(ids, skip_special_tokens=True).strip()
                outs.append((text, "stop" if stopped else "length"))
        return outs

    report: dict[str, Any] = {"n": len(rows), "max_new_tokens": max_new_tokens}
    started = time.perf_counter()
    for name in (["base", "tuned"] if adapter_dir else ["base"]):
        outputs = generate(model, disable_adapter=(name == "base" and adapter_dir is not None))
        report[name] = score_outputs(rows, outputs)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def score_outputs(rows: list[dict[str, Any]], outputs: list[tuple[str, str]]) -> dict[str, Any]:
    """Held-out answers ((text, finish reason) per row) -> the share that parses as JSON, that the serving
    path turns into a layout (valid), and whose layout passes every quality check (good), with the samples."""
    samples, valid, parsed, good = [], 0, 0, 0
    for row, (text, reason) in zip(rows, outputs, strict=True):
        canvas = canvas_for(row["platform"], row["format"])
        try:
            json.loads(text)
            parsed += 1
        except json.JSONDecodeError:
            pass
        try:
            copy = copy_for(row["prompt"])
            report_q = check(finish(text, canvas, copy, finish_reason=reason).design, copy.facts)
            ok, error = True, "; ".join(report_q.problems) or None
            valid += 1
            good += report_q.passed
        except LayoutError as exc:
            ok, error = False, str(exc)
        samples.append({"prompt": row["prompt"], "platform": row["platform"], "format": row["format"],
                        "output": text[:2000], "finish_reason": reason, "valid": ok, "error": error})
    n = max(1, len(rows))
    return {"validity_rate": valid / n, "json_rate": parsed / n, "quality_rate": good / n, "valid": valid,
            "samples": samples}


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------


def read_jsonl(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [parse_row(line) for line in fh if line.strip()]


def main(cfg: LLMSFTConfig) -> dict[str, Any]:
    import ray
    import ray.data

    run = common.start_run(cfg)
    out_dir = run.out_dir

    # Data: validate every row on the driver (clear errors, right counts), then stream raw JSONL lines.
    train_rows, val_rows = read_jsonl(cfg.data.train), read_jsonl(cfg.data.validation)
    # One row per non-empty line ({"text": <json line>}), shuffled once with the run's seed (the files
    # are grouped by platform; a capped epoch or validation subset should still see every platform).
    train_ds = ray.data.read_text(cfg.data.train).random_shuffle(seed=cfg.run.seed)
    val_ds = ray.data.read_text(cfg.data.validation).random_shuffle(seed=cfg.run.seed)
    per_worker = len(train_rows) // cfg.scaling.num_workers  # streaming_split(equal=True)
    steps_per_epoch = max(1, math.ceil(per_worker / cfg.batch_size) // cfg.grad_accum_steps)
    if cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)

    tracker = common.Tracker(cfg, run.name, resuming=run.resuming)
    tracker.log_metrics({"train_examples": len(train_rows), "validation_examples": len(val_rows),
                         "steps_per_epoch": steps_per_epoch})
    trainer = common.trainer(train_loop_per_worker, cfg, run, tracker, score="val_loss", mode="min",
                             datasets={"train": train_ds, "validation": val_ds}, steps_per_epoch=steps_per_epoch)
    result, fit_seconds = common.fit(trainer, tracker)

    # Best adapter (lowest validation loss) -> <run>/output/adapter
    with common.best_checkpoint(result, out_dir, "val_loss", "min") as ckpt_dir:
        shutil.copytree(ckpt_dir / ADAPTER_DIR, out_dir / ADAPTER_DIR)
        best_state = json.loads((ckpt_dir / STATE_FILE).read_text())
    final = dict(result.metrics)

    # Held-out generation eval, base vs tuned, on the validation prompts (never trained on).
    report: dict[str, Any] = {"skipped": True}
    eval_started = time.perf_counter()
    if cfg.generation_eval.num_prompts:
        n = cfg.generation_eval.num_prompts  # spread over the (platform-grouped) validation file
        rows = [val_rows[i * len(val_rows) // n] for i in range(n)] if n <= len(val_rows) else val_rows
        cpus = cfg.generation_eval.num_cpus or cfg.scaling.cpus_per_worker
        task = ray.remote(num_cpus=cpus, num_gpus=1 if cfg.scaling.use_gpu else 0)(generation_eval)
        report = ray.get(task.remote(cfg.base_model, str(out_dir / ADAPTER_DIR), rows,
                                     max_new_tokens=cfg.generation_eval.max_new_tokens,
                                     batch_size=cfg.generation_eval.batch_size))

    metrics = {
        "val_loss": best_state["best_val_loss"] if math.isfinite(best_state["best_val_loss"]) else final["val_loss"],
        "base_val_loss": best_state.get("base_val_loss", math.nan),
        "best_epoch": best_state["best_epoch"] + 1,
        "final_val_loss": final["val_loss"],
        "final_train_loss": final["train_loss"],
        "global_step": final["global_step"],
        "resumed_from_step": final["resumed_from_step"],
        "epochs_run": final["epoch"] + 1,
        "early_stopped": float(bool(final["early_stopped"])),
    }
    if not report.get("skipped"):
        metrics.update(base_validity_rate=report["base"]["validity_rate"],
                       tuned_validity_rate=report["tuned"]["validity_rate"],
                       base_json_rate=report["base"]["json_rate"], tuned_json_rate=report["tuned"]["json_rate"],
                       base_quality_rate=report["base"]["quality_rate"],
                       tuned_quality_rate=report["tuned"]["quality_rate"],
                       heldout_prompts=report["n"])
    metrics.update(fit_seconds=fit_seconds, eval_seconds=time.perf_counter() - eval_started,
                   total_seconds=run.seconds())
    tracker.log_metrics(metrics, step=final["global_step"])
    # The adapter folder becomes the model version.
    mv = common.publish(run, cfg, tracker, metrics=metrics, report={"generation": report},
                        curves={"train": tracker.history("train_loss"), "validation": tracker.history("val_loss")},
                        model_dir=out_dir / ADAPTER_DIR, tags={"base_model": Path(cfg.base_model).name})
    return {**common.summarize(run, cfg, tracker, mv, metrics), "adapter_dir": str(out_dir / ADAPTER_DIR),
            "report": report}


if __name__ == "__main__":
    args = common.parse_args("llm_sft", __doc__.splitlines()[0])
    main(common.config_from_args("llm_sft", args))

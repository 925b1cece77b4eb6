"""DreamBooth-style LoRA on the FLUX transformer, on Ray Train.

    python -m train_jobs.flux_lora --config configs/train/flux_lora.yaml [--set key=value ...]
    ray job submit --working-dir . -- python -m train_jobs.flux_lora --config configs/train/flux_lora.yaml

Input: a folder under data/ with images and optional same-named `.txt` captions, and a trigger word.
Output: an adapter folder in the format the image deployment loads (`engines.image_gen.write_adapter`:
`pytorch_lora_weights.safetensors` + `adgenesis.json` with the trigger word), registered in MLflow.

Top to bottom (after diffusers' `train_dreambooth_lora_flux.py`, minus the options this stack does not use):
1. Driver: validate the config; list images; caption the ones without a `.txt` with the captioner
   engine; put the trigger word in front of every caption (`apply_trigger`, as serving does).
2. Workers: each caches its shard's VAE latents and text embeddings once (VAE and text encoders stay
   frozen), adds a LoRA to the transformer's attention projections, `prepare_model` (DDP with >1 worker).
3. Flow-matching loss: x_t = (1 - s) x_0 + s * noise with s ~ logit-normal, the transformer predicts the
   velocity (noise - x_0) from the packed latents, timestep s and the caption embeddings.
4. Every `checkpoint_every` epochs and at the end rank 0 reports a checkpoint (LoRA weights + optimizer).
5. Driver: the final adapter is written with `write_adapter` and checked with the real `ImageGenEngine`:
   it loads, it changes the image for a fixed seed, and the trigger word matters (the tuned model
   denoises the training images better with the trigger in the caption than without). All of it goes
   to MLflow; the adapter folder becomes a registered model version.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from adgenesis.train_config import FluxLoraConfig
from train_jobs import common

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")
LORA_FILE = "transformer_lora.safetensors"
STATE_FILE = "trainer_state.json"


# --------------------------------------------------------------------------------------------------
# Data: images + captions (+ trigger word)
# --------------------------------------------------------------------------------------------------


def collect_examples(cfg: FluxLoraConfig) -> list[dict[str, Any]]:
    """Every image in the folder with its caption (from its `.txt`, else from the captioner engine)."""
    from PIL import Image

    from adgenesis.engines.image_gen import apply_trigger

    folder = Path(cfg.data.images)
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not images:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTS)}) in {folder}")
    rows = []
    for path in images:
        txt = path.with_suffix(cfg.data.caption_ext)
        caption = txt.read_text().strip() if txt.is_file() else ""
        rows.append({"image": str(path), "caption": caption, "source": "file" if caption else "captioner"})
    missing = [r for r in rows if not r["caption"]]
    if missing:
        from adgenesis.engines.captioner import CaptionerEngine
        from adgenesis.settings import CaptionerSettings

        captioner = CaptionerEngine(CaptionerSettings(model_path=cfg.captioner_model))
        for i in range(0, len(missing), 8):
            chunk = missing[i:i + 8]
            texts = captioner.caption([Image.open(r["image"]).convert("RGB") for r in chunk])
            for row, text in zip(chunk, texts):
                row["caption"] = text.strip() or "an image"
        print(f"[flux_lora] captioned {len(missing)} image(s) without a {cfg.data.caption_ext} file "
              f"with the captioner ({Path(cfg.captioner_model).name})")
    for row in rows:
        row["prompt"] = apply_trigger(row["caption"], cfg.data.trigger_word)
    return rows


def load_pixels(path: str, resolution: int) -> torch.Tensor:
    """Image -> (3, H, W) in [-1, 1]; centre crop to a square, resize to `resolution`."""
    import numpy as np
    from PIL import Image

    img = Image.open(path).convert("RGB")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((resolution, resolution), Image.BICUBIC)
    arr = torch.from_numpy(np.asarray(img, dtype="float32") / 127.5 - 1.0)
    return arr.permute(2, 0, 1)


# --------------------------------------------------------------------------------------------------
# Flow matching on FLUX's packed latents
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def encode_examples(pipe, rows: list[dict[str, Any]], cfg: FluxLoraConfig, device, *, prompt_key: str = "prompt"):
    """VAE latents (scaled) and text embeddings for `rows`, computed once with the frozen encoders."""
    pixels = torch.stack([load_pixels(r["image"], cfg.data.resolution) for r in rows]).to(device, pipe.vae.dtype)
    latents = pipe.vae.encode(pixels).latent_dist.sample()
    latents = (latents - (pipe.vae.config.shift_factor or 0.0)) * pipe.vae.config.scaling_factor
    prompts = [r[prompt_key] for r in rows]
    prompt_embeds, pooled, text_ids = pipe.encode_prompt(prompt=prompts, prompt_2=prompts, device=device,
                                                         max_sequence_length=cfg.max_sequence_length)
    return {"latents": latents, "prompt_embeds": prompt_embeds, "pooled": pooled, "text_ids": text_ids}


def predict_velocity(transformer, batch: dict[str, torch.Tensor], *, sigmas: torch.Tensor, noise: torch.Tensor,
                     guidance_scale: float) -> torch.Tensor:
    """The transformer's velocity prediction at x_t = (1 - s) x_0 + s * noise, unpacked to latent shape."""
    from diffusers import FluxPipeline

    x0 = batch["latents"]
    b, c, h, w = x0.shape
    s = sigmas.view(-1, 1, 1, 1)
    noisy = (1.0 - s) * x0 + s * noise
    packed = FluxPipeline._pack_latents(noisy, b, c, h, w)
    img_ids = FluxPipeline._prepare_latent_image_ids(b, h // 2, w // 2, x0.device, x0.dtype)
    config = getattr(transformer, "module", transformer).config
    guidance = torch.full((b,), guidance_scale, device=x0.device) if config.guidance_embeds else None
    pred = transformer(hidden_states=packed, timestep=sigmas, guidance=guidance,
                       pooled_projections=batch["pooled"], encoder_hidden_states=batch["prompt_embeds"],
                       txt_ids=batch["text_ids"], img_ids=img_ids, return_dict=False)[0]
    # The pipeline's own unpacking, given latent (not pixel) sizes: a scale factor of 1.
    return FluxPipeline._unpack_latents(pred, h, w, vae_scale_factor=1)


def flow_matching_loss(transformer, batch: dict[str, torch.Tensor], *, sigmas: torch.Tensor, noise: torch.Tensor,
                       guidance_scale: float) -> torch.Tensor:
    """MSE between the predicted velocity and the true one, (noise - x_0)."""
    pred = predict_velocity(transformer, batch, sigmas=sigmas, noise=noise, guidance_scale=guidance_scale)
    return torch.nn.functional.mse_loss(pred.float(), (noise - batch["latents"]).float())


def sample_sigmas(n: int, how: str, generator: torch.Generator) -> torch.Tensor:
    if how == "logit_normal":  # SD3/FLUX default: most weight on the middle noise levels
        return torch.sigmoid(torch.randn(n, generator=generator))
    return torch.rand(n, generator=generator)


def add_lora(transformer, cfg: FluxLoraConfig):
    from peft import LoraConfig

    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      init_lora_weights="gaussian", target_modules=list(cfg.lora.target_modules))
    transformer.requires_grad_(False)
    transformer.add_adapter(lora)
    return lora


def load_pipeline(base_model: str, device):
    from diffusers import FluxPipeline

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    pipe = FluxPipeline.from_pretrained(base_model, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)
    for part in (pipe.vae, pipe.text_encoder, pipe.text_encoder_2):
        part.requires_grad_(False)
    return pipe


# --------------------------------------------------------------------------------------------------
# The per-worker training loop
# --------------------------------------------------------------------------------------------------


def train_loop_per_worker(config: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch
    from diffusers.training_utils import cast_training_params
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file, save_file

    cfg: FluxLoraConfig = config["cfg"]  # validated on the driver
    rank, world, log = common.worker_context(config)
    device = ray.train.torch.get_device()
    torch.manual_seed(cfg.run.seed + rank)
    generator = torch.Generator().manual_seed(cfg.run.seed + rank)

    pipe = load_pipeline(cfg.base_model, device)
    rows = list(ray.train.get_dataset_shard("train").iter_rows())
    data = encode_examples(pipe, rows, cfg, device)  # cached once: the encoders are frozen
    if cfg.prior_preservation_weight:
        plain = encode_examples(pipe, rows, cfg, device, prompt_key="caption")  # the captions without the trigger
        data["plain_prompt_embeds"], data["plain_pooled"] = plain["prompt_embeds"], plain["pooled"]
    transformer = pipe.transformer
    add_lora(transformer, cfg)
    del pipe  # only the transformer trains

    cast_training_params(transformer, dtype=torch.float32)  # LoRA weights train in fp32 even on a bf16 base (GPU)
    params = [p for p in transformer.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start_epoch, global_step = 0, 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as d:
            set_peft_model_state_dict(transformer, load_file(Path(d) / LORA_FILE))
            optimizer.load_state_dict(torch.load(Path(d) / "optimizer.pt", weights_only=True))
            state = json.loads((Path(d) / STATE_FILE).read_text())
        start_epoch, global_step = state["epoch"] + 1, state["global_step"]
        if rank == 0:
            common.say(f"[flux_lora] resumed from checkpoint after epoch {start_epoch} (step {global_step})")
    model = ray.train.torch.prepare_model(transformer)
    n = data["latents"].shape[0]
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    log.plan(cfg.epochs, steps_per_epoch)
    if rank == 0:
        common.say(f"[flux_lora] {world} worker(s) on {device}; {sum(p.numel() for p in params):,} LoRA parameters; "
                   f"{n} images per worker, {steps_per_epoch} steps per epoch")

    started = time.perf_counter()
    epoch_loss = math.nan
    for epoch in range(start_epoch, cfg.epochs):
        order = torch.randperm(n, generator=generator)
        losses = []
        for i in range(0, n, cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            batch = {"latents": data["latents"][idx], "prompt_embeds": data["prompt_embeds"][idx],
                     "pooled": data["pooled"][idx], "text_ids": data["text_ids"]}
            sigmas = sample_sigmas(len(idx), cfg.timestep_sampling, generator).to(device)
            noise = torch.randn(batch["latents"].shape, generator=generator).to(device, batch["latents"].dtype)
            loss = flow_matching_loss(model, batch, sigmas=sigmas, noise=noise, guidance_scale=cfg.guidance_scale)
            if cfg.prior_preservation_weight:
                # Prior preservation: without the trigger word the adapted model should still predict what
                # the base model predicts, so the new look is tied to the trigger, not to every prompt.
                plain = {**batch, "prompt_embeds": data["plain_prompt_embeds"][idx], "pooled": data["plain_pooled"][idx]}
                with torch.no_grad():
                    transformer.disable_adapters()
                    prior = predict_velocity(transformer, plain, sigmas=sigmas, noise=noise,
                                             guidance_scale=cfg.guidance_scale)
                    transformer.enable_adapters()
                pred = predict_velocity(model, plain, sigmas=sigmas, noise=noise, guidance_scale=cfg.guidance_scale)
                loss = loss + cfg.prior_preservation_weight * torch.nn.functional.mse_loss(pred.float(), prior.float())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            global_step += 1
            losses.append(loss.item())
            if global_step % cfg.log_every == 0:
                log.step(global_step, {"train_loss": loss.item(), "epoch": epoch})
        epoch_loss = sum(losses) / len(losses)
        log.step(global_step, {"epoch_train_loss": epoch_loss},
                 f"[flux_lora] epoch {epoch + 1}/{cfg.epochs} step {global_step} loss {epoch_loss:.4f} "
                 f"{time.perf_counter() - started:.0f}s")
        last = epoch == cfg.epochs - 1
        if not last and (epoch + 1) % cfg.checkpoint_every:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = None
            if rank == 0:
                save_file(get_peft_model_state_dict(transformer), Path(tmp) / LORA_FILE)
                torch.save(optimizer.state_dict(), Path(tmp) / "optimizer.pt")
                (Path(tmp) / STATE_FILE).write_text(json.dumps({"epoch": epoch, "global_step": global_step}))
                ckpt = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report({"epoch": epoch, "global_step": global_step, "train_loss": epoch_loss,
                              "train_seconds": time.perf_counter() - started}, checkpoint=ckpt)


# --------------------------------------------------------------------------------------------------
# Evaluation with the serving engine (runs as a Ray task after training)
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate_adapter(cfg: FluxLoraConfig, lora_dir: str, adapter_name: str, rows: list[dict[str, Any]]) -> dict:
    """Load the adapter in `ImageGenEngine` (as serving does) and measure what it changes.

    - adapter_changes_output: mean |pixel difference| (0..255) between base and adapter images for
      the same prompt and seed.
    - trigger word: flow-matching loss of the tuned and base transformers on the training images at
      fixed noise, with the trigger in the caption and without; the adapter honours the trigger if the
      tuned model fits the images better with it (`trigger_gain` > 0).
    """
    import numpy as np

    from adgenesis.engines.image_gen import ImageGenEngine
    from adgenesis.settings import ImageGenSettings

    res = cfg.data.resolution
    settings = ImageGenSettings(model_path=cfg.base_model, lora_dir=lora_dir, sizes={"square": (res, res)},
                                default_steps=cfg.eval.num_inference_steps,
                                max_steps=max(cfg.eval.num_inference_steps, 8),
                                max_sequence_length=cfg.max_sequence_length)
    engine = ImageGenEngine(settings)
    info = engine.adapter(adapter_name)
    diffs, samples = [], []
    for prompt in cfg.eval.prompts:
        kw = {"width": res, "height": res, "steps": cfg.eval.num_inference_steps, "seed": cfg.eval.seed}
        base = np.asarray(engine.generate(prompt, **kw), dtype="float32")
        tuned = np.asarray(engine.generate(prompt, lora=adapter_name, **kw), dtype="float32")
        again = np.asarray(engine.generate(prompt, **kw), dtype="float32")  # adapter switched off again
        diffs.append(float(np.abs(base - tuned).mean()))
        samples.append({"prompt": prompt, "mean_abs_diff": diffs[-1],
                        "base_restored": bool(np.array_equal(base, again))})

    # Trigger word: same images, same noise, captions with vs without the trigger.
    pipe, device = engine.pipe, engine.pipe.device
    for r in rows:
        r["prompt_no_trigger"] = r["caption"]
    with_trigger = encode_examples(pipe, rows, cfg, device)
    without = encode_examples(pipe, rows, cfg, device, prompt_key="prompt_no_trigger")
    without["latents"] = with_trigger["latents"]
    g = torch.Generator().manual_seed(1234)
    reps = 4
    sigmas = torch.linspace(0.2, 0.8, reps).repeat_interleave(len(rows)).to(device)
    noise = torch.randn((reps * len(rows), *with_trigger["latents"].shape[1:]), generator=g).to(device)

    def loss(batch) -> float:
        rep = {k: (v if k == "text_ids" else v.repeat(reps, *[1] * (v.dim() - 1))) for k, v in batch.items()}
        return flow_matching_loss(pipe.transformer, rep, sigmas=sigmas, noise=noise,
                                  guidance_scale=cfg.guidance_scale).item()

    # The engine loaded the adapter above and switched it off again for the last (base) image.
    pipe.enable_lora()
    tuned_with, tuned_without = loss(with_trigger), loss(without)
    pipe.disable_lora()
    base_with, base_without = loss(with_trigger), loss(without)
    return {
        "adapter": adapter_name, "trigger_word": info.trigger_word,
        "adapter_loads": True,
        "mean_abs_pixel_diff": sum(diffs) / len(diffs),
        "adapter_changes_output": all(d > 0.5 for d in diffs),
        "base_restored_after_adapter": all(s["base_restored"] for s in samples),
        "loss_tuned_with_trigger": tuned_with, "loss_tuned_without_trigger": tuned_without,
        "loss_base_with_trigger": base_with, "loss_base_without_trigger": base_without,
        "trigger_gain": tuned_without - tuned_with,
        "trigger_honoured": tuned_with < tuned_without and tuned_with < base_with,
        "samples": samples,
    }


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------


def adapter_name_for(run: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in run)[:100]


def main(cfg: FluxLoraConfig) -> dict[str, Any]:
    import ray
    import ray.data
    from peft import LoraConfig
    from safetensors.torch import load_file

    from adgenesis.engines.image_gen import write_adapter
    from adgenesis.registry import write_json

    run = common.start_run(cfg)
    out_dir = run.out_dir

    rows = collect_examples(cfg)
    if len(rows) < cfg.scaling.num_workers:
        raise ValueError(f"{len(rows)} images cannot be split over {cfg.scaling.num_workers} workers")
    tracker = common.Tracker(cfg, run.name, resuming=run.resuming)
    tracker.log_metrics({"images": len(rows), "captioned_by_engine": sum(r["source"] == "captioner" for r in rows)})
    trainer = common.trainer(train_loop_per_worker, cfg, run, tracker, datasets={"train": ray.data.from_items(rows)})
    result, fit_seconds = common.fit(trainer, tracker)

    # The final LoRA (no validation metric to pick by) -> the serving adapter format.
    adapter = adapter_name_for(run.name)
    lora_dir = out_dir / "adapters"
    lora_config = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                             init_lora_weights="gaussian", target_modules=list(cfg.lora.target_modules))
    with common.best_checkpoint(result, out_dir) as ckpt_dir:
        state_dict = load_file(ckpt_dir / LORA_FILE)
        final_state = json.loads((ckpt_dir / STATE_FILE).read_text())
    write_adapter(lora_dir / adapter, state_dict, cfg.data.trigger_word, lora_config=lora_config,
                  metadata={"base_model": Path(cfg.base_model).name, "run": run.name,
                            "epochs": final_state["epoch"] + 1, "steps": final_state["global_step"],
                            "images": len(rows), "resolution": cfg.data.resolution,
                            "final_train_loss": result.metrics["train_loss"]})
    write_json(out_dir / "captions.json", [{k: r[k] for k in ("image", "caption", "source", "prompt")} for r in rows])

    task = ray.remote(num_cpus=1, num_gpus=1 if cfg.scaling.use_gpu else 0)(evaluate_adapter)
    report = ray.get(task.remote(cfg, str(lora_dir), adapter, rows))
    metrics = {
        "final_train_loss": result.metrics["train_loss"], "global_step": final_state["global_step"],
        "adapter_changes_output": float(report["adapter_changes_output"]),
        "mean_abs_pixel_diff": report["mean_abs_pixel_diff"],
        "trigger_honoured": float(report["trigger_honoured"]), "trigger_gain": report["trigger_gain"],
        "loss_tuned_with_trigger": report["loss_tuned_with_trigger"],
        "loss_tuned_without_trigger": report["loss_tuned_without_trigger"],
        "loss_base_with_trigger": report["loss_base_with_trigger"],
        "fit_seconds": fit_seconds, "total_seconds": run.seconds(),
    }
    tracker.log_metrics(metrics, step=final_state["global_step"])
    mv = common.publish(run, cfg, tracker, metrics=metrics, report={"evaluation": report},
                        curves={"train": tracker.history("train_loss"),
                                "epoch mean": tracker.history("epoch_train_loss")},
                        model_dir=lora_dir / adapter, artifacts=("captions.json",),
                        tags={"trigger_word": cfg.data.trigger_word, "base_model": Path(cfg.base_model).name})
    summary = common.summarize(run, cfg, tracker, mv, metrics, adapter=str(lora_dir / adapter),
                               trigger_word=cfg.data.trigger_word)
    return {**summary, "adapter_name": adapter, "lora_dir": str(lora_dir), "report": report}


if __name__ == "__main__":
    args = common.parse_args("flux_lora", __doc__.splitlines()[0])
    main(common.config_from_args("flux_lora", args))

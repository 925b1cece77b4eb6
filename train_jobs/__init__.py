"""Training recipes, one readable module each, run as `python -m train_jobs.<recipe> --config ...`.

- `llm_sft`: LoRA/QLoRA supervised fine-tuning of the design LLM (Ray Train, DDP/FSDP).
- `classifier`: fine-tune the prompt router's classifier (Ray Train).
- `classifier_tune`: Ray Tune + Optuna search over the classifier's hyper-parameters.
- `flux_lora`: DreamBooth-style LoRA on the FLUX transformer from images + captions + a trigger word.

See docs/training.md.
"""

"""Batch Ray jobs over catalogues (`python -m batch_jobs.<job> --input ... --output ...`): see batch_jobs/common.py."""

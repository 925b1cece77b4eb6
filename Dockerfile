# The image of every pod in deploy/kuberay/ (docs/deploy.md): Ray's official GPU image, this repo, its `gpu` extra.
#   docker build -t ghcr.io/adgenesis/adgenesis-serve:0.1.0 . && docker push ghcr.io/adgenesis/adgenesis-serve:0.1.0
# The Ray and Python versions match pyproject.toml's pin (tests/test_kuberay.py). Models are not baked in: the
# production profile's hub models are pulled by the replicas (HF_HOME on the shared volume), adapters and the
# router classifier live on the models volume.
FROM rayproject/ray:2.60.0-py311-gpu

WORKDIR /home/ray/adgenesis
COPY --chown=ray:users . .
RUN pip install --no-cache-dir -e ".[gpu]"

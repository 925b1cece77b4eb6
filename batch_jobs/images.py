"""images: rows {id, prompt, size? or platform+format, steps?, guidance_scale?, seed?, lora?, lora_weight?} ->
<output>/images/<id>.png, and a manifest line per image (results.jsonl: file, width, height, seed, steps, lora).

    python -m batch_jobs.images --input data/catalogue/images.jsonl --output runs/batch/images

Each row goes through the running app's `/v1/images` code (the ingress's `images` method, via its Serve handle),
so sizes, limits, seeds and LoRA aliases mean what they mean in the API; the FLUX replica is already loaded.
"""

from __future__ import annotations

from pathlib import Path

from adgenesis.protocol import ImageRequest
from adgenesis.files import write_atomic
from adgenesis.rows import NamedRow, read_rows
from batch_jobs.common import AppWorker, cli

FIELDS = ("width", "height", "seed", "steps", "guidance_scale", "lora")  # as the API's x-adgenesis-* headers say


class ImageRow(NamedRow, ImageRequest):
    pass


class Painter(AppWorker):
    def __init__(self, output: str):
        super().__init__(output)
        self.images = Path(output) / "images"
        self.images.mkdir(parents=True, exist_ok=True)

    def start(self, row: dict):
        return self.app.images.remote(ImageRequest(**{k: v for k, v in row.items() if k != "id"}))

    def finish(self, row: dict, pending) -> dict:
        response = pending.result()
        path = self.images / f"{row['id']}.png"  # ids are plain names (Row), so this stays in the folder
        write_atomic(path, response.body)
        headers = {k.removeprefix("x-adgenesis-").replace("-", "_"): v for k, v in response.headers.items()}
        return {"file": f"images/{path.name}", **{k: headers.get(k) for k in FIELDS}}


def main() -> None:
    cli("images", __doc__, lambda path: read_rows(path, ImageRow), Painter)


if __name__ == "__main__":
    main()

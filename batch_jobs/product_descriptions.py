"""product_descriptions: product photos -> BLIP caption -> a shop description from the LLM, one result per photo.

    python -m batch_jobs.product_descriptions --input data/catalogue/photos --output runs/batch/descriptions
    python -m batch_jobs.product_descriptions --input manifest.jsonl --output ...   # rows {id, path}

`--input` is a folder (every .jpg/.jpeg/.png/.webp in it; id = file name without extension) or a manifest
whose relative paths are read from the manifest's folder. Each photo goes through the running app's
`/v1/product-descriptions` code (the ingress's `describe_product`, via its Serve handle): the same upload
limits, captioner and prompt. An unreadable or oversized photo is a failed row, not a failed job.
"""

from __future__ import annotations

from pathlib import Path

from adgenesis.rows import InputError, Row, read_rows
from batch_jobs.common import AppWorker, cli

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


class PhotoRow(Row):
    path: str


def photo_rows(source: Path) -> list[PhotoRow]:
    if source.is_dir():
        photos = sorted(p for p in source.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        if not photos:
            raise InputError(f"{source}: no {', '.join(PHOTO_SUFFIXES)} files")
        try:
            return [PhotoRow(id=p.stem, path=str(p.resolve())) for p in photos]
        except ValueError as exc:
            raise InputError(f"{source}: a file name is not a usable id: {exc}") from None
    rows = read_rows(source, PhotoRow)
    return [row.model_copy(update={"path": str((source.parent / row.path).resolve())}) for row in rows]


class Describer(AppWorker):
    def start(self, row: dict):
        return self.app.describe_product.remote(Path(row["path"]).read_bytes())

    def finish(self, row: dict, pending) -> dict:
        response = pending.result()
        return {"caption": response.caption.caption, "description": response.description, "model": response.model}


def main() -> None:
    cli("product_descriptions", __doc__, photo_rows, Describer)


if __name__ == "__main__":
    main()

"""Files that readers see whole or not at all: written beside their final name, then renamed over it (a rename on
one filesystem is atomic), so a reader, a rerun, or a replica killed mid-write never finds half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write (and check) in the block; renamed to `path` when the block ends,
    removed when it raises. Hidden (a leading dot), so folder listings skip it meanwhile; with `path`'s suffix,
    so whatever reads by suffix reads it as `path`."""
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes | str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

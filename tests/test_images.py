"""Upload decoding: what is accepted, and that hostile inputs are refused before they cost memory."""

from __future__ import annotations

import base64
import io
import os
import struct
import time
import zlib

import pytest
from PIL import Image

from deployments.http_errors import status_of
from adgenesis.errors import RequestError
from adgenesis.images import decode_base64_image, image_format, load_image, open_image, png_bytes
from adgenesis.settings import Limits

LIMITS = Limits()


def _encoded(fmt: str, size=(64, 48), mode="RGB", color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format=fmt)
    return buf.getvalue()


def _noise_png(side: int) -> bytes:
    """Incompressible pixels, so the file is as big as the image."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, format="PNG")
    return buf.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header declaring a huge canvas, followed by a few bytes of pixel data: a bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepts_supported_formats_as_rgb(fmt):
    img = load_image(_encoded(fmt), LIMITS)
    assert img.mode == "RGB" and img.size == (64, 48)


def test_transparent_png_gets_white_background():
    img = load_image(_encoded("PNG", mode="RGBA", color=(0, 0, 0, 0)), LIMITS)
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (255, 255, 255)


def test_open_image_keeps_transparency_and_image_format_tells_what_is_taken():
    img = open_image(_encoded("PNG", mode="RGBA", color=(0, 0, 0, 0)), LIMITS.max_upload_bytes, LIMITS.max_image_pixels)
    assert img.mode == "RGBA" and img.getpixel((0, 0)) == (0, 0, 0, 0)
    assert [image_format(_encoded(f)) for f in ("PNG", "JPEG", "WEBP", "GIF")] == ["PNG", "JPEG", "WEBP", None]
    assert image_format(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None and image_format(b"") is None


@pytest.mark.parametrize("pixels", [50_000_000, 400_000_000])  # over our limit; over PIL's own bomb limit too
def test_bomb_header_refused_before_decoding(pixels):
    side = int(pixels**0.5) + 1
    data = _png_claiming(side, side)
    assert len(data) < 1000
    start = time.perf_counter()
    with pytest.raises(RequestError, match="pixels") as exc:
        load_image(data, LIMITS)
    assert status_of(exc.value) == 413
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("data", [b"", b"hello, not an image", b"%PDF-1.4\n" + b"x" * 100, b"GIF89a" + b"\x00" * 50])
def test_non_images_refused(data):
    with pytest.raises(RequestError) as exc:
        load_image(data, LIMITS)
    assert status_of(exc.value) == 400


def test_unsupported_format_refused():
    with pytest.raises(RequestError, match="JPEG, PNG, WEBP"):
        load_image(_encoded("GIF"), LIMITS)
    with pytest.raises(RequestError):
        load_image(_encoded("BMP"), LIMITS)


def test_truncated_image_refused():
    data = _noise_png(128)
    with pytest.raises(RequestError):
        load_image(data[: len(data) // 2], LIMITS)


def test_oversize_upload_refused():
    limits = Limits(max_upload_bytes=2048)
    big = _noise_png(64)
    assert len(big) > 2048
    with pytest.raises(RequestError, match="limit is 2048") as exc:
        load_image(big, limits)
    assert status_of(exc.value) == 413
    with pytest.raises(RequestError, match="over 2048 bytes") as exc:
        decode_base64_image(base64.b64encode(big).decode(), limits)
    assert status_of(exc.value) == 413


def test_base64_and_data_url():
    raw = _encoded("JPEG")
    b64 = base64.b64encode(raw).decode()
    assert load_image(raw, LIMITS).size == decode_base64_image(b64, LIMITS).size == (64, 48)
    assert decode_base64_image(f"data:image/jpeg;base64,{b64}", LIMITS).size == (64, 48)
    wrapped = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    assert decode_base64_image(f"  data:image/png;base64,{wrapped}\n", LIMITS).mode == "RGB"


@pytest.mark.parametrize("s", ["", "!!!not base64!!!", "data:text/plain;base64,aGVsbG8=", "data:image/png,rawbytes"])
def test_bad_base64_refused(s):
    with pytest.raises(RequestError):
        decode_base64_image(s, LIMITS)


def test_png_bytes_round_trip():
    img = Image.new("RGB", (16, 8), (1, 2, 3))
    data = png_bytes(img)
    assert data.startswith(b"\x89PNG")
    assert load_image(data, LIMITS).getpixel((5, 5)) == (1, 2, 3)

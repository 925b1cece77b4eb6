"""Decoding user-supplied images safely, and encoding generated ones.

Uploads are untrusted: the size limits are checked on the raw bytes and on the header's declared
dimensions before any pixel is decoded, so a small file that expands to gigabytes is refused for the
cost of reading its header.
"""

from __future__ import annotations

import base64
import binascii
import io
import re

from PIL import Image, ImageOps, UnidentifiedImageError

from adgenesis.errors import Malformed, TooLarge
from adgenesis.settings import Limits

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*?);base64,", re.IGNORECASE)


def load_image(data: bytes, limits: Limits) -> Image.Image:
    """Bytes of a JPEG, PNG or WEBP file -> a fully decoded RGB image, or Malformed (TooLarge over a limit)."""
    return _to_rgb(open_image(data, limits.max_upload_bytes, limits.max_image_pixels))


def image_format(data: bytes) -> str | None:
    """The format of an image in one of ALLOWED_FORMATS, read from its header; None for anything else (an SVG, a
    GIF, not an image at all), so a caller can refuse it as a media type it does not take."""
    try:
        with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as img:
            return img.format
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return None


def open_image(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """Bytes of a JPEG, PNG or WEBP file -> a fully decoded image, upright, in its own mode (a logo keeps its
    transparency); Malformed, or TooLarge over `max_bytes` or `max_pixels`."""
    if not data:
        raise Malformed("empty image upload")
    if len(data) > max_bytes:
        raise TooLarge(f"image upload is {len(data)} bytes; the limit is {max_bytes}")
    try:
        # `formats` keeps PIL from trying its other ~40 decoders on hostile input.
        img = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except UnidentifiedImageError:
        raise Malformed(f"not a supported image; accepted formats: {', '.join(ALLOWED_FORMATS)}") from None
    except Image.DecompressionBombError:
        raise TooLarge(f"image has more than {max_pixels} pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Malformed(f"unreadable image: {exc}") from None
    # Only the header has been read so far: refuse big canvases before paying for their pixels.
    width, height = img.size
    if width <= 0 or height <= 0:
        raise Malformed("image has no pixels")
    if width * height > max_pixels:
        raise TooLarge(f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")
    try:
        img.load()
        # Phone photos are stored sideways with an EXIF rotation; models should see them upright.
        return ImageOps.exif_transpose(img)
    except Image.DecompressionBombError:
        raise TooLarge(f"image has more than {max_pixels} pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt pixel data
        raise Malformed(f"corrupt image data: {exc}") from None


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels often hold black; a white backdrop is what a viewer would show.
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def decode_base64_image(s: str, limits: Limits) -> Image.Image:
    """Raw base64 or a `data:image/...;base64,` URL -> RGB image, or Malformed (TooLarge over a limit)."""
    if not isinstance(s, str) or not s.strip():
        raise Malformed("empty base64 image")
    s = s.strip()
    if s[:5].lower() == "data:":
        match = _DATA_URL.match(s)
        if match is None:
            raise Malformed("data URL must be of the form data:image/<type>;base64,<data>")
        mime = (match.group("mime") or "").lower()
        if mime and not mime.startswith("image/"):
            raise Malformed(f"data URL has media type {mime!r}, not an image")
        s = s[match.end():]
    s = "".join(s.split())  # line-wrapped base64 (MIME style) is common
    # 4 base64 chars carry 3 bytes: refuse oversize uploads before allocating the decoded copy.
    if len(s) // 4 * 3 > limits.max_upload_bytes + 3:
        raise TooLarge(f"image upload is over {limits.max_upload_bytes} bytes")
    try:
        data = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        try:  # browsers and some SDKs send the URL-safe alphabet
            data = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
        except (binascii.Error, ValueError):
            raise Malformed("image is not valid base64") from None
    return load_image(data, limits)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()

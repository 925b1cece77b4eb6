"""An uploaded logo, checked and made ready before it is kept: a PNG, WebP or JPEG (by its header, never its name;
SVG and anything else refused) under the profile's size and pixel limits, decoded with Pillow (adgenesis/images.py),
its uniform border trimmed, kept as PNG (with its transparency) under the sha256 of those PNG bytes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from PIL import Image, ImageChops

from adgenesis.brand import MEDIA_TYPES
from adgenesis.checksum import bytes_sha256
from adgenesis.errors import Invalid, Malformed, TooLarge, UnsupportedMedia
from adgenesis.images import ALLOWED_FORMATS, image_format, open_image, png_bytes
from adgenesis.settings import StoreSettings

SUFFIX = ".png"
OPAQUE = 255


@dataclass(frozen=True)
class CheckedLogo:
    name: str  # <sha256>.png
    data: bytes  # the trimmed PNG
    width: int
    height: int
    media_type: str = MEDIA_TYPES[SUFFIX]


def check_logo(data: bytes, settings: StoreSettings) -> CheckedLogo:
    """The logo as it will be kept, or a refusal: UnsupportedMedia (SVG, GIF, not an image), TooLarge (bytes,
    pixels), Malformed (a broken file), Invalid (nothing but a flat colour)."""
    if not data:
        raise Malformed("empty logo upload")
    if len(data) > settings.max_logo_bytes:  # before anything is read of it
        raise TooLarge(f"logo upload is {len(data)} bytes; the limit is {settings.max_logo_bytes}")
    if image_format(data) is None:
        raise UnsupportedMedia(f"send the logo as {', '.join(ALLOWED_FORMATS)}; SVG and other formats are not taken "
                               "(export the SVG as a PNG)")
    logo = trim(open_image(data, settings.max_logo_bytes, settings.max_logo_pixels).convert("RGBA"),
                settings.logo_trim_tolerance)
    png = png_bytes(logo)
    return CheckedLogo(name=bytes_sha256(png) + SUFFIX, data=png, width=logo.width, height=logo.height)


def trim(image: Image.Image, tolerance: int) -> Image.Image:
    """`image` (RGBA) without its uniform border: the rows and columns all of whose pixels are the corner's colour
    (within `tolerance`), or transparent when the corner is."""
    corner = image.getpixel((0, 0))
    if corner[3] < OPAQUE - tolerance:  # a transparent (or nearly) border: what is drawn is what has alpha
        differs = image.getchannel("A")
    else:
        difference = ImageChops.difference(image, Image.new("RGBA", image.size, corner))
        differs = reduce(ImageChops.lighter, difference.split())  # the largest difference of any channel
    box = differs.point(lambda v: 255 if v > tolerance else 0).getbbox()
    if box is None:
        raise Invalid("the logo is one flat colour: there is nothing in it to draw")
    return image.crop(box)

"""Brand kits drawn by the deployed graph (the shared cluster, its SQLite store): a kit with a logo and an uploaded
font, designs with it on square, story and leaderboard over HTTP, the logo found in the rendered PNG, an edit that
makes version 2 while the old designs still render with version 1, and another workspace's key kept out. The routes
on both databases (SQLite and PostgreSQL): tests/test_brand_kit_routes.py; the engine: tests/test_kit_layout.py."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.brand_files import font_bytes, logo_bytes

BRIEF = ("Stride Labs carbon-plate running shoes: 30% off this weekend, on orders over $80 for members only. "
         "Carbon-plate speed for race day")
PALETTE = [{"hex": "#FFFFFF", "role": "background"}, {"hex": "#1A1A1A", "role": "text"},
           {"hex": "#0B5FFF", "role": "accent"}, {"hex": "#C8102E", "role": "button"},
           {"hex": "#FFFFFF", "role": "button_text"}]
KIT = {"name": "Stride", "palette": PALETTE, "headline_font": {"family": "Oswald"}, "body_font": {"family": "Lato"},
       "voice_words": ["fearless"], "banned_words": ["cheap"], "disclaimer": "Stride Labs Ltd. Terms apply."}
RED, GREEN = (200, 16, 46), (20, 160, 60)
CANVASES = (("meta", "square"), ("meta", "story"), ("display", "leaderboard"))


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def workspace_key(client, admin: dict, workspace: str) -> dict[str, str]:
    r = client.post("/v1/keys", json={"workspace": workspace}, headers=admin)
    assert r.status_code == 201, r.text
    return auth(r.json()["token"])


def logo_of(color: tuple[int, int, int]) -> bytes:
    image = Image.open(io.BytesIO(logo_bytes(size=(240, 80), border=10))).convert("RGB")
    pixels = np.asarray(image).copy()
    pixels[(pixels != 255).any(axis=2)] = color
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def share_of(png: bytes, box: dict, color: tuple[int, int, int]) -> float:
    """How much of `box` of the picture is `color`."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    area = pixels[box["y"]:box["y"] + box["height"], box["x"]:box["x"] + box["width"]].reshape(-1, 3)
    return float((np.abs(area - color).sum(axis=1) < 40).mean())


def test_designs_with_a_kit_are_on_brand_and_keep_the_version_they_were_drawn_with(client, api_key):
    admin = auth(api_key)
    stride, other = workspace_key(client, admin, "stride"), workspace_key(client, admin, "other-co")
    kit = client.post("/v1/brand-kits", json=KIT, headers=stride)
    assert kit.status_code == 201, kit.text
    kit_id = kit.json()["kit"]["id"]
    r = client.post(f"/v1/brand-kits/{kit_id}/logo", files={"file": ("logo.png", logo_of(RED), "image/png")},
                    headers=stride)
    assert r.status_code == 200, r.text
    r = client.post(f"/v1/brand-kits/{kit_id}/fonts", files={"file": ("brand.ttf", font_bytes(family="Stride Sans"))},
                    data={"role": "body"}, headers=stride)
    assert r.status_code == 200, r.text
    version = r.json()["kit"]["version"]
    font_file = r.json()["kit"]["body_font"]["file"]
    colors = {c["hex"] for c in PALETTE}

    made = {}
    for platform, fmt in CANVASES:
        r = client.post("/v1/designs", json={"prompt": BRIEF, "platform": platform, "format": fmt, "seed": 3,
                                             "brand_kit": "Stride"}, headers=stride)
        assert r.status_code == 200, r.text
        design, report = r.json()["designs"][0], r.json()["quality"][0]
        assert report["checks"]["on_brand"], (fmt, report["problems"])
        assert design["brand_kit"] == {"id": kit_id, "version": version}
        assert {design["background_color"]} | {el["color"] for el in design["elements"] if "color" in el} <= colors
        texts = [el for el in design["elements"] if el["type"] == "text"]
        assert {el["font_family"] for el in texts} <= {"Oswald", font_file}
        assert any(el["font_family"] == font_file for el in texts)  # the uploaded one sets the body text
        assert next(el for el in texts if el["role"] == "fine_print")["text"].endswith("Stride Labs Ltd. Terms apply.")
        logo = next(el for el in design["elements"] if el["type"] == "image" and el["role"] == "logo")
        png = client.post("/v1/designs/render", json={"design": design}, headers=stride)
        assert png.status_code == 200, png.text
        assert share_of(png.content, logo, RED) > 0.3, fmt  # the uploaded logo, drawn where the layout put it
        made[fmt] = (design, logo)

    # An edit is version N+1: new designs are drawn with it, the old ones still with the version they name.
    r = client.post(f"/v1/brand-kits/{kit_id}/logo", files={"file": ("logo.png", logo_of(GREEN), "image/png")},
                    headers=stride)
    assert r.status_code == 200 and r.json()["kit"]["version"] == version + 1, r.text
    old, logo = made["square"]
    png = client.post("/v1/designs/render", json={"design": old}, headers=stride).content
    assert share_of(png, logo, RED) > 0.3 and share_of(png, logo, GREEN) == 0.0
    r = client.post("/v1/designs", json={"prompt": BRIEF, "platform": "meta", "format": "square", "seed": 3,
                                         "brand_kit": kit_id}, headers=stride)
    assert r.status_code == 200 and r.json()["designs"][0]["brand_kit"]["version"] == version + 1, r.text

    # Another workspace's key: no design with the kit, no render of its designs, no edit.
    r = client.post("/v1/designs", json={"prompt": BRIEF, "platform": "meta", "format": "square",
                                         "brand_kit": kit_id}, headers=other)
    assert r.status_code == 404, r.text
    assert client.post("/v1/designs/render", json={"design": old}, headers=other).status_code == 404
    assert client.patch(f"/v1/brand-kits/{kit_id}", json={"disclaimer": None}, headers=other).status_code == 403

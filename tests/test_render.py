"""The renderer: a `Design` drawn with the real fonts, image slots filled or mocked up, in one fast pass."""

import io
import statistics
import time

import numpy as np
from PIL import Image

from adgenesis.engines import render
from adgenesis.engines.render import placeholder_color, render_layers, render_png
from adgenesis.schema import Design, canvas_for

BLACK, WHITE = "#000000", "#FFFFFF"


def text(t, x, y, width, height, size=48, color=BLACK, align="left", weight="bold", role=None):
    return {"type": "text", "text": t, "x": x, "y": y, "width": width, "height": height, "font_family": "Inter",
            "font_size": size, "font_weight": weight, "color": color, "align": align, "role": role}


def design(elements, bg=WHITE, platform="meta", fmt="square"):
    return Design.from_layout({"background_color": bg, "elements": elements}, canvas_for(platform, fmt))


def pixels(img):
    return np.asarray(img.convert("RGB"))


def test_png_decodes_to_the_canvas_size():
    png = render_png(design([text("Hello", 100, 100, 400, 60)], platform="meta", fmt="story"))
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.size == (1080, 1920)


def test_background_and_paint_order():
    d = design([
        {"type": "shape", "shape": "rectangle", "x": 100, "y": 100, "width": 200, "height": 200, "color": "#FF0000"},
        {"type": "shape", "shape": "ellipse", "x": 150, "y": 150, "width": 100, "height": 100, "color": "#0000FF"},
    ], bg="#00FF00")
    img = render.render(d)
    assert img.mode == "RGB"
    assert img.getpixel((10, 10)) == (0, 255, 0)
    assert img.getpixel((110, 110)) == (255, 0, 0)
    assert img.getpixel((200, 200)) == (0, 0, 255)  # painted after the rectangle, so on top


def test_text_is_drawn_in_its_colour_inside_its_box():
    box = (120, 200, 600, 260)  # x, y, width, height: two lines of 48 px fit in 48 * 1.2 + 53 = 111 px
    d = design([text("Judge the glyph descent gjpqy", *box, color="#C01070")])
    ink = np.all(pixels(render.render(d)) == (0xC0, 0x10, 0x70), axis=-1)
    ys, xs = np.nonzero(ink)
    assert len(xs) > 500
    x, y, w, h = box
    assert xs.min() >= x and xs.max() < x + w and ys.min() >= y and ys.max() < y + h


def test_alignment_within_the_box():
    def ink_x(align):
        img = render.render(design([text("Hi", 100, 100, 800, 60, align=align)]))
        xs = np.nonzero(np.any(pixels(img) < 128, axis=(0, 2)))[0]
        return xs.min(), xs.max()

    left, centre, right = ink_x("left"), ink_x("center"), ink_x("right")
    assert left[0] < 110
    assert abs((centre[0] + centre[1]) / 2 - 500) < 6
    assert right[1] > 890


def test_an_image_slot_without_a_picture_is_a_placeholder():
    slot = {"type": "image", "role": "product", "description": "a red sneaker", "x": 0, "y": 0, "width": 540,
            "height": 540}
    img = render.render(design([slot]))
    fill = placeholder_color("a red sneaker")
    assert fill != (255, 255, 255) and fill == placeholder_color("a red sneaker")  # fixed by the description
    assert img.getpixel((100, 300)) == fill
    for xy in ((50, 50), (489, 50), (0, 300)):  # the diagonal cross and the frame
        assert img.getpixel(xy) not in (fill, (255, 255, 255)), xy
    px = pixels(img)[:540, :540].reshape(-1, 3)
    assert len(np.unique(px, axis=0)) > 2  # fill, frame and cross, label text
    assert img.getpixel((700, 700)) == (255, 255, 255)


def test_a_supplied_image_is_cover_fitted_into_its_slot():
    left_red_right_blue = Image.new("RGB", (200, 100), (255, 0, 0))
    left_red_right_blue.paste((0, 0, 255), (100, 0, 200, 100))
    slot = {"type": "image", "role": "photo", "description": "anything", "x": 100, "y": 100, "width": 300,
            "height": 300}
    img = render.render(design([slot]), images={0: left_red_right_blue})
    # Scaled to 600x300 to cover the square, centre-cropped: red on the left half, blue on the right.
    assert img.getpixel((105, 250)) == (255, 0, 0)
    assert img.getpixel((395, 250)) == (0, 0, 255)
    assert img.getpixel((99, 250)) == (255, 255, 255) and img.getpixel((400, 250)) == (255, 255, 255)


def test_a_transparent_picture_keeps_what_is_under_it():
    logo = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    logo.paste((255, 0, 0, 255), (25, 25, 75, 75))
    slot = {"type": "image", "role": "logo", "description": "logo", "x": 0, "y": 0, "width": 200, "height": 200}
    img = render.render(design([slot], bg="#00FF00"), images={0: logo})
    assert img.getpixel((5, 5)) == (0, 255, 0) and img.getpixel((100, 100)) == (255, 0, 0)


def test_a_word_wider_than_its_box_still_renders():
    d = design([text("Supercalifragilisticexpialidocious fun", 100, 100, 120, 60)])
    img = render.render(d)
    assert np.any(pixels(img) < 128)


def test_a_button_label_is_centred_on_its_button():
    d = design([{"type": "shape", "shape": "rounded_rectangle", "x": 100, "y": 100, "width": 400, "height": 200,
                 "color": "#FFC83D"},
                text("Go", 100, 100, 400, 200, size=40, color=BLACK, align="center", role="cta")])
    ys = np.nonzero(np.any(pixels(render.render(d)) < 60, axis=(1, 2)))[0]
    assert abs((ys.min() + ys.max()) / 2 - 200) < 10


def test_render_layers_records_what_lies_under_each_text_before_drawing_it():
    d = design([{"type": "shape", "shape": "rectangle", "x": 100, "y": 100, "width": 400, "height": 100,
                 "color": "#FFC83D"},
                text("Shop now", 100, 100, 400, 100, color=BLACK, role="cta"),
                text("Shop now too", 100, 300, 400, 60, color="#333333")])
    picture, under = render_layers(d)
    assert set(under) == {1, 2}
    assert under[1].size == (400, 100) and under[1].getcolors() == [(400 * 100, (255, 200, 61))]
    assert under[2].getcolors() == [(400 * 60, (255, 255, 255))]
    assert np.any(pixels(picture.crop((100, 100, 500, 200))) < 60)  # and the text is drawn in the picture
    assert picture.tobytes() == render.render(d).tobytes()


def test_every_shape_kind_draws():
    kinds = ["rectangle", "rounded_rectangle", "ellipse", "line"]
    d = design([{"type": "shape", "shape": k, "x": 100 + 220 * i, "y": 100, "width": 200, "height": 8 if k == "line"
                 else 200, "color": "#123456"} for i, k in enumerate(kinds)])
    img = render.render(d)
    for i, k in enumerate(kinds):
        assert img.getpixel((200 + 220 * i, 104)) == (0x12, 0x34, 0x56), k
    assert img.getpixel((101, 101)) == (0x12, 0x34, 0x56)  # a rectangle's corner is square
    assert img.getpixel((321, 101)) == (255, 255, 255)  # a rounded one's is not


def test_a_story_with_six_elements_renders_fast():
    d = design([
        {"type": "image", "role": "photo", "description": "a beach at dawn", "x": 0, "y": 0, "width": 1080,
         "height": 1000},
        {"type": "image", "role": "logo", "description": "Ocean Guard logo", "x": 60, "y": 60, "width": 240,
         "height": 80},
        text("Join 5,000 hands for the ocean", 76, 1060, 929, 190, size=77, color="#0B6E4F"),
        text("Gloves, bags and coffee provided.", 76, 1280, 929, 50, size=39, weight="regular"),
        {"type": "shape", "shape": "rounded_rectangle", "x": 324, "y": 1500, "width": 432, "height": 110,
         "color": "#08A045"},
        text("Sign up", 324, 1500, 432, 110, size=44, color=WHITE, align="center", role="cta"),
    ], bg="#E8F8F5", fmt="story")
    render.render(d)  # first call loads the fonts
    times = []
    for _ in range(5):
        start = time.perf_counter()
        render.render(d)
        times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.1

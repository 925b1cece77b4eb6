"""AdGenesis Studio (`/studio`) in a real browser against the deployed local graph.

Playwright's Python API drives Debian's chromium (`apt-get install chromium`; Playwright's own browser
download is never used). Each tab does its job end to end through the real API; screenshots of every
tab go to docs/studio/ (overwritten on each run, linked from docs/studio.md).

The tests share one page and run in file order (a marketer's session: create, design, images, copy,
models); the last ones check the phone layout, the keyboard and that nothing left the server.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import uuid
from urllib.parse import urlsplit

import pytest
from PIL import Image

from adgenesis.paths import REPO_ROOT
from adgenesis.schema import FONT_FAMILIES
from tests.brand_files import SVG_LOGO, logo_bytes
from tests.integration.test_graph import UNSURE_PROMPT

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")

SHOTS = REPO_ROOT / "docs" / "studio"
MODEL_CALL_MS = 120_000  # an LLM answer takes a few seconds on CPU; generous for a loaded 2-core machine
QUICK_MS = 15_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def wait_images_loaded(page, selector: str, count: int) -> None:
    page.wait_for_function(
        """([sel, n]) => { const imgs = [...document.querySelectorAll(sel)];
                           return imgs.length === n && imgs.every((i) => i.complete && i.naturalWidth > 0); }""",
        arg=[selector, count], timeout=MODEL_CALL_MS,
    )


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def seen():
    """Every URL the pages requested, and every script error / CSP violation they logged."""
    return {"requests": [], "errors": []}


def watch(page, seen: dict) -> None:
    page.on("request", lambda request: seen["requests"].append(request.url))
    page.on("pageerror", lambda exc: seen["errors"].append(f"pageerror: {exc}"))
    # 4xx answers the tests ask for are logged as "Failed to load resource"; anything else is a bug.
    page.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in msg.text
            and seen["errors"].append(f"console: {msg.text}"))


@pytest.fixture(scope="module")
def page(browser, serve_app, seen):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True,
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    watch(page, seen)
    page.set_default_timeout(QUICK_MS)
    page.goto(f"{serve_app}/studio")
    # The pickers are filled from the API before anything is used.
    expect(page.locator("#design-platform option")).not_to_have_count(0)
    expect(page.locator("#design-model option[value='design-llm']")).to_have_count(1)
    yield page
    context.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    expect(page.get_by_role("tab", name=name, exact=True)).to_have_attribute("aria-selected", "true")


# ---- the routes ------------------------------------------------------------------------------------


def test_studio_routes(client):
    page = client.get("/studio")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert 'src="studio/studio.js"' in page.text
    for asset, kind in (("studio.js", "text/javascript"), ("studio.css", "text/css")):
        response = client.get(f"/studio/{asset}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
    for bad in ("..%2Fingress.py", "%2e%2e", "studio_routes.py", ".hidden", "missing.js"):
        assert client.get(f"/studio/{bad}").status_code == 404, bad
    assert "/studio" not in client.get("/openapi.json").json()["paths"]


# ---- the tabs, end to end --------------------------------------------------------------------------


def test_create_routes_and_answers(page):
    page.get_by_label("What do you need?").fill("Summer sale on running shoes, 30% off")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#create-status")).to_contain_text("Working")
    decision = page.locator("#create-decision")
    expect(decision).to_contain_text("Route:", timeout=MODEL_CALL_MS)
    expect(decision).to_contain_text("confident")
    answer = page.locator("#create-result img.render, #create-result blockquote.chat")
    expect(answer).to_have_count(1)
    if page.locator("#create-result img.render").count():
        wait_images_loaded(page, "#create-result img.render", 1)
    else:
        expect(answer).not_to_be_empty()
    shot(page, "create")


def test_an_unsure_router_asks_and_the_choice_answers(page):
    page.get_by_label("What do you need?").fill(UNSURE_PROMPT)
    page.get_by_role("button", name="Create", exact=True).click()
    choices = page.locator("#create-clarify")
    expect(choices).to_contain_text("Which would you like?", timeout=MODEL_CALL_MS)
    choices.get_by_role("button", name="Ad layout").click()
    expect(page.locator("#create-decision")).to_contain_text("chosen by you", timeout=MODEL_CALL_MS)
    wait_images_loaded(page, "#create-result img.render", 1)
    page.get_by_label("Answer as").select_option("")


def test_design_alternatives_download_and_more(page):
    open_tab(page, "Design")
    page.get_by_label("Brief").fill("Launch of our organic cold brew coffee, free delivery this week")
    page.get_by_label("Platform", exact=True).select_option("instagram")
    page.get_by_label("Format", exact=True).select_option("square")
    page.get_by_label("Alternatives").select_option("2")
    page.get_by_label("Seed", exact=True).fill("1")
    page.get_by_role("button", name="Generate designs").click()
    wait_images_loaded(page, ".design-card img.render", 2)
    cards = page.locator(".design-card")
    expect(cards).to_have_count(2)
    for i in range(2):
        expect(cards.nth(i).locator(".quality .verdict")).to_contain_text("check")
        expect(cards.nth(i).locator(".checks li")).not_to_have_count(0)
    expect(page.locator("#design-meta")).to_contain_text("seed 1")
    shot(page, "design")

    with page.expect_download() as download:
        cards.first.get_by_role("link", name="Download PNG").click()
    png = open(download.value.path(), "rb").read()
    assert png.startswith(PNG_MAGIC) and download.value.suggested_filename.endswith(".png")
    assert Image.open(io.BytesIO(png)).size == (1080, 1080)
    with page.expect_download() as download:
        cards.first.get_by_role("link", name="Download JSON").click()
    layout = json.loads(open(download.value.path(), "rb").read())
    assert (layout["platform"], layout["format"], layout["width"]) == ("instagram", "square", 1080)

    # "More like this": the same request with the next seed.
    first = cards.first.locator("img.render").get_attribute("src")
    page.get_by_role("button", name="More like this").click()
    expect(page.get_by_label("Seed", exact=True)).to_have_value("2")
    expect(page.locator("#design-meta")).to_contain_text("seed 2", timeout=MODEL_CALL_MS)
    wait_images_loaded(page, ".design-card img.render", 2)
    assert cards.first.locator("img.render").get_attribute("src") != first


def test_bad_input_shows_the_api_message_next_to_the_control(page):
    prompt = page.get_by_label("Brief")
    prompt.fill("x" * 3000)
    page.get_by_role("button", name="Generate designs").click()
    error = page.locator("#design-error")
    expect(error).to_contain_text("prompt has 3000 characters; the limit is 2000")
    expect(error).to_contain_text("HTTP 413")
    expect(prompt).to_have_attribute("aria-invalid", "true")
    assert prompt.get_attribute("aria-describedby") == "design-error"

    open_tab(page, "Images")
    page.get_by_label("Image description").fill("")
    page.get_by_role("button", name="Generate image").click()
    expect(page.locator("#image-error")).to_contain_text("prompt")  # pydantic's min_length message, 422
    expect(page.locator("#image-error")).to_contain_text(re.compile(r"HTTP 4\d\d"))


def test_images(page):
    open_tab(page, "Images")
    panel = page.get_by_role("tabpanel", name="Images")
    panel.get_by_label("Image description").fill("a bottle of perfume on wet stone")
    panel.get_by_label("Size", exact=True).select_option("story")
    panel.get_by_label("Steps").fill("2")
    panel.get_by_label("Seed (optional)").fill("7")
    panel.get_by_role("button", name="Generate image").click()
    wait_images_loaded(page, "#image-output", 1)
    expect(page.locator("#image-error")).to_be_empty()
    assert page.eval_on_selector("#image-output", "i => [i.naturalWidth, i.naturalHeight]") == [144, 256]
    expect(page.locator("#image-result figcaption")).to_contain_text("seed 7")
    with page.expect_download() as download:
        page.locator("#image-result").get_by_role("link", name="Download PNG").click()
    assert open(download.value.path(), "rb").read().startswith(PNG_MAGIC)
    shot(page, "images")


def test_product_copy_from_an_uploaded_photo(page, tmp_path):
    photo = tmp_path / "product.jpg"
    Image.new("RGB", (320, 240), (200, 30, 60)).save(photo, format="JPEG")
    open_tab(page, "Product copy")
    panel = page.get_by_role("tabpanel", name="Product copy")
    panel.get_by_label("Product photo").set_input_files(str(photo))  # choosing a file starts the call
    expect(page.locator("#copy-preview")).to_be_visible()
    expect(page.locator("#copy-status")).to_contain_text("Done", timeout=MODEL_CALL_MS)
    expect(page.locator("#copy-error")).to_be_empty()
    caption, description = panel.get_by_label("Caption", exact=True), panel.get_by_label("Description", exact=True)
    expect(caption).not_to_have_value("")
    expect(description).not_to_have_value("")
    description.fill(description.input_value() + " Edited.")  # editable
    page.locator("button.copy[data-copy='copy-description']").click()
    expect(page.locator("#copy-copied")).to_contain_text("Description copied")
    assert page.evaluate("navigator.clipboard.readText()").endswith(" Edited.")
    shot(page, "product-copy")

    # Dropping a photo on the drop zone does the same.
    data = base64.b64encode(photo.read_bytes()).decode()
    caption.fill("")
    transfer = page.evaluate_handle(
        """(b64) => { const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                      const dt = new DataTransfer();
                      dt.items.add(new File([bytes], "dropped.jpg", { type: "image/jpeg" })); return dt; }""", data)
    page.dispatch_event("#copy-drop", "drop", {"dataTransfer": transfer})
    expect(caption).not_to_have_value("", timeout=MODEL_CALL_MS)
    expect(page.locator("#copy-preview")).to_have_attribute("alt", "Chosen photo: dropped.jpg")


def test_models_training_job_and_registry(page, client, api_key):
    open_tab(page, "Models")
    # The jobs list and the registry load on their own (polling while the tab is open).
    expect(page.locator("#jobs-body td.empty:has-text('Loading')")).to_have_count(0, timeout=60_000)
    expect(page.locator("#registry-status .done, #registry-error:not(:empty)")).to_have_count(1, timeout=60_000)

    page.get_by_label("Kind").select_option("classifier")
    page.get_by_label("Config").fill("classifier_smoke")
    page.get_by_role("button", name="Submit job").click()
    # Without the key the API's 401/403 message shows next to the button; then the key is asked for once.
    expect(page.locator("#train-error")).to_contain_text("HTTP 401", timeout=60_000)
    page.get_by_label("API key").fill(api_key)
    page.get_by_role("button", name="Use key").click()
    expect(page.locator("#key-state")).to_contain_text("Key set")
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#train-status")).to_contain_text("Submitted job", timeout=60_000)
    job_id = page.locator("#train-status").inner_text().split("Submitted job ")[1].split(" ")[0]
    row = page.locator(f'#jobs-body tr[data-job="{job_id}"]')
    expect(row).to_be_visible(timeout=30_000)
    expect(row.locator("progress")).to_have_count(1)
    shot(page, "models")
    # Do not leave a training run on the shared machine. The job is likely still PENDING: it must stop all the same.
    cancelled = client.post(f"/v1/training/jobs/{job_id}/cancel", headers={"Authorization": f"Bearer {api_key}"},
                            timeout=120)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "STOPPED", cancelled.text


def test_a_design_drawn_with_a_brand_kit(page, client, api_key):
    kit = {"name": "Studio Kit", "workspace": "studio", "headline_font": {"family": "Oswald"},
           "body_font": {"family": "Lato"}, "disclaimer": "Studio Co. Terms apply.",
           "palette": [{"hex": "#FFF8E7", "role": "background"}, {"hex": "#2B2118", "role": "text"},
                       {"hex": "#0F766E", "role": "button"}, {"hex": "#FFFFFF", "role": "button_text"}]}
    admin = {"Authorization": f"Bearer {api_key}"}
    assert client.post("/v1/keys", json={"workspace": "studio"}, headers=admin).status_code == 201  # makes it
    made = client.post("/v1/brand-kits", json=kit, headers=admin)
    assert made.status_code == 201, made.text
    page.get_by_label("API key").fill(api_key)  # the kits listed are the key's (the admin's: every workspace's)
    page.get_by_role("button", name="Use key").click()
    open_tab(page, "Design")
    chooser = page.get_by_label("Brand kit", exact=True)  # not the "Brand kits" tab panel
    expect(chooser.locator("option", has_text="Studio Kit (v1)")).to_have_count(1, timeout=30_000)
    chooser.select_option(made.json()["kit"]["id"])
    page.get_by_label("Brief").fill("Harbour Roasters single-origin espresso beans, free delivery this week")
    page.get_by_label("Platform", exact=True).select_option("meta")
    page.get_by_label("Format", exact=True).select_option("square")
    page.get_by_label("Alternatives").select_option("1")
    page.get_by_role("button", name="Generate designs").click()
    wait_images_loaded(page, ".design-card img.render", 1)
    expect(page.locator(".design-card .checks li", has_text="On brand")).to_have_count(1)
    shot(page, "design-brand-kit")
    chooser.select_option("")  # the tests after this one make their designs without it


def test_brand_kits_tab_creates_edits_and_previews_a_kit(page, client, api_key):
    """A workspace of its own (a fresh key): a kit made with colours and a logo, listed; an edit is the next version;
    a refused palette and a refused file show the API's message and make no version; the kit laid out on square and
    leaderboard at once, each picture loaded and On brand. Every upload is a version of its own (the API's), so a kit
    created with a logo is at v2 and its first edit at v3."""
    workspace = f"studio-kits-{uuid.uuid4().hex[:8]}"
    made = client.post("/v1/keys", json={"workspace": workspace, "label": "studio test"},
                       headers={"Authorization": f"Bearer {api_key}"})
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['token']}"}
    open_tab(page, "Models")
    page.get_by_label("API key").fill(made.json()["token"])
    page.get_by_role("button", name="Use key").click()
    open_tab(page, "Brand kits")
    panel = page.get_by_role("tabpanel", name="Brand kits")
    rows = page.locator("#kits-body tr")
    expect(rows).to_contain_text(["No kits yet"])
    bundled = page.eval_on_selector_all("#kit-headline-font optgroup[label='Bundled'] option", "os => os.map((o) => o.value)")
    assert bundled == list(FONT_FAMILIES)

    panel.get_by_label("Name", exact=True).fill("Harbour")
    for i, hex_ in enumerate(("#fff8e7", "#2b2118", "#0f766e", "#0f766e", "#ffffff"), start=1):
        panel.get_by_label(f"Colour {i}", exact=True).fill(hex_)
    panel.get_by_label("Headline font").select_option("Oswald")
    panel.get_by_label("Body font").select_option("Lato")
    panel.get_by_label("Logo (PNG, WebP or JPEG)").set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": logo_bytes(size=(240, 80), border=10)})
    panel.get_by_label("Voice words").fill("fresh, small-batch")
    panel.get_by_label("Banned words").fill("cheap")
    panel.get_by_label("Disclaimer").fill("Harbour Roasters Ltd. Terms apply.")
    panel.get_by_role("button", name="Create kit").click()
    expect(page.locator("#kit-status")).to_contain_text("is now v2", timeout=30_000)  # v1, then the logo's v2
    row = rows.filter(has_text="Harbour")
    expect(row).to_contain_text("v2")
    expect(page.locator("#kit-logo-current img")).to_have_attribute("alt", "Logo of Harbour")
    kit_id = row.get_attribute("data-kit")

    panel.get_by_label("Disclaimer").fill("Harbour Roasters Ltd. Offer ends Sunday. Terms apply.")
    panel.get_by_role("button", name="Save as a new version").click()
    expect(page.locator("#kit-version")).to_have_text("v3", timeout=30_000)
    expect(row).to_contain_text("v3")

    # Refused: text that cannot be read on the background (422), then an SVG logo (415). Nothing saved either time.
    for i in (5, 4, 3):
        panel.get_by_role("button", name=f"Remove colour {i}").click()
    panel.get_by_label("Colour 2", exact=True).fill("#f2c14e")
    panel.get_by_role("button", name="Save as a new version").click()
    error = page.locator("#kit-error")
    expect(error).to_contain_text("no pair of colours legible as text", timeout=30_000)
    expect(error).to_contain_text("HTTP 422")
    row.get_by_role("button", name="Edit Harbour").click()  # back to the saved version
    panel.get_by_label("Logo (PNG, WebP or JPEG)").set_input_files(
        {"name": "logo.svg", "mimeType": "image/svg+xml", "buffer": SVG_LOGO})
    panel.get_by_role("button", name="Save as a new version").click()
    expect(error).to_contain_text("The logo was refused", timeout=30_000)
    expect(error).to_contain_text("HTTP 415")
    expect(page.locator("#kit-version")).to_have_text("v3")
    assert client.get(f"/v1/brand-kits/{kit_id}", headers=key).json()["kit"]["version"] == 3
    row.get_by_role("button", name="Edit Harbour").click()
    expect(error).to_be_empty()

    # Preview: square and leaderboard, requested at once; each picture loads and passes On brand.
    panel.get_by_label("Kit to preview").select_option(kit_id)
    page.locator("#kit-preview-formats input[value='meta/story']").uncheck()
    panel.get_by_role("button", name="Preview", exact=True).click()
    page.wait_for_function(  # both pictures loaded, or a card's error (MODEL_CALL_MS: 120 s for both)
        """() => { const cards = [...document.querySelectorAll(".kit-preview")];
                   return cards.length === 2 && cards.every((c) => c.querySelector(".error")
                     || [...c.querySelectorAll("img.render")].some((i) => i.complete && i.naturalWidth > 0)); }""",
        timeout=MODEL_CALL_MS)
    cards = page.locator(".kit-preview")
    assert cards.locator(".error").all_inner_texts() == []
    assert [cards.nth(i).get_attribute("data-format") for i in range(2)] == ["square", "leaderboard"]
    for i, width in enumerate((1080, 728)):
        expect(cards.nth(i).locator(".on-brand")).to_have_text("✓ On brand")
        assert cards.nth(i).locator("img.render").evaluate("i => i.naturalWidth") == width
    expect(page.locator("#kit-preview-error")).to_be_empty()
    shot(page, "brand-kits")
    page.locator("#kit-preview-formats input[value='meta/story']").check()
    assert client.delete(f"/v1/brand-kits/{kit_id}", headers=key).status_code == 200  # its own workspace: tidy


# ---- layout, keyboard, network -------------------------------------------------------------------


def test_keyboard_tabs_and_labels(page):
    open_tab(page, "Create")
    create = page.get_by_role("tab", name="Create")
    create.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Design")).to_be_focused()
    expect(page.get_by_role("tabpanel", name="Design")).to_be_visible()
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Models")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Home")
    expect(create).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Tab")  # out of the tab list, into the panel
    expect(page.get_by_role("tabpanel", name="Create")).to_be_focused()
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll("input, select, textarea")]
                 .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute("aria-label")).map((c) => c.id)""")
    assert unlabelled == []


def test_phone_layout(browser, serve_app, seen):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    watch(phone, seen)
    phone.set_default_timeout(QUICK_MS)
    phone.goto(f"{serve_app}/studio#design")
    expect(phone.get_by_role("tabpanel", name="Design")).to_be_visible()
    expect(phone.locator("#design-platform option")).not_to_have_count(0)
    for name in ("Create", "Design", "Brand kits", "Images", "Product copy", "Models"):
        phone.get_by_role("tab", name=name, exact=True).click()
        overflow = phone.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 390, f"{name}: page is {overflow} px wide on a 390 px screen"
        panel = phone.get_by_role("tabpanel", name=name)
        box = panel.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
    phone.get_by_role("tab", name="Design", exact=True).click()
    shot(phone, "phone")
    context.close()


def test_no_request_left_the_server(serve_app, seen):
    origin = urlsplit(serve_app)
    foreign = [url for url in seen["requests"]
               if not url.startswith(("data:", "blob:")) and urlsplit(url)[:2] != origin[:2]]
    assert seen["requests"] and foreign == []
    assert seen["errors"] == []

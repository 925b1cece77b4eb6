"""AdGenesis Studio: the marketers' web page at `/studio`, served by the ingress itself.

The page is three static files in `deployments/studio/` (index.html, studio.js, studio.css): plain
HTML, CSS and JavaScript with no build step, no npm and no CDN. The browser calls the public API
(`/v1/generate`, `/v1/designs`, `/v1/designs/render`, `/v1/images`, `/v1/product-descriptions`,
`/v1/models`, `/v1/training/jobs`, `/v1/registry/models`) exactly as any other client does, so the
page exercises the real contract and shows its real error messages.

Why static files instead of Ray Serve's Gradio integration (`ray.serve.gradio_integrations`):

- **No extra heavy dependency.** Gradio brings its own web server, a large frontend bundle and dozens
  of packages into every ingress replica's environment; three small files need nothing.
- **Same origin as the API, one app.** The page is just two more routes on the existing FastAPI
  ingress: no second Serve application, no second route prefix, no CORS, and the deployment that
  serves the page is the one that owns auth, limits and error messages. A Gradio app would call the
  deployments through its own Python callbacks, i.e. a second, parallel API to keep in step.
- **No external requests.** Gradio's default frontend loads fonts and assets from CDNs; the studio
  loads nothing but these files and the API (enforced by the Content-Security-Policy below), which
  matters on air-gapped clusters and for the local profile that runs with no network at all.
- **Plain to test and to make accessible.** Real buttons, labels and ARIA tabs we control, driven
  from a real browser in tests/integration/test_studio.py.

Handlers are plain functions, so the routes (`StudioRoutes`, a mixin of the ingress) stay one line each; files are
read per request (they are small) so an edit shows on the next reload without a redeploy.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import Response

from adgenesis.errors import NotFound
from adgenesis.paths import PathEscape, safe_child

STUDIO_DIR = Path(__file__).resolve().parent / "studio"

# Only these kinds of file are served, with these types; anything else in the folder is a 404.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

# Everything the page loads comes from this server: scripts, styles and API calls ('self'); pictures are
# the API's PNGs turned into blob: URLs or base64 data: URLs.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def asset_path(name: str, root: Path = STUDIO_DIR) -> Path:
    """The file `name` in the studio folder; 404 for anything outside it, hidden, or of an unserved type."""
    try:
        path = safe_child(root, name)
    except PathEscape:
        raise NotFound(f"no studio asset {name!r}") from None
    if name.startswith(".") or path.suffix not in CONTENT_TYPES or not path.is_file():
        raise NotFound(f"no studio asset {name!r}")
    return path


def studio_asset(name: str, root: Path = STUDIO_DIR) -> Response:
    path = asset_path(name, root)
    return Response(content=path.read_bytes(), media_type=CONTENT_TYPES[path.suffix], headers=HEADERS)


def studio_page(root: Path = STUDIO_DIR) -> Response:
    return studio_asset("index.html", root)


class StudioRoutes:
    """Mixed into AdGenesisIngress: the page and its files, hidden from the OpenAPI schema."""

    async def studio(self) -> Response:
        return studio_page()

    async def studio_asset(self, asset: str) -> Response:
        return studio_asset(asset)


ROUTES = {
    "studio": lambda app: app.get("/studio", include_in_schema=False),
    "studio_asset": lambda app: app.get("/studio/{asset}", include_in_schema=False),
}

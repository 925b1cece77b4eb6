"""Brand kits over HTTP (deployments/brand_kit_routes.py): the routes as Serve runs them (the ingress's FastAPI app,
our error handlers), driven by FastAPI's TestClient, with a real store on each database (tests/conftest.py
`database_url`) and the model handles stood in. Also the `adgenesis keys` commands over the same routes, and the
OpenAPI schema listing every status. The store's own behaviour in detail: tests/test_store.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient

from adgenesis import cli
from adgenesis.lifecycle import client as client_module
from adgenesis.protocol import DesignResponse
from adgenesis.ray_compat import init
from adgenesis.settings import StoreSettings, load_profile
from deployments.ingress import AdGenesisIngress, make_ingress
from tests.brand_files import SVG_LOGO, font_bytes, logo_bytes
from tests.test_ingress import FakeMethod, handle

PROFILE = load_profile("local")
ADMIN_KEY = "admin-key"
LIMIT = 64 * 1024  # bytes of a logo or a font upload
PALETTE = [{"hex": "#FFFFFF", "role": "background"}, {"hex": "#1A1A1A", "role": "text"},
           {"hex": "#C8102E", "role": "button"}, {"hex": "#FFFFFF", "role": "button_text"}]
KIT = {"name": "Acme", "palette": PALETTE, "headline_font": {"family": "Montserrat"}, "body_font": {"family": "Inter"},
       "voice_words": ["bold"], "banned_words": ["cheap"], "disclaimer": "Terms apply."}
DESIGNED = DesignResponse(model="design-llm", designs=[], latency_ms=1.0)
SQUARE = {"platform": "meta", "format": "square", "width": 1080, "height": 1080, "background_color": "#FFFFFF",
          "elements": [{"type": "shape", "shape": "rectangle", "x": 0, "y": 0, "width": 10, "height": 10, "color": "#000000"}]}


@pytest.fixture(scope="module")
def app():
    app = init()
    make_ingress(app)
    return app


@pytest.fixture
def settings(database_url, tmp_path) -> StoreSettings:
    return StoreSettings(database_url=database_url, uploads_dir=str(tmp_path / "uploads"), max_logo_bytes=LIMIT,
                         max_font_bytes=LIMIT, max_logo_pixels=1_000_000)


@pytest.fixture
def ingress(settings, monkeypatch) -> AdGenesisIngress:
    monkeypatch.setenv(PROFILE.lifecycle.api_key_env, ADMIN_KEY)
    ingress = AdGenesisIngress(
        {PROFILE.llm.model_id: None}, {PROFILE.llm.model_id: None},
        design=handle(generate=FakeMethod(DESIGNED), render=FakeMethod(b"png")), image_gen=None, classifier=None,
        captioner=None, llm_settings=PROFILE.llm.model_dump(), limits=PROFILE.limits.model_dump(),
        store_settings=settings.model_dump(mode="json"))
    yield ingress
    ingress._store().close()


@pytest.fixture
def http(app, ingress, monkeypatch) -> TestClient:
    """A client whose routes run on `ingress` (Serve injects the replica's instance)."""
    monkeypatch.setattr("ray.serve.get_replica_context", lambda: SimpleNamespace(servable_object=ingress))
    return TestClient(app, raise_server_exceptions=True)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_key(http: TestClient, workspace: str) -> dict[str, str]:
    r = http.post("/v1/keys", json={"workspace": workspace}, headers=auth(ADMIN_KEY))
    assert r.status_code == 201, r.text
    return auth(r.json()["token"])


def versions(http: TestClient, kit_id: str, key: dict) -> list[int]:
    return [v["kit"]["version"] for v in http.get(f"/v1/brand-kits/{kit_id}/versions", headers=key).json()["versions"]]


# --------------------------------------------------------------------------------------------------
# A kit's life
# --------------------------------------------------------------------------------------------------


def test_a_kit_is_made_edited_given_a_logo_and_fonts_and_deleted_over_http(http):
    acme = new_key(http, "acme")
    r = http.post("/v1/brand-kits", json=KIT, headers=acme)
    assert r.status_code == 201, r.text
    kit = r.json()["kit"]
    assert (kit["version"], kit["workspace"], kit["logo"]) == (1, "acme", None) and kit["id"].startswith("kit_")
    assert http.get("/v1/brand-kits/Acme", headers=acme).json()["kit"] == kit
    assert [k["kit"]["id"] for k in http.get("/v1/brand-kits", headers=acme).json()["kits"]] == [kit["id"]]

    r = http.patch(f"/v1/brand-kits/{kit['id']}", json={"disclaimer": None, "voice_words": ["daring"]}, headers=acme)
    assert r.status_code == 200 and r.json()["kit"]["version"] == 2 and r.json()["kit"]["disclaimer"] is None
    assert http.get(f"/v1/brand-kits/{kit['id']}/versions/1", headers=acme).json()["kit"] == kit

    r = http.post(f"/v1/brand-kits/{kit['id']}/logo", files={"file": ("logo.png", logo_bytes(), "image/png")},
                  headers=acme)
    assert r.status_code == 200, r.text
    logo = r.json()["kit"]["logo"]
    got = http.get(f"/v1/brand-kits/{kit['id']}/files/{logo}", headers=acme)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png" and got.content[:4] == b"\x89PNG"
    assert "immutable" in got.headers["cache-control"]

    r = http.post(f"/v1/brand-kits/{kit['id']}/fonts", files={"file": ("../../etc/passwd", font_bytes(family="Acme Sans"))},
                  data={"role": "body"}, headers=acme)
    assert r.status_code == 200, r.text
    font = r.json()["kit"]["body_font"]
    assert font["family"] == "Acme Sans" and font["file"].endswith(".ttf") and "passwd" not in font["file"]
    assert http.get(f"/v1/brand-kits/{kit['id']}/files/{font['file']}", headers=acme).headers["content-type"] == \
        "font/ttf"
    assert versions(http, kit["id"], acme) == [1, 2, 3, 4]

    assert http.delete(f"/v1/brand-kits/{kit['id']}", headers=acme).json()["deleted_at"] is not None
    assert http.get(f"/v1/brand-kits/{kit['id']}", headers=acme).status_code == 404
    assert http.get("/v1/brand-kits", headers=acme).json()["kits"] == []
    assert http.get(f"/v1/brand-kits/{kit['id']}/versions/3", headers=acme).json()["kit"]["logo"] == logo


def test_a_design_that_names_a_kit_needs_a_key_that_may_use_it(http, ingress):
    acme, globex = new_key(http, "acme"), new_key(http, "globex")
    kit = http.post("/v1/brand-kits", json=KIT, headers=acme).json()["kit"]
    design = {"prompt": "Summer sale on running shoes", "platform": "meta", "format": "square"}
    generate = ingress._design.generate

    assert http.post("/v1/designs", json=design).status_code == 200  # no kit, no key: as before
    r = http.post("/v1/designs", json={**design, "brand_kit": "Acme"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    for ref in ("Acme", kit["id"]):
        r = http.post("/v1/designs", json={**design, "brand_kit": ref}, headers=globex)
        assert r.status_code == 404 and "no brand kit" in r.json()["detail"]
    r = http.post("/v1/generate", json={"prompt": "x", "route": "design_spec", "brand_kit": kit["id"]}, headers=globex)
    assert r.status_code == 404
    drawn = {"design": SQUARE, "brand_kit": "Acme"}
    assert http.post("/v1/designs/render", json=drawn, headers=globex).status_code == 404
    assert len(generate.calls) == 1 and ingress._design.render.calls == []  # nothing reached the model
    assert http.post("/v1/designs/render", json=drawn, headers=acme).content == b"png"
    for key in (acme, auth(ADMIN_KEY)):
        assert http.post("/v1/designs", json={**design, "brand_kit": kit["id"]}, headers=key).status_code == 200
    assert len(generate.calls) == 3


# --------------------------------------------------------------------------------------------------
# Workspaces and keys
# --------------------------------------------------------------------------------------------------


def test_the_admin_key_issues_lists_and_revokes_workspace_keys(http):
    r = http.post("/v1/keys", json={"workspace": "acme", "label": "studio"}, headers=auth(ADMIN_KEY))
    assert r.status_code == 201 and r.json()["workspace_created"] is True
    key_id, token = r.json()["key"]["id"], r.json()["token"]
    assert http.get("/v1/brand-kits", headers=auth(token)).status_code == 200
    listed = http.get("/v1/keys", params={"workspace": "acme"}, headers=auth(ADMIN_KEY)).json()["keys"]
    assert [(k["id"], k["label"], k["shown"]) for k in listed] == [(key_id, "studio", token[:12])]
    assert "token" not in listed[0] and token not in http.get("/v1/keys", headers=auth(ADMIN_KEY)).text
    assert http.get("/v1/workspaces", headers=auth(ADMIN_KEY)).json()["workspaces"][0]["keys"] == 1

    for path, method in (("/v1/keys", "get"), ("/v1/workspaces", "get"), (f"/v1/keys/{key_id}/revoke", "post")):
        assert getattr(http, method)(path, headers=auth(token)).status_code == 403  # a workspace key manages no keys
        assert getattr(http, method)(path).status_code == 401
    assert http.post(f"/v1/keys/{key_id}/revoke", headers=auth(ADMIN_KEY)).json()["revoked_at"] is not None
    r = http.get("/v1/brand-kits", headers=auth(token))
    assert r.status_code == 403 and "revoked" in r.json()["detail"]
    assert http.post(f"/v1/keys/{key_id}/revoke", headers=auth(ADMIN_KEY)).status_code == 409
    assert http.get("/v1/keys", params={"workspace": "initech"}, headers=auth(ADMIN_KEY)).status_code == 404


def test_without_an_admin_key_no_keys_can_be_made_and_without_a_store_the_routes_answer_503(http, app, monkeypatch):
    monkeypatch.delenv(PROFILE.lifecycle.api_key_env)
    bare = AdGenesisIngress({PROFILE.llm.model_id: None}, {PROFILE.llm.model_id: None}, design=None, image_gen=None,
                            classifier=None, captioner=None, llm_settings=PROFILE.llm.model_dump(),
                            limits=PROFILE.limits.model_dump())
    monkeypatch.setattr("ray.serve.get_replica_context", lambda: SimpleNamespace(servable_object=bare))
    r = http.post("/v1/keys", json={"workspace": "acme"}, headers=auth("anything"))
    assert r.status_code == 503 and "no API key is configured" in r.json()["detail"]
    r = http.get("/v1/brand-kits", headers=auth("agk_x"))
    assert r.status_code == 503 and "not configured" in r.json()["detail"]


def test_the_cli_manages_keys_over_the_api(http, monkeypatch, capsys):
    def forward(request: httpx.Request) -> httpx.Response:  # the CLI's client, answered by the app
        answer = http.request(request.method, request.url.path, params=request.url.params, content=request.content,
                              headers={k: v for k, v in request.headers.items() if k in ("authorization", "content-type")})
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    real = client_module.LifecycleClient.__init__
    monkeypatch.setattr(client_module.LifecycleClient, "__init__", lambda self, url=None, api_key=None, **kw: real(
        self, "http://testserver", api_key, transport=httpx.MockTransport(forward)))
    monkeypatch.setenv(client_module.KEY_ENV, ADMIN_KEY)
    assert cli.main(["keys", "create", "--workspace", "acme", "--label", "ci"]) == 0
    out = capsys.readouterr().out
    token = next(word for word in out.split() if word.startswith("agk_") and len(word) > 12)
    assert "workspace acme (new)" in out and "shown once" in out
    assert http.get("/v1/brand-kits", headers=auth(token)).status_code == 200
    assert cli.main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    key_id = next(word for word in listing.split() if word.startswith("key_"))
    assert "acme" in listing and token not in listing and token[:12] in listing
    assert cli.main(["keys", "revoke", key_id]) == 0 and "revoked" in capsys.readouterr().out
    assert http.get("/v1/brand-kits", headers=auth(token)).status_code == 403
    assert cli.main(["keys", "create", "--workspace", "acme", "--api-key", token]) == 1
    assert "error 403" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# Refusals: a clear 4xx, and nothing stored
# --------------------------------------------------------------------------------------------------


ILLEGIBLE = [{"hex": "#FFFFFF", "role": "background"}, {"hex": "#BBBBBB", "role": "text"}]


@pytest.mark.parametrize("send, status, words", [
    (("post", "/v1/brand-kits", {"json": {**KIT, "name": "../../etc/passwd"}}), 400, ["kit name", "letters, digits"]),
    (("post", "/v1/brand-kits", {"json": {**KIT, "name": "Other", "palette": ILLEGIBLE}}), 422,
     ["no pair of colours legible", "the best pair is #BBBBBB (text) on #FFFFFF (background) at 1.92:1"]),
    (("patch", "/v1/brand-kits/{id}", {"json": {"palette": ILLEGIBLE}}), 422, ["best pair", "1.92:1"]),
    (("patch", "/v1/brand-kits/{id}", {"json": {"name": None}}), 400, ["cannot be null"]),
    (("post", "/v1/brand-kits/{id}/logo", {"files": {"file": ("logo.svg", SVG_LOGO, "image/svg+xml")}}), 415, ["SVG"]),
    (("post", "/v1/brand-kits/{id}/logo", {"files": {"file": ("big.png", b"\x89PNG" + b"0" * 4 * LIMIT)}}), 413,
     ["limit"]),
    (("post", "/v1/brand-kits/{id}/logo", {"content": b"raw", "headers": {"content-type": "image/png"}}), 415,
     ["multipart"]),
    (("post", "/v1/brand-kits/{id}/fonts", {"files": {"file": ("f.ttf", font_bytes()[:500])}, "data": {"role": "body"}}),
     400, ["unreadable font"]),
    (("post", "/v1/brand-kits/{id}/fonts", {"files": {"file": ("f.ttf", font_bytes(characters="abc"))},
                                            "data": {"role": "body"}}), 422, ["cannot draw"]),
    (("post", "/v1/brand-kits/{id}/fonts", {"files": {"file": ("f.ttf", font_bytes())}}), 422, ["role"]),
    (("get", "/v1/brand-kits/{id}/versions/0", {}), 422, ["from 1"]),
    (("get", "/v1/brand-kits/{id}/files/../../../etc/passwd", {}), 404, []),
    (("get", "/v1/brand-kits/{id}/files/%00.png", {}), 404, ["no file"]),
    (("get", "/v1/brand-kits/Ac%00me", {}), 404, ["no brand kit"]),
    (("patch", "/v1/brand-kits/{id}", {"json": {"disclaimer": "Terms\u0000apply"}}), 400, ["control characters"]),
    (("patch", "/v1/brand-kits/{id}", {"json": {"logo": "\u0000.png"}}), 422, ["not a logo this workspace uploaded"]),
], ids=["name-with-path", "illegible-palette", "illegible-edit", "null-name", "svg-logo", "oversize-logo",
        "logo-not-multipart", "unreadable-font", "font-without-accents", "font-without-role", "version-0",
        "file-path", "file-nul", "name-nul", "disclaimer-nul", "logo-nul"])
def test_bad_input_is_a_clear_4xx_and_stores_nothing(http, settings, send, status, words):
    acme = new_key(http, "acme")
    kit = http.post("/v1/brand-kits", json=KIT, headers=acme).json()["kit"]
    method, path, options = send
    options = {**options, "headers": {**acme, **options.get("headers", {})}}
    r = getattr(http, method)(path.replace("{id}", kit["id"]), **options)
    assert r.status_code == status, r.text
    body = r.json()
    message = body.get("detail") or body["error"]["message"]
    assert all(w in message for w in words), message
    assert versions(http, kit["id"], acme) == [1] and len(http.get("/v1/brand-kits", headers=acme).json()["kits"]) == 1
    assert not any(Path(settings.uploads_dir).iterdir())


def test_another_workspaces_kit_is_a_404_to_read_and_a_403_to_change_and_its_uploads_are_not_read(http, app):
    acme, globex = new_key(http, "acme"), new_key(http, "globex")
    kit = http.post("/v1/brand-kits", json=KIT, headers=acme).json()["kit"]
    for path in (f"/v1/brand-kits/{kit['id']}", "/v1/brand-kits/Acme", f"/v1/brand-kits/{kit['id']}/versions",
                 f"/v1/brand-kits/{kit['id']}/versions/1"):
        assert http.get(path, headers=globex).status_code == 404
    assert http.patch(f"/v1/brand-kits/{kit['id']}", json={"disclaimer": "ours"}, headers=globex).status_code == 403
    assert http.delete(f"/v1/brand-kits/{kit['id']}", headers=globex).status_code == 403
    r = http.post(f"/v1/brand-kits/{kit['id']}/logo", files={"file": ("l.png", logo_bytes())}, headers=globex)
    assert r.status_code == 403
    assert http.post("/v1/brand-kits", json={**KIT, "workspace": "acme"}, headers=globex).status_code == 403
    assert http.get(f"/v1/brand-kits/{kit['id']}", headers=auth("agk_not-a-key")).status_code == 403
    assert http.get(f"/v1/brand-kits/{kit['id']}").status_code == 401
    assert versions(http, kit["id"], acme) == [1]


# --------------------------------------------------------------------------------------------------
# The OpenAPI schema
# --------------------------------------------------------------------------------------------------


def test_the_openapi_schema_lists_every_status_each_route_answers_with_its_body(app):
    paths = app.openapi()["paths"]
    expected = {
        ("post", "/v1/brand-kits"): {201, 400, 401, 403, 404, 409, 422, 502, 503},
        ("get", "/v1/brand-kits/{kit_id}"): {200, 401, 403, 404, 422, 502, 503},
        ("post", "/v1/brand-kits/{kit_id}/logo"): {200, 400, 401, 403, 404, 409, 413, 415, 422, 502, 503},
        ("post", "/v1/brand-kits/{kit_id}/fonts"): {200, 400, 401, 403, 404, 409, 413, 415, 422, 502, 503},
        ("post", "/v1/keys"): {201, 400, 401, 403, 409, 502, 503},
        ("post", "/v1/designs"): {200, 401, 403, 404, 503},
    }
    for (method, path), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert statuses <= {int(s) for s in responses}, (method, path, sorted(responses))
        for status in statuses - {200, 201, 503}:
            schema = responses[str(status)]["content"]["application/json"]["schema"]
            refs = [s["$ref"] for s in schema.get("anyOf", [schema])]
            assert "#/components/schemas/ErrorBody" in refs, (path, status, schema)
    upload = paths["/v1/brand-kits/{kit_id}/fonts"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["properties"]["role"]["enum"] == ["headline", "body"]
    bad_request = paths["/v1/brand-kits"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert {s["$ref"].rsplit("/", 1)[1] for s in bad_request["anyOf"]} == {"ErrorBody", "RequestFormatErrorBody"}

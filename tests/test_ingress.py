"""The ingress's own logic with every handle stood in: no Ray cluster, seconds.

The app is the one Serve runs (`make_ingress` on ray.serve.llm's FastAPI app, our exception handlers and
middleware), driven by FastAPI's TestClient; each route's `self` is an AdGenesisIngress whose deployment handles
are fakes. Covered: overload and lost replicas (503 + Retry-After, one retry for a side-effect-free call, none
for a lifecycle write), a deployment's RequestError answered with its status and message, uploads (multipart,
JSON, 400/413/415), and the lifecycle routes' API key checked before the owner is called. The real graph is
tests/integration/test_graph.py and test_batch.py.
"""

from __future__ import annotations

import asyncio
import base64
import io
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from ray.exceptions import RayActorError, RayTaskError
from ray.serve.exceptions import BackPressureError
from starlette.requests import Request

from adgenesis.errors import RETRY_AFTER_S, Invalid, RequestError
from adgenesis.protocol import (CaptionResponse, ClassifyResponse, Deployment, FileObject, FileUpload, ImageResult,
                                PromoteVersion, PromotionResponse, TrainJobList)
from adgenesis.ray_compat import init
from adgenesis.settings import load_profile
from deployments.http_errors import status_of
from deployments.ingress import AdGenesisIngress, make_ingress
from deployments.uploads import FRAMING_BYTES

PROFILE = load_profile("local")
KEY = "test-key"
UPLOAD_LIMIT = 64 * 1024  # bytes of image or batch file; the body may add multipart framing
CLASSIFIED = ClassifyResponse(label="image", confidence=0.9, scores={"image": 0.9}, model_version="abc123")
CAPTIONED = CaptionResponse(caption="a red square", model_version="blip1")
PROMOTED = PromotionResponse(name="router", action="promote", production_version=2, previous_version=1,
                             deployment=Deployment(kind="classifier", target="t", model_version="v2", seconds=0.1))


class FakeMethod:
    """A handle method: `.remote(...)` records the call and returns an awaitable of the next answer (the
    last one repeats); an exception as the answer is raised when awaited, as a DeploymentResponse does."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def remote(self, *args, **kwargs):
        self.calls.append(args)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

        async def response():
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return response()


def handle(**methods: FakeMethod) -> SimpleNamespace:
    return SimpleNamespace(**methods)


def from_a_replica(error: Exception) -> Exception:
    """What awaiting a handle raises for an exception in a replica: Ray's RayTaskError(<class>) with its traceback."""
    traceback = f"Traceback (most recent call last):\n  File \"replica.py\"\n{type(error).__module__}.{type(error).__name__}: {error}"
    return RayTaskError("classify", traceback, error).as_instanceof_cause()


def image_bytes(fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def app():
    app = init()
    make_ingress(app)
    return app


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    """The key the ingress reads from its environment (lifecycle.api_key_env) when it is made."""
    monkeypatch.setenv(PROFILE.lifecycle.api_key_env, KEY)


@pytest.fixture
def serve(app, monkeypatch):
    """`serve(ingress)`: a TestClient whose routes run on `ingress` (Serve injects the replica's instance)."""

    def client(ingress: AdGenesisIngress) -> TestClient:
        monkeypatch.setattr("ray.serve.get_replica_context", lambda: SimpleNamespace(servable_object=ingress))
        return TestClient(app, raise_server_exceptions=True)

    return client


def make(classifier=None, captioner=None, lifecycle=None, lifecycle_settings: dict | None = None) -> AdGenesisIngress:
    limits = PROFILE.limits.model_copy(update={"max_upload_bytes": UPLOAD_LIMIT}).model_dump()
    settings = PROFILE.lifecycle.model_dump(mode="json") if lifecycle_settings is None else lifecycle_settings
    return AdGenesisIngress(
        {PROFILE.llm.model_id: None}, {PROFILE.llm.model_id: None},
        design=None, image_gen=None,
        classifier=classifier or handle(classify=FakeMethod(CLASSIFIED)),
        captioner=captioner or handle(caption=FakeMethod(CAPTIONED)),
        llm_settings=PROFILE.llm.model_dump(), limits=limits,
        lifecycle=lifecycle, lifecycle_settings=settings if lifecycle is not None else None,
    )


# --------------------------------------------------------------------------------------------------
# Overload, lost replicas, errors raised in a deployment
# --------------------------------------------------------------------------------------------------


def test_a_full_queue_is_a_503_with_retry_after(serve):
    classify = FakeMethod(BackPressureError(num_queued_requests=512, max_queued_requests=512))
    r = serve(make(classifier=handle(classify=classify))).post("/v1/classify", json={"text": "a square ad"})
    assert r.status_code == 503 and r.headers["retry-after"] == str(RETRY_AFTER_S)
    assert "capacity" in r.json()["detail"] and len(classify.calls) == 1


def test_a_lost_replica_is_tried_once_more_then_503(serve):
    classify = FakeMethod(RayActorError(), CLASSIFIED)
    r = serve(make(classifier=handle(classify=classify))).post("/v1/classify", json={"text": "a square ad"})
    assert r.status_code == 200 and r.json()["model_version"] == "abc123" and len(classify.calls) == 2

    classify = FakeMethod(RayActorError())
    r = serve(make(classifier=handle(classify=classify))).post("/v1/classify", json={"text": "a square ad"})
    assert r.status_code == 503 and r.headers["retry-after"] == str(RETRY_AFTER_S)
    assert "RayActorError" in r.json()["detail"] and len(classify.calls) == 2


def test_a_request_error_from_a_deployment_is_its_status_and_message(serve):
    classify = FakeMethod(from_a_replica(Invalid("the text is not one the router can read")))
    r = serve(make(classifier=handle(classify=classify))).post("/v1/classify", json={"text": "a square ad"})
    assert r.status_code == 422
    assert r.json()["detail"] == "the text is not one the router can read"
    assert "adgenesis.errors" not in r.text and "Traceback" not in r.text
    assert len(classify.calls) == 1  # a caller's mistake is not a lost replica: not sent again


# --------------------------------------------------------------------------------------------------
# Uploads: /v1/captions takes multipart or JSON
# --------------------------------------------------------------------------------------------------


UNSURE = ClassifyResponse(label="image", confidence=0.45, scores={"image": 0.45, "design_spec": 0.4,
                                                                 "conversation": 0.15}, model_version="abc123", sure=False)


def test_an_unsure_router_asks_instead_of_guessing_or_takes_the_default_route(serve):
    ingress = make(classifier=handle(classify=FakeMethod(UNSURE)))
    draw = FakeMethod(ImageResult(png=image_bytes(), width=64, height=48, seed=3, steps=4, guidance_scale=0.0,
                                  prompt="x", elapsed_ms=1.0))
    ingress._image_gen = handle(generate=draw)
    client = serve(ingress)
    r = client.post("/v1/generate", json={"prompt": "a picture for my ad: a reading nook"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["route"] is None and body["classification"]["sure"] is False and draw.calls == []
    assert [c["route"] for c in body["clarification"]["candidates"]] == ["image", "design_spec", "conversation"]
    assert "an image or an ad layout?" in body["clarification"]["question"]

    body = client.post("/v1/generate", json={"prompt": "a picture for my ad: a reading nook",
                                             "default_route": "image"}).json()
    assert (body["route"], body["defaulted"], body["forced"]) == ("image", True, False) and len(draw.calls) == 1
    assert body["image"]["b64_png"] and body["clarification"] is None


def test_a_multipart_upload_reaches_the_captioner_as_an_image_with_its_prompt(serve):
    caption = FakeMethod(CAPTIONED)
    client = serve(make(captioner=handle(caption=caption)))
    r = client.post("/v1/captions", files={"file": ("p.jpg", image_bytes("JPEG"), "image/jpeg")},
                    data={"prompt": "a photo of"})
    assert r.status_code == 200, r.text
    assert r.json() == {"caption": "a red square", "model_version": "blip1"}
    (asked,) = caption.calls[0]
    assert isinstance(asked.image, Image.Image) and asked.image.size == (64, 48) and asked.prompt == "a photo of"

    r = client.post("/v1/captions", json={"image_base64": base64.b64encode(image_bytes()).decode()})
    assert r.status_code == 200 and len(caption.calls) == 2 and caption.calls[1][0].prompt is None


@pytest.mark.parametrize(
    "send, status, words",
    [
        (dict(content=b"--x\r\n", headers={"content-type": "multipart/form-data"}), 400, "boundary"),
        (dict(content=b"garbage without parts", headers={"content-type": "multipart/form-data; boundary=xyz"}), 400,
         "multipart"),
        (dict(files=[("file", ("a.png", image_bytes())), ("file", ("b.png", image_bytes()))]), 400, "files"),
        (dict(files={"file": ("x.txt", b"hello, not an image", "text/plain")}), 400, "image"),
        (dict(data={"prompt": "no file here"}, files={"other": ("x", b"")}), 400, "`file`"),
        (dict(content=b"raw", headers={"content-type": "image/png"}), 415, "multipart"),
        (dict(content=b"{not json", headers={"content-type": "application/json"}), 400, "malformed"),
        (dict(json=["a", "list"]), 400, "object"),
        (dict(content=b"0" * (4 * UPLOAD_LIMIT), headers={"content-type": "application/json"}), 413, "limit"),
        (dict(files={"file": ("big.png", b"0" * (4 * UPLOAD_LIMIT), "image/png")}), 413, "limit"),
    ],
    ids=["no-boundary", "bad-framing", "two-files", "not-an-image", "no-file-part", "wrong-content-type",
         "malformed-json", "json-not-an-object", "json-over-the-limit", "upload-over-the-limit"],
)
def test_bad_uploads_are_4xx_with_a_message_and_reach_no_model(serve, send, status, words):
    caption = FakeMethod({"caption": "never", "model_version": "blip1"})
    r = serve(make(captioner=handle(caption=caption))).post("/v1/captions", **send)
    assert r.status_code == status, r.text
    assert words.lower() in r.json()["detail"].lower() and r.json()["request_id"]
    assert caption.calls == []


def streamed(app, path: str, content_type: bytes, chunks: list[bytes]) -> tuple[Request, list[int]]:
    """A request whose body arrives in `chunks` without a content-length, and the sizes received so far
    (TestClient reads a body whole before the app sees it; a route called directly shows what it read)."""
    received: list[int] = []

    async def receive():
        chunk = chunks[len(received)]
        received.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": len(received) < len(chunks)}

    scope = {"type": "http", "method": "POST", "path": path, "app": app, "headers": [(b"content-type", content_type)]}
    return Request(scope, receive), received


@pytest.mark.parametrize("content_type, head", [
    (b"application/json", b""),
    (b"multipart/form-data; boundary=b", b'--b\r\nContent-Disposition: form-data; name="file"; filename="p.png"\r\n\r\n'),
], ids=["json", "multipart"])
def test_a_body_without_a_length_is_refused_as_soon_as_it_passes_the_limit(app, content_type, head):
    chunk = b"0" * (UPLOAD_LIMIT // 2)
    request, received = streamed(app, "/v1/captions", content_type, [head] + [chunk] * 100)
    with pytest.raises(RequestError) as exc:
        asyncio.run(make().captions(request))
    assert status_of(exc.value) == 413 and "limit" in exc.value.message
    assert sum(received) <= UPLOAD_LIMIT + FRAMING_BYTES + len(chunk)  # not the 100 chunks sent


# --------------------------------------------------------------------------------------------------
# Lifecycle routes: the key in the ingress, then one call to the owner
# --------------------------------------------------------------------------------------------------


def owner(**answers) -> SimpleNamespace:
    methods = {"promote": PROMOTED, "rollback": PROMOTED, "list_jobs": TrainJobList(jobs=[]),
               "create_file": FileObject(id="file-" + "0" * 24, bytes=3, created_at=1, filename="b.jsonl",
                                         purpose="batch")}
    return handle(**{name: FakeMethod(answer) for name, answer in (methods | answers).items()})


@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": "Bearer not-the-key"}, 403)])
def test_write_routes_check_the_key_before_calling_the_owner(serve, headers, status):
    lifecycle = owner()
    client = serve(make(lifecycle=lifecycle))
    assert client.post("/v1/registry/models/router/promote", json={"version": 2}, headers=headers).status_code == status
    assert client.post("/v1/registry/models/router/rollback", headers=headers).status_code == status
    r = client.post("/v1/files", files={"file": ("b.jsonl", b"{}\n")}, data={"purpose": "batch"}, headers=headers)
    assert r.status_code == status
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
    assert lifecycle.promote.calls == lifecycle.rollback.calls == lifecycle.create_file.calls == []


def test_with_the_key_a_promotion_is_one_call_to_the_owner(serve):
    lifecycle = owner()
    r = serve(make(lifecycle=lifecycle)).post("/v1/registry/models/router/promote", json={"version": 2},
                                              headers={"X-API-Key": KEY})
    assert r.status_code == 200 and r.json()["deployment"]["model_version"] == "v2"
    assert lifecycle.promote.calls == [(PromoteVersion(name="router", version=2),)]


def test_a_lost_owner_is_not_sent_a_write_twice_but_a_read_is(serve):
    lifecycle = owner(promote=RayActorError(), list_jobs=RayActorError())
    client = serve(make(lifecycle=lifecycle))
    r = client.post("/v1/registry/models/router/promote", json={"version": 2}, headers={"X-API-Key": KEY})
    assert r.status_code == 503 and r.headers["retry-after"] == str(RETRY_AFTER_S)
    assert len(lifecycle.promote.calls) == 1
    assert client.get("/v1/training/jobs").status_code == 503 and len(lifecycle.list_jobs.calls) == 2


def test_an_upload_is_not_read_for_a_caller_without_the_key(app):
    lifecycle = owner()
    request, received = streamed(app, "/v1/files", b"multipart/form-data; boundary=b", [b"--b\r\n"] * 10)
    with pytest.raises(RequestError) as exc:
        asyncio.run(make(lifecycle=lifecycle).files_create(request))
    assert status_of(exc.value) == 401 and received == [] and lifecycle.create_file.calls == []


def test_an_upload_with_the_key_reaches_the_owner_as_bytes(serve):
    lifecycle = owner()
    client = serve(make(lifecycle=lifecycle))
    auth = {"Authorization": f"Bearer {KEY}"}
    r = client.post("/v1/files", files={"file": ("b.jsonl", b"{}\n")}, data={"purpose": "batch"}, headers=auth)
    assert r.status_code == 200 and lifecycle.create_file.calls == [(FileUpload(filename="b.jsonl", data=b"{}\n", purpose="batch"),)]
    assert client.post("/v1/files", json={"file": "x"}, headers=auth).status_code == 415
    big = client.post("/v1/files", files={"file": ("b.jsonl", b"{}\n" * UPLOAD_LIMIT)}, headers=auth)
    assert big.status_code == 413 and len(lifecycle.create_file.calls) == 1


def test_without_a_lifecycle_section_the_routes_answer_503(serve):
    client = serve(make(lifecycle=None))
    assert client.get("/v1/training/jobs").status_code == 503
    r = client.post("/v1/registry/models/router/promote", json={"version": 2}, headers={"X-API-Key": KEY})
    assert r.status_code == 503 and "not configured" in r.json()["detail"]


def test_the_chat_routes_answer_with_the_instruct_base_not_the_brief_tuned_weights():
    ingress = make()
    assert PROFILE.llm.chat_model == "design-llm:base"
    assert ingress._resolve_model(None) == ingress._resolve_model("design-llm") == "design-llm:base"
    assert ingress._resolve_model("design-llm:brand-v1") == "design-llm:brand-v1"  # a named adapter is that adapter


def test_the_openapi_schema_declares_validation_as_the_400_it_is_and_each_routes_own_statuses(app, serve):
    schema = app.openapi()
    assert "HTTPValidationError" not in str(schema), "FastAPI's 422 body: this app answers a 400"
    operations = {(method, path): op for path, item in schema["paths"].items() for method, op in item.items()}
    for (method, path), op in operations.items():
        if op.get("parameters") or op.get("requestBody"):
            body = op["responses"]["400"]["content"]["application/json"]["schema"]
            refs = {s["$ref"].rsplit("/", 1)[1] for s in body.get("anyOf", [body])}
            assert {"ErrorBody", "RequestFormatErrorBody"} <= refs, (method, path, refs)
    declared = {key: {int(s) for s in operations[key]["responses"]} for key in operations}
    assert declared[("post", "/v1/designs")] == {200, 400, 401, 403, 404, 413, 422, 502, 503}
    assert declared[("post", "/v1/captions")] == {200, 400, 413, 415, 503}
    assert declared[("get", "/v1/training/jobs/{job_id}")] == {200, 400, 401, 403, 404, 502, 503}
    assert declared[("post", "/v1/chat/completions")] == {200, 400, 404, 503}
    # Routes that read their body themselves still say what it is, so clients (and schemathesis) can send one.
    photo = operations[("post", "/v1/captions")]["requestBody"]["content"]
    assert set(photo) == {"multipart/form-data", "application/json"}
    assert photo["application/json"]["schema"]["required"] == ["image_base64"]
    # And what the schema says is what the app answers: a body that does not validate is a 400 in that shape.
    client = serve(AdGenesisIngress.__new__(AdGenesisIngress))
    answer = client.post("/v1/designs", json={"platform": "instagram"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_parameter", answer.text

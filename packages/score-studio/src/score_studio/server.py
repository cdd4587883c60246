"""The studio's HTTP side: a Starlette app serving one plain HTML page, a JSON API and server-sent events.

Clients name uploads and takes by id only; files are served only from the studio's work folder; uploads are
capped in size while they stream in and kept only when PyAV can decode a video frame from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from score_core.errors import PluginError, ScoreError
from score_core.registry import Registry
from score_studio.jobs import (
    FINISHED,
    JobQueue,
    QueueFull,
    StudioSettings,
    TakeRequest,
    Workspace,
    check_id,
    display_name,
    new_id,
)
from score_studio.takes import take_settings

STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}
WEIGHT_FIELDS = ("vision_weights", "music_weights", "bridge_weights")
MEDIA_TYPES = {".mid": "audio/midi", ".wav": "audio/wav", ".mp4": "video/mp4", ".json": "application/json",
               ".png": "image/png", ".zip": "application/zip"}


class Refusal(Exception):
    """A request the studio will not serve: an HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(settings: StudioSettings, registry: Registry, start_worker: bool = True) -> Starlette:
    """The studio application over ``settings.work``, scoring with the plugins in ``registry``."""
    workspace = Workspace(settings.work)
    jobs = JobQueue(workspace, registry, settings)
    page = resources.files("score_studio").joinpath("static/index.html").read_text()

    async def index(request: Request) -> Response:
        return Response(page, media_type="text/html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            raise Refusal(404, f"{display_name(name)}: no such file")
        text = resources.files("score_studio").joinpath(f"static/{name}").read_text()
        return Response(text, media_type=STATIC_FILES[name])

    async def plugins(request: Request) -> Response:
        return JSONResponse(catalogue(registry, settings))

    async def upload(request: Request) -> Response:
        _same_origin(request)
        name = display_name(unquote(request.headers.get("x-filename", "video")))
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes:
            raise Refusal(413, f"{name}: larger than the studio's upload limit of {_size(settings.max_upload_bytes)}")
        upload_id = new_id()
        folder = workspace.upload_dir(upload_id)
        folder.mkdir()
        target = folder / "video"
        try:
            await _receive(request, target, settings.max_upload_bytes, name)
            description = await asyncio.to_thread(_probe_upload, target, name)
        except BaseException:
            _remove_tree(folder)
            raise
        description["id"] = upload_id
        (folder / "upload.json").write_text(json.dumps(description))
        return JSONResponse(description, status_code=201)

    async def submit(request: Request) -> Response:
        take = _take_request(await _json_body(request), registry, workspace, settings)
        return JSONResponse(jobs.submit(take), status_code=202)

    async def list_takes(request: Request) -> Response:
        return JSONResponse(jobs.states())

    async def take(request: Request) -> Response:
        return JSONResponse(jobs.state(request.path_params["take"]))

    async def delete_take(request: Request) -> Response:
        _same_origin(request)
        take_id = request.path_params["take"]
        try:
            jobs.delete(take_id)
        except ScoreError as error:
            if "is running" in error.cause:
                raise Refusal(409, str(error)) from None
            raise
        return Response(status_code=204)

    async def cancel_take(request: Request) -> Response:
        _same_origin(request)
        return JSONResponse(jobs.cancel(request.path_params["take"]))

    async def rename_take(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or set(body) != {"name"}:
            raise Refusal(400, 'request: expected {"name": "..."}')
        return JSONResponse(jobs.rename(request.path_params["take"], body["name"]))

    async def events(request: Request) -> Response:
        take_id = request.path_params["take"]
        jobs.state(take_id)  # refuses unknown or malformed ids before the stream starts
        return StreamingResponse(_event_stream(jobs, take_id, request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    async def download(request: Request) -> Response:
        take_id, output = request.path_params["take"], request.path_params["output"]
        path = workspace.file_of_take(take_id, output)
        state = jobs.state(take_id)
        original = Path(workspace.upload(state["request"]["upload"])["name"]).stem
        suffix = ".stems.zip" if output == "stems" else path.suffix
        filename = f"{original}-take{state['take']}-{state['request']['seed']}{suffix}"
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                            filename=filename, content_disposition_type="inline")

    routes = [
        Route("/", index),
        Route("/static/{name:path}", static),
        Route("/api/plugins", plugins),
        Route("/api/uploads", upload, methods=["POST"]),
        Route("/api/takes", list_takes),
        Route("/api/takes", submit, methods=["POST"]),
        Route("/api/takes/{take:path}/events", events),
        Route("/api/takes/{take:path}/cancel", cancel_take, methods=["POST"]),
        Route("/api/takes/{take:path}/files/{output:path}", download),
        Route("/api/takes/{take:path}", take),
        Route("/api/takes/{take:path}", delete_take, methods=["DELETE"]),
        Route("/api/takes/{take:path}", rename_take, methods=["PATCH"]),
    ]

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, Refusal)
        return _error(error.status, error.message)

    async def user_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ScoreError)
        status = 429 if isinstance(error, QueueFull) else 404 if "no such" in error.cause else 400
        return _error(status, str(error))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if start_worker:
            jobs.start()
        try:
            yield
        finally:
            jobs.stop()

    app = Starlette(routes=routes, exception_handlers={Refusal: refused, ScoreError: user_error}, lifespan=lifespan)
    app.state.jobs = jobs
    app.state.workspace = workspace
    return app


def _default_or_none(registry: Registry, kind: str) -> str | None:
    """`score run`'s choice of encoder or decoder, the page's first choice (None with none installed)."""
    from score_cli.app import default_stage

    try:
        return default_stage(registry, kind)
    except ScoreError:
        return None


def catalogue(registry: Registry, settings: StudioSettings) -> dict[str, Any]:
    """What the page offers: installed encoders, decoders and bridges, read from the registry; those that cannot
    run here without the user's own weights are listed apart with the reason (and offered only when the studio
    allows local weights)."""

    def origin(catalogue: Any, name: str) -> str:
        return catalogue.owner(name).distribution

    encoders, decoders = registry.encoders.all(), registry.decoders.all()
    reasons = {("encoder", r.name): _unusable(r) for r in encoders} | {("decoder", r.name): _unusable(r)
                                                                          for r in decoders}
    return {
        "encoders": [
            {"name": r.name, "description": r.description, "features": r.spec.feature_size,
             "plugin": origin(registry.encoders, r.name), "fps": r.default_fps}
            for r in encoders if reasons["encoder", r.name] is None or settings.allow_local_weights
        ],
        "decoders": [
            {"name": r.name, "description": r.description, "latent": r.latent_spec.size,
             "plugin": origin(registry.decoders, r.name)}
            for r in decoders if reasons["decoder", r.name] is None or settings.allow_local_weights
        ],
        "unavailable": [{"kind": kind, "name": name, "reason": reason}
                        for (kind, name), reason in reasons.items() if reason is not None],
        "bridges": [{"name": r.name, "description": r.description} for r in registry.bridges.all()],
        "writers": [r.name for r in registry.writers.all()],
        "defaults": {kind: _default_or_none(registry, kind) for kind in ("vision", "music")},
        "allow_local_weights": settings.allow_local_weights,
        "max_upload_bytes": settings.max_upload_bytes,
    }


async def _json_body(request: Request) -> Any:
    """The JSON body of a state-changing request from this page (another site's is refused)."""
    _same_origin(request)
    try:
        return await request.json()
    except ValueError:
        raise Refusal(400, "request: the body is not JSON") from None


def _unusable(registration: Any) -> str | None:
    """Why a plugin cannot run here with its default weights; a check that fails is a reason too."""
    check = getattr(registration, "unavailable", None)
    if check is None:
        return None
    try:
        reason = check()
    except Exception as error:  # one plugin's broken check must not take the page down
        return f"its availability check failed ({type(error).__name__})"
    return None if reason is None else str(reason)


async def _receive(request: Request, target: Path, limit: int, name: str) -> None:
    received = 0
    with target.open("wb") as sink:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise Refusal(413, f"{name}: larger than the studio's upload limit of {_size(limit)}")
            sink.write(chunk)
    if received == 0:
        raise Refusal(400, f"{name}: the upload is empty")


def _probe_upload(path: Path, name: str) -> dict[str, Any]:
    """Describe an uploaded file by decoding it; anything PyAV cannot read as a video is refused."""
    from score_core.media import probe

    try:
        info = probe(path)
    except ScoreError as error:
        cause = error.cause if error.cause.startswith("not a video") else f"not a video ({error.cause})"
        raise Refusal(415, f"{name}: {cause}") from None
    formats = _format_names(path)
    if formats == "image2" or formats.endswith("_pipe"):
        raise Refusal(415, f"{name}: a still image ({info.codec}), not a video")
    suffix = ".mp4" if "mp4" in formats else ".mkv" if "matroska" in formats else ".video"
    final = path.with_name(f"video{suffix}")
    os.replace(path, final)
    return {"name": name, "file": final.name, "duration": info.duration, "width": info.width,
            "height": info.height, "frame_rate": info.frame_rate, "codec": info.codec}


def _format_names(path: Path) -> str:
    import av

    with av.open(str(path)) as container:
        return str(container.format.name)


def _take_request(body: Any, registry: Registry, workspace: Workspace, settings: StudioSettings) -> TakeRequest:
    if not isinstance(body, dict):
        raise Refusal(400, "request: expected a JSON object")
    known = set(TakeRequest.__dataclass_fields__)
    unknown = sorted(set(body) - known)
    if unknown:
        raise Refusal(400, f"request: unknown field {unknown[0][:40]}")
    upload_id = body.get("upload")
    if not isinstance(upload_id, str):
        raise Refusal(400, "upload: missing")
    check_id(upload_id, "upload")
    workspace.upload(upload_id)  # refuses an unknown upload
    for field in WEIGHT_FIELDS:
        value = body.get(field)
        if value in (None, ""):
            body[field] = None
            continue
        if not settings.allow_local_weights:
            raise Refusal(403, f"{field}: local weights are off; start the studio with --allow-local-weights")
        if not isinstance(value, str) or not Path(value).is_absolute() or not Path(value).is_file():
            raise Refusal(400, f"{field}: not an absolute path to an existing file")
    for field, catalogue_ in (("vision", registry.encoders), ("music", registry.decoders),
                              ("bridge", registry.bridges)):
        value = body.get(field, "pca" if field == "bridge" else None)
        if not isinstance(value, str):
            raise Refusal(400, f"{field}: missing")
        try:
            body[field] = catalogue_.get(value).name
        except PluginError as error:
            raise Refusal(400, str(error)) from None
    numbers = {"seed": (int, -(2**31), 2**31 - 1), "temperature": (float, 0.0, 5.0),
               "tempo_bpm": (float, 20.0, 400.0), "fps": (float, 0.01, 30.0)}
    for field, (kind, low, high) in numbers.items():
        value = body.get(field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise Refusal(400, f"{field}: not a number")
        if kind is int and value != int(value):
            raise Refusal(400, f"{field}: not a whole number")
        if not low <= value <= high:
            raise Refusal(400, f"{field}: {value} is outside {low:g}..{high:g}")
        body[field] = kind(value)
    cuts = body.get("cuts")
    if cuts is not None:
        if not isinstance(cuts, list) or len(cuts) > 10_000 or not all(
                isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) and t >= 0 for t in cuts):
            raise Refusal(400, "cuts: expected a list of times in seconds")
        body["cuts"] = sorted({round(float(t), 3) for t in cuts})
    locks = body.get("locks")
    if locks is not None:
        def whole(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31

        if not isinstance(locks, list) or len(locks) > 10_000 or not all(
                isinstance(p, list) and len(p) == 2 and whole(p[0]) and p[0] >= 0 and whole(p[1]) for p in locks):
            raise Refusal(400, "locks: expected a list of [shot, seed] pairs")
    for field in ("key", "harmony", "programs"):
        if body.get(field) is not None and (not isinstance(body[field], str) or len(body[field]) > 200):
            raise Refusal(400, f"{field}: not a short text")
    take = TakeRequest(**body)
    try:  # the same validation as `score run`, before the take queues
        take_settings(registry, take)
    except ScoreError as error:
        raise Refusal(400, str(error)) from None
    return take


async def _event_stream(jobs: JobQueue, take_id: str, request: Request) -> AsyncIterator[bytes]:
    """Server-sent events: the take's state each time it changes, until it is done or failed."""
    version = -1
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        state = jobs.state(take_id)
        if state["version"] != version:
            version = state["version"]
            yield f"data: {json.dumps(state)}\n\n".encode()
        if state["status"] in FINISHED or await request.is_disconnected():
            return
        await asyncio.sleep(0.15)


def _same_origin(request: Request) -> None:
    """Refuse a state-changing request another web site's page sent through the user's browser."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Refusal(403, f"request: refused from another site ({origin[:60]})")


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:g} MB" if count >= 1024 * 1024 else f"{count} bytes"


def _remove_tree(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()

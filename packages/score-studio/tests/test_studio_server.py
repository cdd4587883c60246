"""The studio's server through its HTTP API: takes run and every refusal holds."""

from __future__ import annotations

import io
import itertools
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import mido
import pytest
from starlette.testclient import TestClient

from score_cli.app import default_stage
from score_core import hookimpl
from score_core.contracts import LatentSpec
from score_core.media.synthetic import write_audio_only, write_test_video
from score_core.registrations import DecoderRegistration
from score_core.registry import Registry, load_registry
from score_core.testing import run_score
from score_studio.jobs import StudioSettings
from score_studio.server import create_app

LIGHT = {"vision": "color-stats", "music": "arpeggio"}


def _client(work: Path, registry: Registry, start_worker: bool = True, **settings: Any) -> TestClient:
    return TestClient(create_app(StudioSettings(work=work, **settings), registry, start_worker=start_worker))


@pytest.fixture
def studio(tmp_path: Path, light_registry: Registry) -> Iterator[TestClient]:
    with _client(tmp_path / "work", light_registry) as client:
        yield client


def _upload(client: TestClient, path: Path, name: str | None = None) -> Any:
    return client.post("/api/uploads", content=path.read_bytes(), headers={"X-Filename": name or path.name})


def _wait(client: TestClient, take_id: str) -> dict[str, Any]:
    """The take's final state, read from its server-sent events."""
    states = []
    with client.stream("GET", f"/api/takes/{take_id}/events") as events:
        for line in events.iter_lines():
            if line.startswith("data: "):
                states.append(json.loads(line[6:]))
    assert states[-1]["status"] in ("done", "failed")
    return {**states[-1], "seen": states}


def test_page_lists_the_installed_plugins(studio: TestClient) -> None:
    plugins = studio.get("/api/plugins").json()
    encoders = {e["name"]: e["plugin"] for e in plugins["encoders"]}
    assert encoders["color-stats"] == "score-plugin-example"
    assert "arpeggio" in {d["name"] for d in plugins["decoders"]}
    assert "pca" in {b["name"] for b in plugins["bridges"]}
    assert studio.get("/").text.count("<select") == 3
    assert plugins["defaults"] == {"vision": "color-stats", "music": "arpeggio"}  # the only ones installed here


def test_the_page_starts_on_score_runs_own_choices(tmp_path: Path) -> None:
    registry = load_registry()
    with _client(tmp_path / "work", registry, start_worker=False) as client:
        defaults = client.get("/api/plugins").json()["defaults"]
    assert defaults == {"vision": default_stage(registry, "vision"), "music": default_stage(registry, "music")}
    if "band" in {d.name for d in registry.decoders.all()}:
        assert defaults["music"] == "band"


def test_a_take_runs_with_progress_and_its_files_download(studio: TestClient, clip: Path) -> None:
    upload = _upload(studio, clip)
    assert upload.status_code == 201, upload.text
    assert upload.json()["duration"] == pytest.approx(4.5, abs=0.1)
    take = studio.post("/api/takes", json={"upload": upload.json()["id"], **LIGHT, "seed": 3})
    assert take.status_code == 202, take.text
    state = _wait(studio, take.json()["id"])
    assert state["status"] == "done", state["error"]
    stages = {s["stage"] for s in state["seen"]}
    assert stages - {"queued", "starting", "loading models", "timeline", "done"}  # the pipeline's own stages
    progress = [s["progress"] for s in state["seen"]]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert any(0.05 < p < 0.95 for p in progress)
    assert any(s.get("eta_seconds") is not None for s in state["seen"] if s["status"] == "running")  # an ETA
    assert {"midi", "audio", "video", "sidecar", "studio-timeline"} <= set(state["outputs"])

    midi = studio.get(f"/api/takes/{state['id']}/files/midi")
    assert midi.headers["content-type"] == "audio/midi"
    assert "clip-take1-3.mid" in midi.headers["content-disposition"]  # VIDEO-takeN-SEED
    notes = [m for track in mido.MidiFile(file=io.BytesIO(midi.content)).tracks for m in track if m.type == "note_on"]
    assert len(notes) == state["figures"]["notes"] > 0
    video = studio.get(f"/api/takes/{state['id']}/files/video")
    with av.open(io.BytesIO(video.content)) as container:
        assert container.streams.video and container.streams.audio
    timeline = studio.get(f"/api/takes/{state['id']}/files/studio-timeline").json()
    assert timeline["cuts"] == [pytest.approx(2.0, abs=0.3)]
    assert len(timeline["notes"]) == state["figures"]["notes"]
    assert timeline["bars"] and timeline["bars"][0] == 0.0 and len(timeline["beats"]) >= 2 * len(timeline["bars"])


def test_takes_survive_a_restart(tmp_path: Path, light_registry: Registry, clip: Path) -> None:
    with _client(tmp_path, light_registry) as first:
        upload = _upload(first, clip).json()["id"]
        done = _wait(first, first.post("/api/takes", json={"upload": upload, **LIGHT}).json()["id"])
    with _client(tmp_path, light_registry) as second:
        listed = second.get("/api/takes").json()
        assert [t["id"] for t in listed] == [done["id"]] and listed[0]["status"] == "done"
        assert second.get(f"/api/takes/{done['id']}/files/midi").status_code == 200


def test_oversized_uploads_are_refused_and_nothing_is_kept(tmp_path: Path, light_registry: Registry,
                                                           clip: Path) -> None:
    limit = clip.stat().st_size - 1
    with _client(tmp_path, light_registry, max_upload_bytes=limit) as client:
        declared = _upload(client, clip)
        assert declared.status_code == 413
        assert declared.json()["error"].startswith("clip.mp4: larger than the studio's upload limit")

        def chunks() -> Iterator[bytes]:  # no Content-Length: the cap must hold while the body streams in
            data = clip.read_bytes()
            for start in range(0, len(data), 4096):
                yield data[start:start + 4096]

        streamed = client.post("/api/uploads", content=chunks(), headers={"X-Filename": "clip.mp4"})
        assert streamed.status_code == 413
    assert list((tmp_path / "uploads").iterdir()) == []


def test_non_video_uploads_are_refused_with_one_line(studio: TestClient, tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    sound = write_audio_only(tmp_path / "sound.m4a", duration=5.0)
    for path in (text, sound):
        answer = _upload(studio, path)
        assert answer.status_code == 415
        message = answer.json()["error"]
        assert message.startswith(f"{path.name}: not a video") and "\n" not in message
    assert list((Path(studio.app.state.workspace.root) / "uploads").iterdir()) == []


def test_traversal_is_refused_in_every_path_like_parameter(studio: TestClient, clip: Path, tmp_path: Path) -> None:
    root = Path(studio.app.state.workspace.root)
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    upload = _upload(studio, clip, name="../../../../tmp/evil.mp4")
    assert upload.status_code == 201
    assert upload.json()["name"] == "evil.mp4"
    assert sorted(p.name for p in (root / "uploads" / upload.json()["id"]).iterdir()) == ["upload.json", "video.mp4"]
    take_id = _wait(studio, studio.post("/api/takes", json={"upload": upload.json()["id"], **LIGHT}).json()["id"])["id"]

    attempts = [
        "/api/takes/..%2F..%2Fuploads",
        f"/api/takes/..%2F{take_id}",
        f"/api/takes/{take_id}/files/..%2Fjob.json",
        f"/api/takes/{take_id}/files/..%2F..%2F..%2F{secret}",
        f"/api/takes/%2E%2E%2Ftakes%2F{take_id}/files/midi",
        f"/api/takes/{take_id}/events/..%2F..",
        "/static/..%2Fserver.py",
        "/static/%2Fetc%2Fpasswd",
    ]
    for url in attempts:
        answer = studio.get(url)
        assert answer.status_code in (400, 404), url
        assert "outside" not in answer.text and "score_studio" not in answer.text
    for upload_id in ("../uploads", "..%2F..", str(root)):
        answer = studio.post("/api/takes", json={"upload": upload_id, **LIGHT})
        assert answer.status_code == 400 and "is not an id" in answer.json()["error"]
    weights = studio.post("/api/takes", json={"upload": upload.json()["id"], **LIGHT, "music_weights": str(secret)})
    assert weights.status_code == 403 and "--allow-local-weights" in weights.json()["error"]

    # a take whose record was tampered with still serves nothing from outside the work folder
    record = root / "takes" / take_id / "job.json"
    state = json.loads(record.read_text())
    state["outputs"]["midi"] = f"../../../../../..{secret}"
    record.write_text(json.dumps(state))
    answer = studio.get(f"/api/takes/{take_id}/files/midi")
    assert answer.status_code == 400 and "outside the studio's work folder" in answer.json()["error"]


def test_requests_from_another_site_are_refused(studio: TestClient, clip: Path) -> None:
    upload = studio.post("/api/uploads", content=clip.read_bytes(), headers={"Origin": "http://evil.example"})
    assert upload.status_code == 403 and "refused from another site" in upload.json()["error"]
    own = _upload(studio, clip).json()["id"]
    take = studio.post("/api/takes", json={"upload": own, **LIGHT}, headers={"Origin": "http://evil.example"})
    assert take.status_code == 403
    assert studio.get("/api/takes").json() == []


def test_local_weights_need_the_flag_and_an_existing_file(tmp_path: Path, light_registry: Registry,
                                                          clip: Path) -> None:
    with _client(tmp_path, light_registry, allow_local_weights=True) as client:
        upload = _upload(client, clip).json()["id"]
        missing = client.post("/api/takes", json={"upload": upload, **LIGHT, "vision_weights": "relative.pt"})
        assert missing.status_code == 400 and "absolute path to an existing file" in missing.json()["error"]


def test_concurrent_submissions_queue_and_run_one_at_a_time(studio: TestClient, clip: Path) -> None:
    upload = _upload(studio, clip).json()["id"]
    answers: list[Any] = []

    def submit(seed: int) -> None:
        answers.append(studio.post("/api/takes", json={"upload": upload, **LIGHT, "seed": seed}))

    threads = [threading.Thread(target=submit, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [202] * 3
    states = [_wait(studio, a.json()["id"]) for a in answers]
    assert all(s["status"] == "done" for s in states)
    assert sorted(s["take"] for s in states) == [1, 2, 3]
    spans = sorted((s["started"], s["finished"]) for s in states)
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))


def test_a_full_queue_refuses_more(tmp_path: Path, light_registry: Registry, clip: Path) -> None:
    with _client(tmp_path, light_registry, start_worker=False, max_queued=1) as client:
        upload = _upload(client, clip).json()["id"]
        assert client.post("/api/takes", json={"upload": upload, **LIGHT}).status_code == 202
        refused = client.post("/api/takes", json={"upload": upload, **LIGHT, "seed": 1})
        assert refused.status_code == 429 and "already waiting" in refused.json()["error"]


class _Exploding:
    latent_spec = LatentSpec(size=8, bars_per_segment=2)

    def decode(self, latents: Any, *, temperature: float, seed: int) -> Any:
        raise RuntimeError("the decoder broke half-way")

    def provenance(self) -> dict[str, Any]:
        return {}


def test_a_plugin_failing_mid_run_fails_the_take_with_one_line(tmp_path: Path, clip: Path) -> None:
    plugin = SimpleNamespace(
        register_decoders=hookimpl(lambda register: register(DecoderRegistration(
            name="exploding", description="fails while decoding", latent_spec=_Exploding.latent_spec,
            factory=lambda weights: _Exploding())))
    )
    registry = load_registry(pinned="example", extra_plugins=[("exploding-plugin", plugin)])
    with _client(tmp_path, registry) as client:
        upload = _upload(client, clip).json()["id"]
        failed = _wait(client, client.post("/api/takes", json={"upload": upload, "vision": "color-stats",
                                                               "music": "exploding"}).json()["id"])
        assert failed["status"] == "failed"
        assert failed["error"].startswith("decoder 'exploding': failed while decoding: RuntimeError(")
        assert "\n" not in failed["error"]
        assert [p.name for p in (tmp_path / "takes" / failed["id"]).iterdir()] == ["job.json"]
        done = _wait(client, client.post("/api/takes", json={"upload": upload, **LIGHT}).json()["id"])
        assert done["status"] == "done"


def test_a_busy_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_score("studio", "--port", str(port), "--work", tmp_path, env={"SCORE_PLUGINS": "example,studio"},
                         timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"score: error: --port {port}: cannot listen on 127.0.0.1 "
                                                 "(Address already in use)"]


def test_a_take_is_the_music_score_run_writes_for_the_same_settings(studio: TestClient, clip: Path,
                                                                    tmp_path: Path) -> None:
    from score_cli.app import main
    from score_core.midi import read_midi

    upload = _upload(studio, clip).json()["id"]
    state = _wait(studio, studio.post("/api/takes", json={"upload": upload, **LIGHT, "seed": 5}).json()["id"])
    assert state["status"] == "done", state["error"]
    take = tmp_path / "take.mid"
    take.write_bytes(studio.get(f"/api/takes/{state['id']}/files/midi").content)
    assert main(["run", str(clip), "--vision", "color-stats", "--music", "arpeggio", "--seed", "5", "--no-audio",
                 "-o", str(tmp_path / "cli")]) == 0
    cli = read_midi(tmp_path / "cli" / f"{clip.stem}.mid")
    studio_score = read_midi(take)
    assert studio_score.notes == cli.notes and studio_score.markers == cli.markers
    assert any(n.program == 48 for n in cli.notes)  # score run's defaults reach the take: here, its chords


def test_a_still_image_is_refused_as_a_video(studio: TestClient, tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    picture = tmp_path / "poster.png"
    Image.fromarray(np.zeros((32, 48, 3), dtype=np.uint8)).save(picture)
    answer = _upload(studio, picture)
    assert answer.status_code == 415
    assert answer.json()["error"] == "poster.png: a still image (png), not a video"
    assert list((Path(studio.app.state.workspace.root) / "uploads").iterdir()) == []


def test_an_mpeg4_part2_take_gets_an_h264_preview_and_keeps_the_original(studio: TestClient, clip: Path,
                                                                         tmp_path: Path) -> None:
    archive = write_test_video(tmp_path / "archive.mp4", duration=4.5, cuts=(2.0,), codec="mpeg4")
    upload = _upload(studio, archive).json()
    assert upload["codec"] == "mpeg4"
    state = _wait(studio, studio.post("/api/takes", json={"upload": upload["id"], **LIGHT}).json()["id"])
    assert state["status"] == "done", state["error"]
    codecs = {}
    for output in ("video", "preview"):
        data = studio.get(f"/api/takes/{state['id']}/files/{output}").content
        with av.open(io.BytesIO(data)) as container:
            codecs[output] = container.streams.video[0].codec_context.name
            assert container.streams.audio
    assert codecs == {"video": "mpeg4", "preview": "h264"}
    plain = _upload(studio, clip).json()["id"]
    h264 = _wait(studio, studio.post("/api/takes", json={"upload": plain, **LIGHT}).json()["id"])
    assert h264["status"] == "done" and "preview" not in h264["outputs"]  # browsers play it as it is


def test_a_fixed_tempo_on_a_short_clip_is_scored_as_score_run_scores_it(studio: TestClient, clip: Path) -> None:
    upload = _upload(studio, clip).json()["id"]
    answer = studio.post("/api/takes", json={"upload": upload, **LIGHT, "tempo_bpm": 100})
    assert answer.status_code == 202, answer.text
    state = _wait(studio, answer.json()["id"])
    assert state["status"] == "done", state["error"]
    assert state["figures"]["tempo_bpm"] == pytest.approx(100, abs=5)


def test_takes_are_numbered_per_video_renamed_deleted_and_a_double_submit_is_one_take(
        tmp_path: Path, light_registry: Registry, clip: Path) -> None:
    with _client(tmp_path / "work", light_registry, start_worker=False) as client:
        first, again = (_upload(client, clip).json()["id"] for _ in range(2))  # the same video uploaded twice
        request = {"upload": first, **LIGHT, "seed": 4}
        one = client.post("/api/takes", json=request).json()
        assert client.post("/api/takes", json=request).json()["id"] == one["id"]  # a double click
        two = client.post("/api/takes", json={**request, "upload": again}).json()
        assert (one["video"], one["take"], two["take"]) == ("clip.mp4", 1, 2)  # numbering goes on across uploads

        renamed = client.patch(f"/api/takes/{two['id']}", json={"name": "  dusk\nversion "})
        assert renamed.status_code == 200 and renamed.json()["name"] == "dusk version"
        assert client.patch(f"/api/takes/{two['id']}", json={"name": ""}).status_code == 400
        assert client.patch(f"/api/takes/{two['id']}", json={"title": "x"}).status_code == 400

        folder = Path(client.app.state.workspace.root) / "takes" / one["id"]
        assert folder.is_dir()
        assert client.delete(f"/api/takes/{one['id']}").status_code == 204
        assert not folder.exists()
        assert client.get(f"/api/takes/{one['id']}").status_code == 404
        assert [s["id"] for s in client.get("/api/takes").json()] == [two["id"]]
        assert client.delete(f"/api/takes/{one['id']}").status_code == 404
        assert client.delete(f"/api/takes/{two['id']}", headers={"Origin": "http://evil.example"}).status_code == 403


def test_deleting_a_finished_take_removes_its_files(studio: TestClient, clip: Path) -> None:
    upload = _upload(studio, clip).json()["id"]
    take = studio.post("/api/takes", json={"upload": upload, **LIGHT}).json()
    state = _wait(studio, take["id"])
    assert state["status"] == "done"
    folder = Path(studio.app.state.workspace.root) / "takes" / take["id"]
    assert (folder / state["outputs"]["midi"]).is_file()
    assert studio.delete(f"/api/takes/{take['id']}").status_code == 204
    assert not folder.exists()
    assert studio.get(f"/api/takes/{take['id']}/files/midi").status_code == 404


def test_key_and_harmony_are_score_runs_options_with_its_validation(studio: TestClient, clip: Path) -> None:
    from score_core.midi import read_midi

    upload = _upload(studio, clip).json()["id"]
    bad = studio.post("/api/takes", json={"upload": upload, **LIGHT, "key": "H major"})
    assert bad.status_code == 400 and "--key" in bad.json()["error"] and "\n" not in bad.json()["error"]
    assert studio.post("/api/takes", json={"upload": upload, **LIGHT, "harmony": "jazz"}).status_code == 400
    state = _wait(studio, studio.post("/api/takes", json={"upload": upload, **LIGHT, "key": "D minor",
                                                          "harmony": "none"}).json()["id"])
    assert state["status"] == "done", state["error"]
    sidecar = studio.get(f"/api/takes/{state['id']}/files/sidecar").json()
    assert sidecar["parameters"]["key"] == "D minor" and sidecar["parameters"]["harmony"] == "none"
    midi = Path(studio.app.state.workspace.root) / "takes" / state["id"] / state["outputs"]["midi"]
    notes = read_midi(midi).notes
    assert notes and not any(n.program == 48 for n in notes)
    assert all(n.pitch % 12 in {2, 4, 5, 7, 9, 10, 0} for n in notes if not n.is_drum)  # D natural minor


def test_a_queued_take_cancelled_never_runs(tmp_path: Path, light_registry: Registry, clip: Path) -> None:
    with _client(tmp_path / "work", light_registry, start_worker=False) as client:
        upload = _upload(client, clip).json()["id"]
        take = client.post("/api/takes", json={"upload": upload, **LIGHT}).json()
        cancelled = client.post(f"/api/takes/{take['id']}/cancel").json()
        assert (cancelled["status"], cancelled["error"]) == ("failed", "take: cancelled")
        client.app.state.jobs._run(take["id"])  # what the worker would do next: nothing
        assert client.get(f"/api/takes/{take['id']}").json()["stage"] == "cancelled"


def test_a_running_take_stops_when_cancelled_and_leaves_no_files(studio: TestClient, tmp_path: Path) -> None:
    long = write_test_video(tmp_path / "long.mp4", duration=90.0, cuts=(30.0, 60.0))
    upload = _upload(studio, long).json()["id"]
    take = studio.post("/api/takes", json={"upload": upload, **LIGHT}).json()
    states = []
    with studio.stream("GET", f"/api/takes/{take['id']}/events") as events:
        for line in events.iter_lines():
            if not line.startswith("data: "):
                continue
            states.append(json.loads(line[6:]))
            if states[-1]["stage"].startswith("encode") and len(states) < 100:
                studio.post(f"/api/takes/{take['id']}/cancel")
    final = states[-1]
    assert final["status"] == "failed" and final["error"] == "take: cancelled", final
    assert any(s["stage"].startswith("encode: frames to") for s in states)
    folder = Path(studio.app.state.workspace.root) / "takes" / take["id"]
    assert [p.name for p in folder.iterdir()] == ["job.json"]


def test_plugins_that_cannot_run_here_are_listed_apart_with_the_reason(tmp_path: Path) -> None:
    pytest.importorskip("score_vision", reason="the image encoders are in score-vision (full install)")
    from score_core.registry import default_registry
    from score_studio.server import catalogue

    registry = default_registry()
    offered = catalogue(registry, StudioSettings(work=tmp_path))
    names = {e["name"] for e in offered["encoders"]}
    apart = {p["name"]: p["reason"] for p in offered["unavailable"]}
    assert "efficientnet-lite0" in names and "pixelvae" not in names  # shipped weights vs weights you train
    assert "score vision train-pixelvae" in apart["pixelvae"]
    assert "import-magenta" in apart["musicvae-trio"]
    assert "musicvae-trio" not in {d["name"] for d in offered["decoders"]}
    everything = catalogue(registry, StudioSettings(work=tmp_path, allow_local_weights=True))
    assert "pixelvae" in {e["name"] for e in everything["encoders"]}


def test_cuts_edited_on_the_page_are_the_shots_the_take_is_scored_on(studio: TestClient, clip: Path) -> None:
    upload = _upload(studio, clip).json()["id"]
    assert studio.post("/api/takes", json={"upload": upload, **LIGHT, "cuts": ["1"]}).status_code == 400
    assert studio.post("/api/takes", json={"upload": upload, **LIGHT, "cuts": [-1.0]}).status_code == 400
    state = _wait(studio, studio.post("/api/takes", json={"upload": upload, **LIGHT, "cuts": [3.0, 1.0]}).json()["id"])
    assert state["status"] == "done", state["error"]
    timeline = studio.get(f"/api/takes/{state['id']}/files/studio-timeline").json()
    assert timeline["cuts"] == [1.0, 3.0]  # the detector's cut at 2 s was moved to 3 s, one at 1 s added
    sidecar = studio.get(f"/api/takes/{state['id']}/files/sidecar").json()
    assert sidecar["parameters"]["cuts"] == [1.0, 3.0]  # the run can be reproduced


def test_a_locked_shot_keeps_its_notes_in_the_next_take(studio: TestClient, clip: Path) -> None:
    from score_core.midi import read_midi

    upload = _upload(studio, clip).json()["id"]
    assert studio.post("/api/takes", json={"upload": upload, **LIGHT, "locks": [[0]]}).status_code == 400
    assert studio.post("/api/takes", json={"upload": upload, **LIGHT, "locks": [[-1, 2]]}).status_code == 400

    def shot_notes(state: dict[str, Any]) -> list[list[tuple]]:
        midi = Path(studio.app.state.workspace.root) / "takes" / state["id"] / state["outputs"]["midi"]
        cut = next(m.time for m in read_midi(midi).markers if m.text == "cut")
        notes = sorted((n.start, n.end, n.pitch, n.velocity) for n in read_midi(midi).notes)
        return [[n for n in notes if n[0] < cut], [n for n in notes if n[0] >= cut]]

    first = _wait(studio, studio.post("/api/takes", json={"upload": upload, **LIGHT, "seed": 3}).json()["id"])
    locked = _wait(studio, studio.post("/api/takes", json={"upload": upload, **LIGHT, "seed": 4,
                                                           "locks": [[0, 3]]}).json()["id"])
    assert first["status"] == locked["status"] == "done", locked["error"]
    before, after = shot_notes(first), shot_notes(locked)
    assert after[0] == before[0] and after[1] != before[1]  # shot 1 kept seed 3's notes; shot 2 moved on


def test_programs_are_score_runs_with_its_refusals(studio: TestClient, clip: Path) -> None:
    from score_core.midi import read_midi

    upload = _upload(studio, clip).json()["id"]
    bad = studio.post("/api/takes", json={"upload": upload, **LIGHT, "programs": "harmony=300"})
    assert bad.status_code == 400 and "--programs" in bad.json()["error"]
    state = _wait(studio, studio.post("/api/takes", json={"upload": upload, **LIGHT,
                                                          "programs": "harmony=89"}).json()["id"])
    assert state["status"] == "done", state["error"]
    midi = Path(studio.app.state.workspace.root) / "takes" / state["id"] / state["outputs"]["midi"]
    assert {n.program for n in read_midi(midi).notes if not n.is_drum} >= {89}


def test_a_band_take_has_its_stems_as_one_zip(tmp_path: Path, clip: Path) -> None:
    pytest.importorskip("score_music", reason="the band decoder is in score-music (full install)")
    import zipfile

    from score_core.registry import default_registry

    with _client(tmp_path / "work", default_registry()) as client:
        upload = _upload(client, clip).json()["id"]
        state = _wait(client, client.post("/api/takes", json={"upload": upload, "vision": "color-stats",
                                                              "music": "band"}).json()["id"])
        assert state["status"] == "done", state["error"]
        answer = client.get(f"/api/takes/{state['id']}/files/stems")
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
        assert "clip-take1-0.stems.zip" in answer.headers["content-disposition"]
        names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
        assert {"melody", "bass", "drums"} <= {Path(n).stem.split(".")[-1] for n in names}, names

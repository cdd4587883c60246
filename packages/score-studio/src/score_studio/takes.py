"""One take: score an uploaded video with `score_core.pipeline`, then draw what the page's timeline needs."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from score_core.registry import Registry
from score_studio.jobs import TakeRequest, Workspace

StageProgress = Callable[[str, float], None]
THUMBNAILS = 12
THUMBNAIL_SIZE = (54, 96)
CHANGE_POINTS = 400
PREVIEW = "preview.mp4"
"""H.264 copy of a take's video for the page, written when the source's codec is not one browsers play."""


def score_take(
    registry: Registry, workspace: Workspace, request: TakeRequest, folder: Path, progress: StageProgress
) -> tuple[dict[str, str], dict[str, Any]]:
    """Run the pipeline into ``folder``; returns {output name: file name} and the take's figures."""
    from score_core.media.mux import BROWSER_VIDEO_CODECS, mux_audio
    from score_core.pipeline import Pipeline, run

    video = workspace.uploaded_video(request.upload)
    duration = float(workspace.upload(request.upload)["duration"])
    progress("loading models", 0.02)
    choice, options = take_settings(registry, request)
    pipeline = Pipeline(registry, choice)
    fraction = [0.05]

    def report(stage: str, done: float, total: float) -> None:
        if stage == "encode":
            fraction[0] = 0.05 + 0.75 * min(done / duration, 1.0)
            stage = f"encode: frames to {done:.1f} of {duration:.1f} s"
        elif total:
            fraction[0] = max(fraction[0], 0.8 + 0.15 * done / total)
        progress(stage, fraction[0])

    result = run(pipeline, video, folder, options, progress=report)
    outputs = {name: path.name for name, path in result.outputs.items()}
    codec = str(workspace.upload(request.upload).get("codec") or "")
    if "audio" in outputs and "video" in outputs and codec not in BROWSER_VIDEO_CODECS:
        progress("browser preview", 0.95)  # the muxed download keeps the source's codec
        mux_audio(video, folder / outputs["audio"], folder / PREVIEW, browser_playable=True)
        outputs["preview"] = PREVIEW
    progress("timeline", 0.96)
    outputs.update(write_timeline(video, duration, result.score, result.provenance.get("cuts", []), folder))
    figures: dict[str, Any] = {
        "notes": len(result.score.notes),
        "duration": round(result.score.duration, 3),
        "tempo_bpm": result.score.tempo_bpm,
        "cuts": len(result.provenance.get("cuts", [])),
        "audio": (result.writer_notes.get("audio") or {}).get("renderer"),
        "seconds": round(sum(result.timings.values()), 2),
    }
    figures.update(_evaluation_figures(folder, outputs))
    return outputs, figures


def take_settings(registry: Registry, request: TakeRequest) -> tuple[Any, Any]:
    """The StageChoice and RunOptions of `score run` with its defaults (key, scale fit, cut sync, form, chords,
    band stems) and the options the page sets: a take is the music `score run` writes for the same settings."""
    from score_cli.app import run as run_command
    from score_cli.app import run_settings

    values = {name: parameter.default for name, parameter in inspect.signature(run_command).parameters.items()
              if parameter.default is not inspect.Parameter.empty}
    values.update(
        vision=request.vision, music=request.music, bridge=request.bridge, seed=request.seed,
        temperature=request.temperature, tempo=request.tempo_bpm, vision_weights=request.vision_weights,
        music_weights=request.music_weights, bridge_weights=request.bridge_weights, overwrite=True,
        key=request.key, harmony=request.harmony, cuts=request.cuts, lock=request.locks,
        programs=request.programs,
    )
    if request.fps is not None:
        values["fps"] = request.fps
    return run_settings(registry, values)


def _evaluation_figures(folder: Path, outputs: dict[str, str]) -> dict[str, Any]:
    """Numbers an evaluation output (when one is installed) wrote, shown beside the take."""
    found: dict[str, Any] = {}
    for name, file in outputs.items():
        if "evaluat" not in name or not file.endswith(".json"):
            continue
        document = json.loads((folder / file).read_text())
        for key, value in _flat(document):
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[key] = round(float(value), 4)
    return dict(list(found.items())[:16])


def _flat(document: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(document, dict):
        items: list[tuple[str, Any]] = []
        for key, value in document.items():
            items += _flat(value, f"{prefix}{key}.")
        return items
    return [(prefix.rstrip("."), document)]


def write_timeline(video: Path, duration: float, score: Any, cuts: list[float], folder: Path) -> dict[str, str]:
    """Write a thumbnail strip (PNG) and the timeline's data (notes, cuts, visual change, beats and bars, theme
    labels) for the page."""
    from score_core.analysis.tempo import TempoMap
    from score_core.media import FrameReader

    reader = FrameReader(video, fps=THUMBNAILS / duration, size=THUMBNAIL_SIZE, resize="crop", batch_size=THUMBNAILS)
    frames = [batch.frames for batch in reader]
    strip = np.concatenate(list(np.concatenate(frames)[:THUMBNAILS]), axis=1)
    write_png(folder / "thumbnails.png", strip)
    change = reader.visual_change()
    step = max(1, len(change.values) // CHANGE_POINTS)
    data = {
        "duration": duration,
        "cuts": [round(float(t), 3) for t in cuts],
        "change": {
            "times": [round(float(t), 3) for t in change.times[::step]],
            "values": [round(float(v), 4) for v in change.values[::step]],
        },
        "notes": [
            [n.pitch, round(n.start, 3), round(n.end, 3), int(n.is_drum)] for n in sorted(score.notes, key=_onset)
        ],
        "beats": [round(float(t), 3) for t in TempoMap.of_score(score).beat_times(duration)],
        "bars": [round(float(t), 3) for t in TempoMap.of_score(score).bar_times(duration)],
        "themes": [[round(m.time, 3), m.text.removeprefix("theme ")] for m in score.markers
                   if m.text.startswith("theme ")],
    }
    (folder / "timeline.json").write_text(json.dumps(data))
    return {"studio-timeline": "timeline.json", "studio-thumbnails": "thumbnails.png"}


def _onset(note: Any) -> tuple[float, int]:
    return (note.start, note.pitch)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image as PNG with PyAV's encoder."""
    import av

    height, width = rgb.shape[:2]
    with av.open(str(path), "w", format="image2", options={"update": "1"}) as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in (*stream.encode(frame), *stream.encode(None)):
            container.mux(packet)

"""Visual events from real PyAV-written videos: hard cuts, a dissolve counted once, a flash that is no cut;
and the detector against hand-labelled cuts of the shared clips (precision/recall at ±1 frame)."""

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest

from score_core.contracts import Event, EventTrack
from score_core.media import FrameReader, probe
from score_core.media.events import detect_events
from score_core.media.synthetic import render_frame

ROOT = Path(__file__).parents[3]
LABELS = ROOT / "tests" / "data" / "cut_labels.json"
SHARED_VIDEOS = Path(os.environ.get("SCORE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "video"
FPS = 25


def _write(path, duration, picture):
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for index in range(int(duration * FPS)):
            frame = av.VideoFrame.from_ndarray(picture(index / FPS), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _events(path):
    reader = FrameReader(path, fps=2.0, size=(32, 32))
    for _ in reader:
        pass
    signals = reader.frame_signals()
    return detect_events(signals["visual-change"], probe(path).duration, luma=signals["luma"],
                         slow_change=signals["slow-change"], mix_residual=signals["mix-residual"])


def test_hard_cuts_are_found_at_their_frames(tmp_path):
    path = _write(tmp_path / "cuts.mp4", 6.0, lambda t: render_frame(t, cuts=(2.0, 4.0)))
    shots = _events(path).shot_starts
    assert [e.kind for e in shots] == ["cut", "cut"]
    assert [e.time for e in shots] == pytest.approx([2.0, 4.0], abs=0.5 / FPS)


def test_a_dissolve_counts_once(tmp_path):
    def picture(t):
        mix = np.clip((t - 2.5) / 1.0, 0.0, 1.0)  # a one-second dissolve from shot 0 to shot 1
        a, b = render_frame(t).astype(np.float32), render_frame(t, cuts=(0.0,)).astype(np.float32)
        return ((1 - mix) * a + mix * b).astype(np.uint8)

    events = _events(_write(tmp_path / "dissolve.mp4", 6.0, picture))
    assert len(events.shot_starts) == 1
    assert events.shot_starts[0].kind == "fade"
    assert 2.4 <= events.shot_starts[0].time <= 3.6


def test_a_flash_is_an_event_inside_the_shot_not_a_cut(tmp_path):
    def picture(t):
        frame = render_frame(t)
        return np.full_like(frame, 255) if 2.0 <= t < 2.0 + 2 / FPS else frame

    events = _events(_write(tmp_path / "flash.mp4", 5.0, picture))
    assert events.shot_starts == ()
    assert [e.kind for e in events.in_shot if e.kind == "flash"] == ["flash"]


def test_a_still_video_has_no_events(tmp_path):
    events = _events(_write(tmp_path / "still.mp4", 3.0, lambda t: render_frame(0.0)))
    assert events.events == ()


@pytest.mark.skipif(not SHARED_VIDEOS.is_dir(), reason=f"shared clips not found at {SHARED_VIDEOS}")
def test_hand_labelled_cuts_precision_and_recall_at_one_frame():
    labels = json.loads(LABELS.read_text())["clips"]
    hits = found = expected = 0
    for name, label in labels.items():
        path = SHARED_VIDEOS / name
        frame = 1.0 / probe(path).frame_rate
        detected = [e.time for e in _events(path).shot_starts]
        expected += len(label["times"])
        found += len(detected)
        hits += sum(any(abs(d - t) <= frame + 1e-6 for d in detected) for t in label["times"])
    precision = hits / found if found else 1.0
    recall = hits / expected if expected else 1.0
    assert precision == 1.0 and recall == 1.0, (precision, recall)


def _histogram_track(before: list[float], after: list[float], cut: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(0.0, 4.0, 0.04)
    rows = np.array([before if t < cut else after for t in times], dtype=np.float64)
    return times, rows / rows.sum(axis=1, keepdims=True)


def test_a_cut_between_lookalike_shots_and_a_dissolve_are_answered_inside_one_shot():
    from score_core.media.events import answered_events

    events = EventTrack(duration=4.0, events=(Event(time=2.0, strength=1.0, kind="cut"),))
    alike = answered_events(events, *_histogram_track([1, 2, 3, 4], [1, 2, 3, 4.2]))
    assert [e.kind for e in alike.events] == ["motion"] and not alike.shot_starts
    unlike = answered_events(events, *_histogram_track([1, 2, 3, 4], [4, 3, 2, 1]))
    assert unlike.shot_starts == events.shot_starts
    fade = EventTrack(duration=4.0, events=(Event(time=2.0, strength=1.0, kind="fade"),))
    assert [e.kind for e in answered_events(fade, *_histogram_track([1, 2, 3, 4], [4, 3, 2, 1])).events] == ["motion"]
    assert answered_events(events, np.zeros(0), np.zeros((0, 16))) == events

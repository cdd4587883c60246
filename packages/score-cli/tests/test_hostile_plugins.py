"""Badly behaved third-party plugins, installed on disk as pip would leave them: each is reported as failed in
`score plugins`, naming the culprit and the cause, and every other plugin and command keeps working."""

import json
from pathlib import Path

import pytest

from score_cli.app import main
from score_core import registry as registry_module
from score_core.media.synthetic import write_test_video
from score_core.testing import install_fake_plugin

HEADER = """
import sys
from score_core import hookimpl
from score_core.contracts import EncoderSpec, LatentSpec
from score_core.registrations import BridgeRegistration, DecoderRegistration, EncoderRegistration
from score_core.registrations import WriterRegistration

SPEC3 = EncoderSpec(name="x", feature_size=3, input_size=(8, 8))
"""


@pytest.fixture
def site(plugin_site):
    return plugin_site


def _plugins(capsys) -> dict[str, list[dict]]:
    assert main(["plugins", "--json"]) == 0
    rows: dict[str, list[dict]] = {}
    for row in json.loads(capsys.readouterr().out):
        rows.setdefault(row["name"], []).append(row)
    return rows


def _failure(rows: dict[str, list[dict]], name: str) -> dict:
    failed = [row for row in rows[name] if row["status"] == "failed"]
    assert len(failed) == 1, rows[name]
    return failed[0]


def _others_still_work(capsys) -> None:
    assert main(["--help"]) == 0
    assert "plugins" in capsys.readouterr().out
    assert main(["encoders", "--json"]) == 0
    encoders = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert encoders["color-stats"]["plugin"].startswith("score-plugin-example")
    assert main(["decoders", "--json"]) == 0
    assert "arpeggio" in {row["name"] for row in json.loads(capsys.readouterr().out)}


def test_a_name_taken_from_an_installed_plugin_fails_the_newcomer_only(site, capsys):
    install_fake_plugin(site, "copycat", HEADER + """
@hookimpl
def register_encoders(register):
    register(EncoderRegistration("mine", "fine", SPEC3, print))
    register(EncoderRegistration("color-stats", "a clash", SPEC3, print))
""")
    rows = _plugins(capsys)
    reason = _failure(rows, "copycat")["reason"]
    assert "color-stats" in reason and "score-plugin-example" in reason
    assert rows["copycat"][0]["distribution"] == "copycat"
    _others_still_work(capsys)
    assert main(["encoders", "--json"]) == 0
    assert "mine" not in {row["name"] for row in json.loads(capsys.readouterr().out)}  # all or nothing


def test_a_built_in_name_stays_built_in(site, capsys):
    install_fake_plugin(site, "pca-thief", HEADER + """
@hookimpl
def register_bridges(register):
    register(BridgeRegistration("pca-whitening", "steals an alias", print))
""")
    rows = _plugins(capsys)
    assert "score-core" in _failure(rows, "pca_thief")["reason"]
    assert registry_module.default_registry().bridges.owner("pca").distribution == "score-core"


def test_one_entry_point_name_from_two_distributions(site, capsys, monkeypatch):
    source = HEADER + """
@hookimpl
def register_decoders(register):
    register(DecoderRegistration("other-arpeggio", "an impostor", LatentSpec(size=8, bars_per_segment=2), print))
"""
    install_fake_plugin(site, "impostor", source, entry_point="example")
    rows = _plugins(capsys)
    assert [row["status"] for row in rows["example"]] == ["ok", "failed"]
    failed = _failure(rows, "example")
    assert failed["distribution"] == "impostor" and "score-plugin-example" in failed["reason"]
    _others_still_work(capsys)
    monkeypatch.setenv("SCORE_PLUGINS", "impostor")  # the user may still choose it
    registry_module._default = None
    rows = _plugins(capsys)
    assert rows["example"][0]["distribution"] == "impostor"
    assert rows["example"][0]["status"] == "ok"


@pytest.mark.parametrize("statement", ["sys.exit(0)", "raise KeyboardInterrupt", "raise SystemExit('bye')"])
def test_exit_at_import_is_a_failed_plugin_not_obeyed(site, capsys, statement):
    install_fake_plugin(site, "quitter", HEADER + statement + "\n")
    rows = _plugins(capsys)
    reason = _failure(rows, "quitter")["reason"]
    assert reason.split(" ")[0] in {"SystemExit", "KeyboardInterrupt"} and "at import" in reason
    _others_still_work(capsys)


COMMANDS = HEADER + """
import typer

@hookimpl
def register_commands(app):
    @app.command()
    def {name}() -> None:
        print("{name} ran")
"""


def test_a_failing_register_commands_is_named_and_takes_nobody_down(site, capsys):
    install_fake_plugin(site, "aaa-breaks", HEADER + """
@hookimpl
def register_commands(app):
    raise RuntimeError("no commands today")
""")
    install_fake_plugin(site, "zzz-greets", COMMANDS.replace("{name}", "hello"))
    assert main(["hello"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "hello ran\n"
    assert "aaa_breaks" in captured.err and "aaa-breaks" in captured.err and "no commands today" in captured.err
    assert "no commands today" in _failure(_plugins(capsys), "aaa_breaks")["reason"]


def test_a_command_that_shadows_a_built_in_one_is_refused(site, capsys):
    install_fake_plugin(site, "shadow", COMMANDS.replace("{name}", "plugins"))
    rows = _plugins(capsys)
    assert "'plugins'" in _failure(rows, "shadow")["reason"]


def test_specname_and_tryfirst_are_honoured(site, capsys):
    early = HEADER + """
@hookimpl(trylast=True)
def register_encoders(register):
    register(EncoderRegistration("twin", "the first installed", SPEC3, print))
"""
    late = HEADER + """
@hookimpl(specname="register_encoders", tryfirst=True)
def encoders(register):
    register(EncoderRegistration("twin", "installed later", SPEC3.model_copy(update={"feature_size": 4}), print))
"""
    install_fake_plugin(site, "early-twin", early)
    install_fake_plugin(site, "late-twin", late)
    registry = registry_module.default_registry()
    assert registry.encoders.owner("twin").distribution == "late-twin"
    assert "late-twin" in _failure(_plugins(capsys), "early_twin")["reason"]


def test_a_writer_suffix_clash_is_refused_at_registration(site, capsys):
    install_fake_plugin(site, "midi-too", HEADER + """
@hookimpl
def register_writers(register):
    register(WriterRegistration("karaoke", "another .mid", ".mid", print))
""")
    reason = _failure(_plugins(capsys), "midi_too")["reason"]
    assert "'.mid'" in reason and "midi" in reason and "score-core" in reason


def test_registering_something_else_is_a_failed_plugin(site, capsys):
    install_fake_plugin(site, "confused", HEADER + """
@hookimpl
def register_decoders(register):
    register("arpeggio")
""")
    assert "not a DecoderRegistration" in _failure(_plugins(capsys), "confused")["reason"]


QUITTING_ENCODER = HEADER + """
import numpy as np

class Quitter:
    spec = SPEC3
    def encode(self, frames):
        sys.exit(0)
    def provenance(self):
        return {}

class QuittingDecoder:
    latent_spec = LatentSpec(size=8, bars_per_segment=2)
    def decode(self, latents, *, temperature, seed):
        raise SystemExit(0)
    def provenance(self):
        return {}

@hookimpl
def register_encoders(register):
    register(EncoderRegistration("quitter", "exits", Quitter.spec, lambda weights: Quitter()))

@hookimpl
def register_decoders(register):
    register(DecoderRegistration("quitter", "exits", QuittingDecoder.latent_spec, lambda weights: QuittingDecoder()))
"""


def test_system_exit_inside_a_plugin_is_a_one_line_error(site, capsys, tmp_path):
    install_fake_plugin(site, "quitting", QUITTING_ENCODER)
    video = write_test_video(tmp_path / "clip.mp4", duration=5.0)
    out = tmp_path / "out"
    for stages, culprit in ((["--vision", "quitter", "--music", "arpeggio"], "encoder 'quitter'"),
                            (["--vision", "color-stats", "--music", "quitter"], "decoder 'quitter'")):
        assert main(["run", str(video), *stages, "--no-audio", "-o", str(out)]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"score: error: {culprit}: failed while"), lines
        assert not out.exists() or not list(Path(out).iterdir())

"""Every hook is documented in docs/hooks.md with an example, and every example works as a real installed plugin.

The meta-tests read the hook specifications from score_core.hookspecs, so a new hook without a section in the
reference, or without a `test_hook_<name>` here, fails the suite.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from score_cli.app import main
from score_core import hookspecs
from score_core.media.synthetic import write_test_video
from score_core.midi import read_midi
from score_core.testing import install_fake_plugin

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "hooks.md"
RUN = ["--skip", "audio", "--music", "arpeggio", "--vision", "color-stats"]


def hook_names() -> list[str]:
    return sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), f"{hookspecs.PROJECT}_spec"))


def example(hook: str) -> str:
    """The python block of the reference's section for ``hook``."""
    section = REFERENCE.read_text().split(f"\n## {hook}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_every_hook_is_documented_with_an_example():
    assert hook_names() == ["register_bridges", "register_commands", "register_decoders", "register_encoders",
                            "register_writers"]
    for hook in hook_names():
        assert f"def {hook}(" in example(hook), hook


def test_every_hook_has_a_test_through_an_installed_plugin():
    tests = {name for name in globals() if name.startswith("test_hook_")}
    assert tests == {f"test_hook_{hook}" for hook in hook_names()}


@pytest.fixture
def install(plugin_site):
    def installed(hook: str) -> None:
        install_fake_plugin(plugin_site, f"docs-{hook.replace('_', '-')}", example(hook))

    return installed


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_test_video(tmp_path_factory.mktemp("hooks") / "clip.mp4", duration=5.0, cuts=(2.5,))


def _run(clip: Path, out: Path, *args: str) -> dict:
    assert main(["run", str(clip), *RUN, "-o", str(out), *args]) == 0
    return json.loads((out / "clip.json").read_text())


def _assert_loaded(capsys, hook: str) -> None:
    assert main(["plugins", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[f"docs_{hook}"]["status"] == "ok", rows[f"docs_{hook}"]


def test_hook_register_encoders(install, clip, tmp_path, capsys):
    install("register_encoders")
    _assert_loaded(capsys, "register_encoders")
    sidecar = _run(clip, tmp_path / "out", "--vision", "brightness", "--vision-opt", "bins=6")
    assert sidecar["provenance"]["encoder"]["bins"] == 6
    assert sidecar["provenance"]["encoder"]["distribution"] == "docs-register-encoders"


def test_hook_register_decoders(install, clip, tmp_path, capsys):
    install("register_decoders")
    _assert_loaded(capsys, "register_decoders")
    sidecar = _run(clip, tmp_path / "out", "--music", "drone", "--harmony", "none")
    notes = read_midi(tmp_path / "out" / "clip.mid").notes
    assert len(notes) == sidecar["music"]["segments"] == sidecar["music"]["notes"] >= 2


def test_hook_register_bridges(install, clip, tmp_path, capsys):
    install("register_bridges")
    _assert_loaded(capsys, "register_bridges")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_test_video(corpus / "a.mp4", duration=4.0, cuts=(2.0,))
    fitted = tmp_path / "standard.npz"
    args = ["bridge", "fit", str(corpus), "--bridge", "standardise", "--vision", "color-stats", "--music",
            "arpeggio", "-o", str(fitted)]
    assert main(args) == 0
    capsys.readouterr()
    sidecar = _run(clip, tmp_path / "out", "--bridge", "standardise", "--bridge-weights", str(fitted))
    assert sidecar["provenance"]["bridge"] == {"name": "standardise", "plugin": "docs_register_bridges",
                                               "distribution": "docs-register-bridges", "version": "1.0",
                                               "fitted": True}


def test_hook_register_writers(install, clip, tmp_path, capsys):
    install("register_writers")
    _assert_loaded(capsys, "register_writers")
    out = tmp_path / "out"
    sidecar = _run(clip, out, "--writer-opt", "notes-csv.separator=;")
    rows = (out / "clip.csv").read_text().splitlines()
    assert rows[0] == "start;end;pitch" and len(rows) - 1 == sidecar["music"]["notes"]
    assert sidecar["writers"]["notes-csv"] == {"rows": sidecar["music"]["notes"]}
    skipped = _run(clip, tmp_path / "skipped", "--skip", "notes-csv")
    assert "notes-csv" not in skipped["outputs"] and not (tmp_path / "skipped" / "clip.csv").exists()


def test_hook_register_commands(install, capsys):
    install("register_commands")
    assert main(["hello", "Ada"]) == 0
    assert capsys.readouterr().out == "hello Ada\n"
    _assert_loaded(capsys, "register_commands")


"""Plugin discovery through real entry points: the example plugin is installed; broken ones are made on disk."""

import subprocess
import sys
from pathlib import Path

import pytest

from score_core import hookimpl
from score_core.contracts import LatentSpec
from score_core.errors import PluginError
from score_core.registrations import DecoderRegistration
from score_core.registry import load_registry, selected_entry_points
from score_core.testing import install_fake_plugin, register_plugin


def _install_fake_distribution(root: Path, name: str, module_source: str) -> None:
    install_fake_plugin(root, name, module_source, version="0.3")


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("SCORE_PLUGINS", raising=False)
    return tmp_path


def test_example_plugin_is_discovered_through_its_entry_point():
    registry = load_registry()
    assert registry.encoders.get("color-stats").spec.feature_size == 17
    assert registry.decoders.owner("arpeggio").distribution == "score-plugin-example"
    names = {p.name: p for p in registry.plugins}
    assert names["example"].registered == {"encoders": ["color-stats"], "decoders": ["arpeggio"]}
    assert names["example"].version == "0.1.0"


def test_aliases_resolve_and_unknown_names_suggest_close_ones():
    registry = load_registry()
    assert registry.encoders.get("colour-stats").name == "color-stats"
    with pytest.raises(PluginError, match="did you mean arpeggio"):
        registry.decoders.get("arpegio")


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_still_load(site):
    _install_fake_distribution(site, "broken-plugin", "raise ImportError('needs libfoo')\n")
    registry = load_registry()
    failures = {f.name: f for f in registry.failures}
    assert "needs libfoo" in failures["broken_plugin"].reason
    assert failures["broken_plugin"].distribution == "broken-plugin"
    assert registry.encoders.get("color-stats")


def test_a_duplicate_name_fails_the_later_plugin_naming_both_packages(site):
    _install_fake_distribution(
        site,
        "copycat-plugin",
        """
        from score_core import hookimpl
        from score_core.contracts import LatentSpec
        from score_core.registrations import DecoderRegistration

        @hookimpl
        def register_decoders(register):
            register(DecoderRegistration("arpeggio", "a clash", LatentSpec(size=2, bars_per_segment=1), print))
        """,
    )
    registry = load_registry()
    failures = {f.name: f for f in registry.failures}
    assert "score-plugin-example" in failures["copycat_plugin"].reason
    assert failures["copycat_plugin"].distribution == "copycat-plugin"
    assert registry.decoders.owner("arpeggio").distribution == "score-plugin-example"
    assert "copycat_plugin" not in {p.name for p in registry.plugins}


def test_score_plugins_pins_which_entry_points_load(site, monkeypatch):
    _install_fake_distribution(site, "broken-plugin", "raise ImportError('x')\n")
    monkeypatch.setenv("SCORE_PLUGINS", "example")
    assert [ep.name for ep in selected_entry_points()] == ["example"]
    registry = load_registry()
    assert not registry.failures
    assert {p.name for p in registry.plugins} == {"score-core", "example"}


def test_pinning_by_distribution_name():
    assert [ep.name for ep in selected_entry_points("score-plugin-example")] == ["example"]


class _InProcessPlugin:
    @hookimpl
    def register_decoders(self, register):
        register(DecoderRegistration("silence", "writes nothing", LatentSpec(size=3, bars_per_segment=1), print))


def test_register_plugin_adds_an_in_process_plugin_to_the_default_registry():
    from score_core.registry import default_registry

    with register_plugin(_InProcessPlugin(), name="in-process") as registry:
        assert default_registry() is registry
        assert registry.decoders.get("silence").latent_spec.size == 3
    assert "silence" not in [d.name for d in default_registry().decoders.all()]


def test_a_hook_that_raises_is_reported_not_fatal():
    class Faulty:
        @hookimpl
        def register_encoders(self, register):
            raise RuntimeError("boom")

    with register_plugin(Faulty(), name="faulty") as registry:
        assert any(f.name == "faulty" and "boom" in f.reason for f in registry.failures)
        assert registry.decoders.get("arpeggio")


def test_registering_imports_no_heavy_framework():
    code = (
        "import sys\n"
        "from score_core.registry import load_registry\n"
        "registry = load_registry()\n"
        "[r.spec for r in registry.encoders.all()]\n"
        "heavy = sorted(m for m in ('torch', 'torchvision', 'tensorflow', 'keras', 'av') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_plugin_manager_fixture_is_isolated_and_knows_the_hooks(score_plugin_manager):
    score_plugin_manager.register(_InProcessPlugin(), name="in-process")
    seen = []
    score_plugin_manager.hook.register_decoders(register=seen.append)
    assert [r.name for r in seen] == ["silence"]
    assert score_plugin_manager.hook.register_encoders(register=seen.append) == []

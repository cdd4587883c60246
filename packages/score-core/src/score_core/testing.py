"""Pytest plugin for plugin authors: fixtures and conformance checks for encoders and decoders.

Installed with score-core and activated automatically by pytest (entry point ``pytest11``). Use
``check_encoder(encoder)`` and ``check_decoder(decoder)`` in a plugin's tests, the ``score_plugin_manager``
fixture for an isolated plugin manager, and ``register_plugin(module)`` to make an in-process plugin visible to
the registry (and so to the CLI) for the duration of a ``with`` block. ``run_score(*args)`` runs the installed
``score`` command in a subprocess, for end-to-end tests. ``install_fake_plugin(site, name, source)`` installs a
plugin distribution on disk (a module and its dist-info with a ``score`` entry point), as pip would leave it.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pluggy
import pytest

from score_core import registry as registry_module
from score_core.contracts import LatentTrack, Score
from score_core.protocols import MusicDecoder, TemporalVisionEncoder, VisionEncoder
from score_core.registry import Registry, load_registry, new_plugin_manager

SCORE = shutil.which("score", path=str(Path(sys.executable).parent)) or "score"


@dataclass
class Completed:
    returncode: int
    stdout: str
    stderr: str


def run_score(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300) -> Completed:
    """Run the installed `score` command (the one beside this Python) in a subprocess."""
    merged = {**os.environ, **(env or {})}
    result = subprocess.run(
        [SCORE, *map(str, args)], capture_output=True, text=True, env=merged, timeout=timeout, stdin=subprocess.DEVNULL
    )
    return Completed(result.returncode, result.stdout, result.stderr)


def install_fake_plugin(
    site: Path, name: str, source: str, *, entry_point: str | None = None, version: str = "1.0"
) -> dict[str, str]:
    """Install distribution ``name`` into folder ``site``: module ``source`` and a dist-info whose ``score``
    entry point (named ``entry_point``, by default the module's name) points at it.

    Returns the environment that puts ``site`` on the path of a `score` subprocess.
    """
    module = name.replace("-", "_")
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[score]\n{entry_point or module} = {module}\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on ``sys.path`` to ``install_fake_plugin`` into; the default registry is loaded afresh from it
    (and restored after the test), so the CLI called in-process sees the plugins installed there."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delenv("SCORE_PLUGINS", raising=False)
    previous = registry_module._default
    registry_module._default = None
    try:
        yield folder
    finally:
        registry_module._default = previous
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(str(folder)):
                del sys.modules[name]


@pytest.fixture
def score_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with score's hook specs and no plugins registered."""
    return new_plugin_manager()


@contextmanager
def register_plugin(plugin: object, name: str = "test-plugin", include_installed: bool = True) -> Iterator[Registry]:
    """Make ``plugin`` (a module or object with hook implementations) part of the default registry for a while."""
    previous = registry_module._default
    pinned = None if include_installed else "-none-"
    registry = load_registry(pinned=pinned, extra_plugins=[(name, plugin)])
    registry_module._default = registry
    try:
        yield registry
    finally:
        registry_module._default = previous


def _random_frames(count: int, size: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, *size, 3), dtype=np.uint8)


def check_encoder(encoder: VisionEncoder, *, atol: float = 1e-4) -> None:
    """Assert the encoder contract: shapes, dtype, finite values, determinism and batch independence."""
    spec = encoder.spec
    assert isinstance(encoder, VisionEncoder), "encoder lacks spec, encode() or provenance()"
    frames = _random_frames(3, spec.input_size, seed=1)
    outputs = []
    for _ in range(2):
        if spec.temporal:
            assert isinstance(encoder, TemporalVisionEncoder), "temporal encoder lacks reset()"
            encoder.reset()
        features = np.asarray(encoder.encode(frames))
        assert features.shape == (3, spec.feature_size), f"features of shape {features.shape} for 3 frames"
        assert features.dtype == np.float32, f"features are {features.dtype}, not float32"
        assert np.all(np.isfinite(features)), "features hold NaN or infinity"
        outputs.append(features)
    np.testing.assert_allclose(outputs[0], outputs[1], atol=atol, err_msg="encoding is not deterministic")
    assert not np.allclose(outputs[0][0], outputs[0][1]), "different frames gave identical features"
    if not spec.temporal:
        single = np.asarray(encoder.encode(frames[1:2]))
        assert single.shape == (1, spec.feature_size)
        np.testing.assert_allclose(single[0], outputs[0][1], atol=atol, rtol=1e-3,
                                   err_msg="a frame's features depend on the rest of its batch")
    assert isinstance(encoder.provenance(), dict)


def _latent_track(decoder: MusicDecoder, segments: int, seed: int) -> LatentTrack:
    spec = decoder.latent_spec
    length = spec.segment_seconds(120.0)
    starts = np.arange(segments) * length
    values = np.random.default_rng(seed).standard_normal((segments, spec.size)).astype(np.float32)
    return LatentTrack(starts=starts, ends=starts + length, values=values, spec=spec, tempo_bpm=120.0)


def check_decoder(decoder: MusicDecoder, *, segments: int = 3) -> None:
    """Assert the decoder contract: a Score whose notes lie in the segments, reproducible by seed."""
    assert isinstance(decoder, MusicDecoder), "decoder lacks latent_spec, decode() or provenance()"
    latents = _latent_track(decoder, segments, seed=3)
    first = decoder.decode(latents, temperature=1.0, seed=7)
    again = decoder.decode(latents, temperature=1.0, seed=7)
    assert isinstance(first, Score), f"decode returned {type(first).__name__}, not a Score"
    assert first == again, "same latents, temperature and seed gave different scores"
    assert first.notes, "no notes decoded from random latents"
    end = float(latents.ends[-1])
    for note in first.notes:
        assert 0.0 <= note.start < end, f"note starts at {note.start} s, outside the segments"
        assert note.end <= end + 1e-6, f"note ends at {note.end} s, after the last segment ({end} s)"
    _assert_no_overlapping_repeats(first)
    greedy = decoder.decode(latents, temperature=0.0, seed=1)
    assert greedy == decoder.decode(latents, temperature=0.0, seed=2), "temperature 0 still depends on the seed"
    other = _latent_track(decoder, segments, seed=4)
    assert decoder.decode(other, temperature=0.0, seed=1) != greedy, "the music ignores the latents"
    assert isinstance(decoder.provenance(), dict)


def _assert_no_overlapping_repeats(score: Score) -> None:
    """Two notes of one pitch on one instrument must not overlap (a MIDI file cannot express it)."""
    by_voice: dict[tuple[int, bool, int], list[tuple[float, float]]] = {}
    for note in score.notes:
        by_voice.setdefault((note.program, note.is_drum, note.pitch), []).append((note.start, note.end))
    for voice, spans in by_voice.items():
        spans.sort()
        for (_, previous_end), (start, _) in itertools.pairwise(spans):
            assert start >= previous_end - 1e-6, f"overlapping repeats of pitch {voice[2]} at {start} s"

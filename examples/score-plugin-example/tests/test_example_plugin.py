"""The example plugin passes score_core.testing's conformance checks and does what its README says."""

import numpy as np
import pytest

from score_core.contracts import LatentTrack
from score_core.registry import load_registry
from score_core.testing import check_decoder, check_encoder
from score_plugin_example.arpeggio import chord_pitches
from score_plugin_example.color_stats import rgb_to_hsv


@pytest.fixture(scope="module")
def registry():
    return load_registry(pinned="example")


def test_color_stats_conforms(registry):
    check_encoder(registry.encoders.get("color-stats").factory(None))


def test_arpeggio_conforms(registry):
    check_decoder(registry.decoders.get("arpeggio").factory(None))


def test_hue_of_primary_colours():
    frames = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]]]], dtype=np.uint8)
    hue, saturation, _ = rgb_to_hsv(frames)
    np.testing.assert_allclose(hue[0, 0], [0.0, 1 / 3, 2 / 3, 0.0], atol=1e-6)
    np.testing.assert_allclose(saturation[0, 0], [1, 1, 1, 0])


def test_color_stats_sees_colour_and_motion(registry):
    encoder = registry.encoders.get("color-stats").factory(None)
    height, width = encoder.spec.input_size
    red = np.zeros((height, width, 3), np.uint8)
    red[..., 0] = 255
    blue = np.zeros_like(red)
    blue[..., 2] = 255
    features = encoder.encode(np.stack([red, red, blue]))
    hue_bins = features[:, 4:16]
    assert hue_bins[0].argmax() == 0 and hue_bins[2].argmax() == 8
    motion = features[:, 16]
    assert motion[0] == 0 and motion[1] == 0 and motion[2] > 0
    encoder.reset()
    assert encoder.encode(blue[None])[0, 16] == 0


def test_latent_dimension_zero_picks_the_chord(registry):
    registration = registry.decoders.get("arpeggio")
    decoder = registration.factory(None)
    spec = registration.latent_spec
    values = np.zeros((2, spec.size), np.float32)
    values[0, 0], values[1, 0] = -2.0, 2.0  # tonic chord, then the least common degree
    latents = LatentTrack(starts=[0.0, 4.0], ends=[4.0, 8.0], values=values, spec=spec, tempo_bpm=120)
    score = decoder.decode(latents, temperature=0.0, seed=0)
    piano = [n for n in score.notes if n.program == 0]
    first = {n.pitch % 12 for n in piano if n.start < 4}
    second = {n.pitch % 12 for n in piano if n.start >= 4}
    assert first == {0, 4, 7}  # C major: the key of a neutral dimension 5, tonic chord
    assert second == {4, 7, 11}  # E minor: the iii chord


def test_chord_pitches_form_a_major_triad_on_the_tonic():
    assert chord_pitches(60, 0, 0) == [60, 64, 67, 72]
    assert chord_pitches(60, 4, -1) == [55, 59, 62, 67]

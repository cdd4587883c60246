import numpy as np
import pytest
from pydantic import ValidationError

from score_core.contracts import FeatureTrack, LatentSpec, LatentTrack, Note, Score


def test_feature_track_checks_rows_against_times():
    with pytest.raises(ValidationError, match="2 feature rows for 3 timestamps"):
        FeatureTrack(times=[0.0, 0.5, 1.0], values=np.zeros((2, 4)), encoder="e", encoder_version="1")


def test_feature_track_rejects_nan_and_unordered_times():
    with pytest.raises(ValidationError, match="NaN"):
        FeatureTrack(times=[0.0, 1.0], values=[[0.0], [np.nan]], encoder="e", encoder_version="1")
    with pytest.raises(ValidationError, match="increase"):
        FeatureTrack(times=[1.0, 0.5], values=[[0.0], [1.0]], encoder="e", encoder_version="1")


def test_arrays_are_converted_and_read_only():
    track = FeatureTrack(times=[0, 1], values=[[1, 2], [3, 4]], encoder="e", encoder_version="1")
    assert track.values.dtype == np.float32 and track.times.dtype == np.float64
    with pytest.raises(ValueError):
        track.values[0, 0] = 5
    with pytest.raises(ValidationError):
        track.encoder = "other"


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="extra"):
        Note(pitch=60, velocity=90, start=0, end=1, colour="red")


def test_note_must_end_after_it_starts():
    with pytest.raises(ValidationError, match="not after its start"):
        Note(pitch=60, velocity=90, start=1.0, end=1.0)


def test_latent_track_checks_spec_size():
    spec = LatentSpec(size=4, bars_per_segment=2)
    with pytest.raises(ValidationError, match="3 dimensions, spec says 4"):
        LatentTrack(starts=[0.0], ends=[4.0], values=np.zeros((1, 3)), spec=spec, tempo_bpm=120)


def test_segment_seconds_follow_tempo():
    spec = LatentSpec(size=4, bars_per_segment=2)
    assert spec.segment_seconds(120) == pytest.approx(4.0)
    assert spec.segment_seconds(60) == pytest.approx(8.0)


def test_dimension_order_must_be_a_permutation():
    with pytest.raises(ValidationError, match="permutation"):
        LatentSpec(size=3, bars_per_segment=1, dimension_order=(0, 0, 1))


def test_score_end_time():
    notes = (Note(pitch=60, velocity=80, start=0, end=1.5), Note(pitch=62, velocity=80, start=1, end=2.5))
    assert Score(notes=notes, tempo_bpm=120, duration=3).end_time == 2.5

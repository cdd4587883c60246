import numpy as np
import pytest

from score_core.bridge import PcaBridge, PcaWhitening
from score_core.contracts import FeatureTrack, LatentSpec
from score_core.errors import ScoreError


def _track(values: np.ndarray, fps: float = 2.0) -> FeatureTrack:
    times = np.arange(len(values)) / fps
    return FeatureTrack(times=times, values=values, encoder="test", encoder_version="0")


def test_whitening_gives_unit_variance_by_dividing_by_the_standard_deviation():
    rng = np.random.default_rng(0)
    scales = np.array([10.0, 3.0, 0.5])
    data = rng.standard_normal((500, 3)) * scales
    whitening = PcaWhitening.fit(data, 3, "test")
    whitened = whitening.transform(data)
    np.testing.assert_allclose(whitened.std(axis=0, ddof=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(whitening.std, scales, rtol=0.15)  # std, not variance (10, not 100)


@pytest.mark.parametrize("frames", [1, 2, 5])
def test_fewer_frames_than_components_gives_no_nan(frames):
    data = np.random.default_rng(1).standard_normal((frames, 40))
    whitening = PcaWhitening.fit(data, 16, "test")
    whitened = whitening.transform(data)
    assert whitened.shape == (frames, 16)
    assert np.all(np.isfinite(whitened))
    assert np.all(whitened[:, frames - 1 :] == 0)  # at most frames-1 components carry variance


def test_constant_features_map_to_the_prior_mean():
    whitening = PcaWhitening.fit(np.ones((30, 8)), 4, "test")
    assert np.all(whitening.transform(np.ones((3, 8))) == 0)


def test_strongest_component_goes_to_the_decoders_most_used_dimension():
    rng = np.random.default_rng(2)
    data = rng.standard_normal((200, 6)) * np.array([20.0, 1, 1, 1, 1, 1])
    spec = LatentSpec(size=4, bars_per_segment=1, dimension_order=(3, 0, 1, 2))
    starts = np.arange(0, 100, 2.0)
    latents = PcaBridge().to_latents(_track(data), spec, starts, starts + 2.0, 120.0)
    dominant = np.corrcoef(latents.values[:, 3], data.reshape(50, 4, 6).mean(axis=1)[:, 0])[0, 1]
    assert abs(dominant) > 0.95


def test_segments_without_frames_take_the_nearest_frame():
    data = np.random.default_rng(3).standard_normal((4, 5))
    spec = LatentSpec(size=2, bars_per_segment=2)
    starts = np.array([0.0, 4.0, 8.0])
    latents = PcaBridge().to_latents(_track(data, fps=0.5), spec, starts, starts + 4.0, 120.0)
    assert latents.values.shape == (3, 2)
    assert np.all(np.isfinite(latents.values))


def test_saved_fit_maps_the_same_shot_to_the_same_latent(tmp_path):
    rng = np.random.default_rng(4)
    corpus = rng.standard_normal((300, 10))
    path = tmp_path / "bridge.npz"
    PcaWhitening.fit(corpus, 4, "test").save(path)
    shot = corpus[:3].mean(axis=0)
    spec = LatentSpec(size=4, bars_per_segment=1)
    video_a = np.vstack([np.tile(shot, (4, 1)), rng.standard_normal((4, 10))])
    video_b = np.vstack([rng.standard_normal((4, 10)) * 5, np.tile(shot, (4, 1))])
    bridge = PcaBridge.from_file(path)
    a = bridge.to_latents(_track(video_a), spec, np.array([0.0, 2.0]), np.array([2.0, 4.0]), 120.0)
    b = bridge.to_latents(_track(video_b), spec, np.array([0.0, 2.0]), np.array([2.0, 4.0]), 120.0)
    np.testing.assert_allclose(a.values[0], b.values[1], atol=1e-5)


def test_loaded_fit_refuses_features_of_another_size(tmp_path):
    path = tmp_path / "bridge.npz"
    PcaWhitening.fit(np.random.default_rng(5).standard_normal((20, 10)), 4, "wide").save(path)
    spec = LatentSpec(size=4, bars_per_segment=1)
    with pytest.raises(ScoreError, match=r"fitted for 10-d features"):
        PcaBridge.from_file(path).to_latents(_track(np.zeros((3, 7))), spec, np.array([0.0]), np.array([2.0]), 120)


def test_loading_a_file_that_is_not_a_bridge_names_it(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("not numpy")
    with pytest.raises(ScoreError, match=r"notes\.npz: not a saved PCA bridge"):
        PcaBridge.from_file(path)


def _saved(tmp_path, **changes) -> tuple:
    whitening = PcaWhitening.fit(np.random.default_rng(6).standard_normal((30, 10)), 4, "wide")
    arrays = {"mean": whitening.mean, "components": whitening.components, "std": whitening.std,
              "encoder": np.array("wide"), **changes}
    path = tmp_path / "bridge.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"mean": np.full(10, np.nan)}, "mean holds NaN"),
        ({"std": np.array([1.0, np.inf, 1.0, 1.0])}, "std holds NaN or infinity"),
        ({"components": np.zeros((4, 9))}, r"components are \(4, 9\), expected \(4, 10\)"),
        ({"std": -np.ones(4)}, "std holds negative values"),
        ({"mean": np.array(["a"] * 10)}, "mean holds <U1 values, not numbers"),
        ({"mean": np.zeros((2, 5))}, r"arrays of shapes mean \(2, 5\)"),
    ],
)
def test_a_damaged_bridge_is_refused_whole_when_loaded(tmp_path, changes, cause):
    with pytest.raises(ScoreError, match=r"bridge\.npz: damaged PCA bridge: " + cause):
        PcaBridge.from_file(_saved(tmp_path, **changes))


def test_a_truncated_or_directory_bridge_is_refused_with_one_line(tmp_path):
    path = _saved(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ScoreError, match=r"bridge\.npz: not a saved PCA bridge, or damaged"):
        PcaBridge.from_file(path)
    with pytest.raises(ScoreError, match="is a directory"):
        PcaBridge.from_file(tmp_path)


def test_a_small_saved_bridge_declaring_gigabytes_is_refused_before_reading(tmp_path):
    import zipfile

    import numpy as np
    import pytest

    from score_core.bridge import PcaWhitening
    from score_core.errors import ScoreError

    path = tmp_path / "bomb.npz"
    header = {"descr": "<f8", "fortran_order": False, "shape": (200_000, 1_000)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open("components.npy", "w") as stream:
        np.lib.format.write_array_header_1_0(stream, header)
        stream.write(bytes(1 << 20))  # only a MiB of the declared 1.6 GB
    assert path.stat().st_size < 100_000
    with pytest.raises(ScoreError, match="GiB of arrays"):
        PcaWhitening.load(path)

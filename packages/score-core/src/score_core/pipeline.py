"""One run: video → features → latents → score → output files.

A pipeline is assembled from registered plugins and checks, before anything is decoded, that each stage's
output fits the next stage's input. A run writes every output to a temporary file and renames them together
only when all writers succeeded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from score_core.contracts import (
    EncoderSpec,
    Event,
    EventTrack,
    FeatureTrack,
    LatentSpec,
    LatentTrack,
    Marker,
    Score,
    SignalTrack,
    VideoInfo,
)
from score_core.errors import IncompatibleStagesError, PluginError, ScoreError
from score_core.files import OutputClaim, StagedOutputs, ensure_writable_directory
from score_core.harmony import HARMONY_PART
from score_core.latent_fill import fill_from_prior, orient_for_seed
from score_core.protocols import Bridge, MusicDecoder, RunContext, TemporalVisionEncoder, VisionEncoder
from score_core.registrations import (
    BridgeRegistration,
    DecoderRegistration,
    EncoderRegistration,
    StageOptions,
    WriterRegistration,
    build_stage,
    parse_options,
)
from score_core.registry import Registry

if TYPE_CHECKING:
    from score_core.theme_book import ThemeBook

MAX_FRAME_SIDE = 8192
"""Largest width or height accepted: 8K UHD fits; beyond it one decoded frame alone takes hundreds of MB."""

Progress = Callable[[str, float, float], None]
"""progress(stage, done, total): called as a run advances; units are seconds of video for "encode"."""


@dataclass(frozen=True)
class StageChoice:
    """Which plugins make up a pipeline, and the weights each should load (None = its default)."""

    vision: str
    music: str
    bridge: str = "pca"
    vision_weights: str | None = None
    music_weights: str | None = None
    bridge_weights: str | None = None
    vision_layer: str | None = None
    vision_options: Mapping[str, Any] = field(default_factory=dict)
    """Encoder options (``--vision-opt key=value``); ``vision_weights`` and ``vision_layer`` are shorthands."""
    music_options: Mapping[str, Any] = field(default_factory=dict)
    """Decoder options (``--music-opt key=value``); ``music_weights`` is a shorthand."""
    bridge_options: Mapping[str, Any] = field(default_factory=dict)
    """Bridge options (``--bridge-opt key=value``); ``bridge_weights`` is a shorthand."""


def merged_options(options: Mapping[str, Any], flag: str, **shorthands: Any) -> dict[str, Any]:
    """``options`` with the shorthand flags that were given; one option given both ways is refused."""
    merged = dict(options)
    for key, value in shorthands.items():
        if value is None:
            continue
        if key in merged and merged[key] != value:
            raise ScoreError(f"--{flag}-opt {key}", f"conflicts with --{flag}-{key} / --{key}")
        merged[key] = value
    return merged


@dataclass(frozen=True)
class RunOptions:
    """Parameters of one run that are not plugin choices."""

    fps: float | None = None
    tempo_bpm: float = 120.0
    temperature: float = 1.0
    seed: int = 0
    overwrite: bool = False
    skip: tuple[str, ...] = ()
    """Writers not to run (``--skip NAME``); writers that require one of them are skipped too."""
    writer_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Options per writer name (``--writer-opt NAME.KEY=VALUE``), validated by each writer's Options model."""
    evaluate: bool = False
    """Measure the music against the picture (score_core.analysis) and add the figures to the sidecar."""
    key: str | None = None
    """Piece key: None or "none" leaves the decoder's notes alone, "auto" takes it from the picture, or "D minor"."""
    scale_fit: bool = False
    """After keying, move notes outside the piece's scale to the nearest scale tone."""
    programs: str | None = None
    """General MIDI program per part, "melody=73,bass=33"."""
    stems: bool = False
    """Also write one WAV per part (the "stems" writer); needs audio."""
    sync: str = "cuts"
    """"cuts": segments, tempo map and phrases follow the video's shots; "grid": fixed segments from 0 s."""
    tempo_range: tuple[float, float] = (80.0, 140.0)
    """Tempos (bpm) the cut-aware tempo map may choose from, unless fixed_tempo."""
    max_tempo_change: float = 0.04
    """Largest relative change of local tempo between cuts, around the chosen tempo."""
    fixed_tempo: bool = False
    """Whether tempo_bpm was given (--tempo) and the tempo map keeps it as its base."""
    start_timecode: str | None = None
    """HH:MM:SS:FF written as the MIDI file's SMPTE offset, so it lines up with the video in a DAW."""
    form: str = "none"
    """"auto": shots that show the same subject share a theme whose music returns with them (score_core.themes);
    "none": every shot decoded on its own."""
    cuts: tuple[float, ...] | None = None
    """Where the shots start (seconds), instead of the detector's cuts and fades (`--cuts FILE`, the studio's
    cut editor); in-shot events (flashes, motion) are kept away from them."""
    locks: tuple[tuple[int, int], ...] = ()
    """(shot, seed) pairs: shot number ``shot`` (0 = the first) keeps the music the run with ``seed`` gives it
    (`--lock SHOT=SEED`, the studio's lock and re-roll), note for note, whatever this run's own seed."""
    harmony: str = "none"
    """"chords": a held chord under each shot's melody that changes at every cut (score_core.harmony); "none":
    the decoder's parts only."""

    theme_book: str | None = None
    """A theme book (`score bridge fit --theme-book`): shots showing one of its subjects play that subject's
    theme, the same in every video scored with it (score_core.theme_book); needs form "auto" and the book's bridge."""

    def __post_init__(self) -> None:
        for option in fields(self):
            value = getattr(self, option.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ScoreError(f"--{option.name.replace('_', '-')}", f"must be a finite number, not {value}")


@dataclass(frozen=True)
class RunResult:
    """The files a run wrote and the facts its sidecar records."""

    outputs: dict[str, Path]
    score: Score
    video_info: VideoInfo
    provenance: dict[str, Any]
    timings: dict[str, float]
    writer_notes: dict[str, Any]
    evaluation: dict[str, Any] | None = None


class Pipeline:
    """Encoder, bridge and decoder chosen from a registry, with validated options, checked to fit together.

    Creating one is cheap (options are checked, nothing is loaded but the bridge); ``build()`` builds encoder
    and decoder once and checks that the built stages fit.
    """

    def __init__(self, registry: Registry, choice: StageChoice) -> None:
        self.registry = registry
        self.choice = choice
        self.encoder_registration: EncoderRegistration = registry.encoders.get(choice.vision)
        self.decoder_registration: DecoderRegistration = registry.decoders.get(choice.music)
        self.bridge_registration: BridgeRegistration = registry.bridges.get(choice.bridge)
        self.encoder_options: StageOptions = parse_options(
            f"encoder '{self.encoder_name}'", self.encoder_registration.options,
            merged_options(choice.vision_options, "vision", weights=choice.vision_weights, layer=choice.vision_layer),
        )
        self.decoder_options: StageOptions = parse_options(
            f"decoder '{self.decoder_name}'", self.decoder_registration.options,
            merged_options(choice.music_options, "music", weights=choice.music_weights),
        )
        self._check_registrations()
        self.bridge_options: StageOptions = parse_options(
            f"bridge '{self.bridge_registration.name}'", self.bridge_registration.options,
            merged_options(choice.bridge_options, "bridge", weights=choice.bridge_weights),
        )
        self.bridge: Bridge = call_plugin(
            f"bridge '{self.bridge_registration.name}'", build_stage, self.bridge_registration.factory,
            self.bridge_options,
        )
        self._encoder: VisionEncoder | None = None
        self._decoder: MusicDecoder | None = None
        self.frame_signals: dict[str, SignalTrack] = {}
        self._theme_books: dict[str, ThemeBook] = {}
        self.grey_histograms: tuple[np.ndarray, np.ndarray] = (np.zeros(0), np.zeros((0, 0)))
        """Per-frame times and grey-level histograms of the last video encoded."""
        """Per-frame signals (visual change, luma, slow change) of the last video encoded."""
        self._check_bridge_fit()
        self.colour_sum = np.zeros(3)
        self.colour_frames = 0
        self.piece_key: str | None = None
        self.piece_scale: frozenset[int] | None = None

    @property
    def encoder_name(self) -> str:
        return self.encoder_registration.name

    @property
    def decoder_name(self) -> str:
        return self.decoder_registration.name

    def _check_registrations(self) -> None:
        prior = self.decoder_registration.latent_spec.prior
        if self.bridge_registration.output_prior != prior:
            raise IncompatibleStagesError(
                f"bridge '{self.bridge_registration.name}' and decoder '{self.decoder_name}'",
                f"the bridge produces {self.bridge_registration.output_prior} latents, the decoder expects {prior}",
            )

    @property
    def encoder_spec(self) -> EncoderSpec:
        """The encoder's contract: the built encoder's when one exists, else the registered one."""
        return self._encoder.spec if self._encoder is not None else self.encoder_registration.spec

    @property
    def latent_spec(self) -> LatentSpec:
        """The decoder's latent space: the built decoder's when one exists, else the registered one."""
        return self._decoder.latent_spec if self._decoder is not None else self.decoder_registration.latent_spec

    def _check_bridge_fit(self) -> None:
        """Bridge sizes against the built stages, or, before building, against registrations whose options
        cannot change their sizes."""
        feature_size = self.encoder_spec.feature_size
        latent_size = self.latent_spec.size
        bridge_label = f"bridge '{self.choice.bridge_weights or self.bridge_registration.name}'"
        known_features = self._encoder is not None or self.encoder_options == type(self.encoder_options)()
        known_latents = self._decoder is not None or self.decoder_options == type(self.decoder_options)()
        if known_features and self.bridge.input_size is not None and self.bridge.input_size != feature_size:
            raise IncompatibleStagesError(
                f"encoder '{self.encoder_name}' and {bridge_label}",
                f"the encoder gives {feature_size}-d features, the bridge was fitted on {self.bridge.input_size}-d",
            )
        if known_latents and self.bridge.output_size is not None and self.bridge.output_size != latent_size:
            raise IncompatibleStagesError(
                f"{bridge_label} and decoder '{self.decoder_name}'",
                f"the bridge gives {self.bridge.output_size}-d latents, the decoder reads {latent_size}-d",
            )

    def build(self) -> None:
        """Build encoder and decoder once (loading weights) and check that the built stages fit each other and
        their registrations; raises before any video is decoded."""
        if self._encoder is None:
            label = f"encoder '{self.encoder_name}'"
            encoder: VisionEncoder = call_plugin(
                label, build_stage, self.encoder_registration.factory, self.encoder_options
            )
            if encoder.spec.temporal and not isinstance(encoder, TemporalVisionEncoder):
                raise PluginError(label, "declares temporal features but has no reset()")
            registered = self.encoder_registration.spec.feature_size
            if self.encoder_options == type(self.encoder_options)() and encoder.spec.feature_size != registered:
                raise IncompatibleStagesError(
                    label, f"registered {registered}-d features but built one giving {encoder.spec.feature_size}-d"
                )
            self._encoder = encoder
        if self._decoder is None:
            label = f"decoder '{self.decoder_name}'"
            decoder: MusicDecoder = call_plugin(
                label, build_stage, self.decoder_registration.factory, self.decoder_options
            )
            if self.decoder_options == type(self.decoder_options)() and (
                decoder.latent_spec != self.decoder_registration.latent_spec
            ):
                raise IncompatibleStagesError(label, "built decoder's latent spec differs from its registration")
            self._decoder = decoder
        self._check_bridge_fit()

    build_models = build

    def default_fps(self) -> float:
        return self.encoder_registration.default_fps

    def encode(self, video: Path, fps: float, progress: Progress | None = None) -> tuple[FeatureTrack, SignalTrack]:
        """Sample frames at ``fps`` and encode them, in one streaming pass over the video."""
        from score_core.media import FrameReader

        self.build_models()
        encoder = self._encoder
        assert encoder is not None
        spec = encoder.spec
        if isinstance(encoder, TemporalVisionEncoder) and spec.temporal:
            encoder.reset()
        times: list[np.ndarray] = []
        rows: list[np.ndarray] = []
        self.colour_sum, self.colour_frames = np.zeros(3), 0  # per video: a pipeline may score many
        reader = FrameReader(
            video,
            fps=fps,
            size=spec.input_size,
            resize=spec.resize,
            batch_size=spec.batch_size,
            on_progress=(lambda seconds: progress("encode", seconds, 0.0)) if progress else None,
        )
        for batch in reader:
            try:
                features = np.asarray(encoder.encode(batch.frames))
            except ScoreError:
                raise
            except (Exception, SystemExit) as error:
                raise PluginError(f"encoder '{self.encoder_name}'", f"failed while encoding: {error!r}") from error
            if features.shape != (len(batch.times), spec.feature_size):
                raise PluginError(
                    f"encoder '{self.encoder_name}'",
                    f"returned features of shape {features.shape} for {len(batch.times)} frames, "
                    f"expected ({len(batch.times)}, {spec.feature_size})",
                )
            self.colour_sum += colour_sums(batch.frames)
            self.colour_frames += len(batch.times)
            times.append(batch.times)
            rows.append(features.astype(np.float32, copy=False))
        if not rows:
            raise ScoreError(str(video), "no frames could be sampled")
        version = self.registry.encoders.owner(self.encoder_name).version
        try:
            track = FeatureTrack(
                times=np.concatenate(times), values=np.concatenate(rows), encoder=self.encoder_name,
                encoder_version=version,
            )
        except ValueError as error:
            raise PluginError(f"encoder '{self.encoder_name}'", f"produced invalid features: {error}") from None
        self.frame_signals = reader.frame_signals()
        self.grey_histograms = reader.grey_histograms()
        return track, reader.visual_change()

    def compose(
        self, features: FeatureTrack, duration: float, options: RunOptions, events: EventTrack | None = None
    ) -> tuple[LatentTrack, Score]:
        """Map features to latents and decode them into a score as long as the video.

        With ``options.sync == "cuts"`` the segments, tempo map and phrases follow the shots in ``events`` (none
        given: one shot); with "grid" one latent per fixed segment from 0 s at ``options.tempo_bpm``.
        """
        self.build_models()
        decoder = self._decoder
        assert decoder is not None
        spec = decoder.latent_spec
        if options.sync == "cuts":
            return self._compose_cuts(features, duration, options, events or EventTrack(duration=duration))
        if options.sync != "grid":
            raise ScoreError("--sync", f"must be cuts or grid, got {options.sync!r}")
        segment = spec.latent_seconds(options.tempo_bpm)  # a streaming decoder reads one latent per beat
        count = max(1, math.ceil(duration / segment - 1e-6))
        starts = np.arange(count) * segment
        latents = self.bridge.to_latents(features, spec, starts, starts + segment, options.tempo_bpm)
        return latents, trim_score(self._decode(latents, options), duration)

    def _compose_cuts(
        self, features: FeatureTrack, duration: float, options: RunOptions, events: EventTrack
    ) -> tuple[LatentTrack, Score]:
        from score_core import response
        from score_core.tempo import plan_tempo

        spec = self.latent_spec
        shots = events.shot_starts
        plan = plan_tempo(
            [e.time for e in shots], [e.strength for e in shots], duration, tempo_range=options.tempo_range,
            tempo=options.tempo_bpm if options.fixed_tempo else None, max_change=options.max_tempo_change,
            beats_per_bar=spec.beats_per_bar,
        )
        latents = response.cut_latents(self.bridge, features, spec, plan, duration, events)
        phrase_starts = [float(plan.step_times[s]) for s in sorted(set(plan.cut_steps)) if 0 < s < plan.steps]
        themes: list[int] = []
        anchored: frozenset[int] = frozenset()
        if options.form == "auto":
            from score_core.themes import shot_themes, themed_latents

            themes = shot_themes(features, phrase_starts)
            fixed = None
            if options.theme_book is not None:
                from score_core.themes import shot_means

                themes, fixed = self.theme_book(options.theme_book).link(shot_means(features, phrase_starts), themes)
                anchored = frozenset(fixed)
            latents = themed_latents(latents, themes, fixed)
        score = self._decode(latents, options)
        accents = [float(plan.step_times[s]) for s in latents.accent_steps]
        levels = response.shot_levels(self.frame_signals.get("luma"), phrase_starts, len(phrase_starts) + 1)
        step = float(np.min(np.diff(plan.step_times)))
        densities = response.shot_densities(self.frame_signals.get("visual-change"), phrase_starts,
                                            len(phrase_starts) + 1)
        score = response.answer_cuts(score, phrase_starts, accents, levels, step, densities, self.piece_scale,
                                     themes, anchored)
        if options.harmony == "chords":
            from score_core.harmony import HARMONY_PROGRAM, with_shot_chords
            from score_core.parts import parse_programs

            program = parse_programs(options.programs).get(HARMONY_PART, HARMONY_PROGRAM)
            pulsed = [d > 0 for d in response.themed_densities(densities, themes, anchored)]
            score = with_shot_chords(score, phrase_starts, self.piece_scale, themes, program, pulsed, 4 * step)
        if themes:
            from score_core.themes import theme_markers

            score = score.model_copy(update={"markers": (*score.markers, *theme_markers(phrase_starts, themes))})
        score = score.model_copy(
            update={
                "tempo_bpm": plan.changes[0].bpm,
                "tempo_map": plan.changes if len(plan.changes) > 1 else (),
                "cues": response.hit_cues(events, plan),
            }
        )
        return latents, trim_score(score, duration)

    def theme_book(self, path: str) -> ThemeBook:
        """The theme book at ``path`` (loaded once), checked against this pipeline's bridge and encoder."""
        from score_core.theme_book import load_theme_book

        if path not in self._theme_books:
            book = load_theme_book(path)
            bridge_sha = self.bridge.provenance().get("sha256")
            if bridge_sha != book.bridge_sha256:
                raise ScoreError(f"--theme-book {path}", "was made with another bridge; score with the bridge it "
                                 "was fitted with (--bridge-weights, the file `score bridge fit` wrote beside it)")
            self._theme_books[path] = book
        return self._theme_books[path]

    def _decode(self, latents: LatentTrack, options: RunOptions) -> Score:
        decoder = self._decoder
        assert decoder is not None
        latents = fill_from_prior(orient_for_seed(latents, options.seed), options.seed)
        try:
            score = decoder.decode(latents, temperature=options.temperature, seed=options.seed)
        except ScoreError:
            raise
        except (Exception, SystemExit) as error:
            raise PluginError(f"decoder '{self.decoder_name}'", f"failed while decoding: {error!r}") from error
        if not isinstance(score, Score):
            raise PluginError(f"decoder '{self.decoder_name}'", f"returned {type(score).__name__}, not a Score")
        return self._arrange(score, latents, options)

    def _arrange(self, score: Score, latents: LatentTrack, options: RunOptions) -> Score:
        """The decoded score in the piece's key (when asked) and with each part on its program."""
        from score_core.keys import key_from_colour, key_parts, parse_key
        from score_core.parts import parse_programs, set_programs

        programs = parse_programs(options.programs)
        if options.harmony == "chords" and options.sync == "cuts":
            programs.pop(HARMONY_PART, None)  # the chords are added after decoding, on their own program
        self.piece_key, self.piece_scale = None, None
        if options.key and options.key.lower() != "none":
            if options.key.lower() == "auto":
                mean = self.colour_sum / max(self.colour_frames, 1)
                key = key_from_colour([float(c) for c in mean] if self.colour_frames else (128.0, 128.0, 128.0))
            else:
                key = parse_key(options.key)
            self.piece_key = key.name
            self.piece_scale = key.scale()
            score, _ = key_parts(score, [float(t) for t in latents.starts], key, fit=options.scale_fit)
        return set_programs(score, programs)

    def provenance(self) -> dict[str, Any]:
        def stage(registration: Any, catalogue: Any, built: Any) -> dict[str, Any]:
            owner = catalogue.owner(registration.name)
            return {
                "name": registration.name,
                "plugin": owner.plugin,
                "distribution": owner.distribution,
                "version": owner.version,
                **(built.provenance() if built is not None else {}),
            }

        return {
            "score_core": metadata.version("score-core"),
            "encoder": stage(self.encoder_registration, self.registry.encoders, self._encoder),
            "bridge": stage(self.bridge_registration, self.registry.bridges, self.bridge),
            "decoder": stage(self.decoder_registration, self.registry.decoders, self._decoder),
            "key": self.piece_key,
        }


def colour_sums(frames: np.ndarray) -> np.ndarray:
    """Sum over frames of each frame's mean R, G, B (float64 (3,)), without a float copy of the pixels."""
    frames = np.asarray(frames)
    pixels = frames.shape[1] * frames.shape[2]
    totals: np.ndarray = frames.sum(axis=(0, 1, 2), dtype=np.uint64).astype(np.float64)
    return np.asarray(totals / pixels, dtype=np.float64)


def call_plugin(label: str, function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` of a plugin: its failures (``SystemExit`` included) are a PluginError naming it."""
    try:
        return function(*args)
    except ScoreError:
        raise
    except (Exception, SystemExit) as error:
        raise PluginError(label, f"failed to build: {error!r}") from error


def trim_score(score: Score, duration: float) -> Score:
    """Drop notes that start after ``duration``, shorten those that ring past it, and set the duration."""
    notes = tuple(
        note if note.end <= duration else note.model_copy(update={"end": duration})
        for note in score.notes
        if note.start < duration - 1e-3
    )
    markers = tuple(marker for marker in score.markers if marker.time < duration)
    return Score(
        notes=notes, tempo_bpm=score.tempo_bpm, time_signature=score.time_signature, markers=markers,
        duration=duration, tempo_map=tuple(c for c in score.tempo_map if c.time < duration),
        cues=tuple(cue for cue in score.cues if cue.time < duration),
    )


def with_locked_shots(
    pipeline: Pipeline, features: FeatureTrack, duration: float, options: RunOptions, events: EventTrack,
    score: Score,
) -> Score:
    """``score`` with each locked shot's notes replaced by those the run with the lock's seed gives that shot
    (the same picture composed again with that seed: composing is deterministic, so the notes are identical)."""
    starts = sorted(m.time for m in score.cues if m.text.startswith(("cut ", "fade ")))
    bounds = [0.0, *starts, math.inf]
    shots = len(bounds) - 1
    for shot, _ in options.locks:
        if not 0 <= shot < shots:
            raise ScoreError(f"--lock {shot}", f"no such shot: this video has shots 0 to {shots - 1}")
    notes = list(score.notes)
    for seed in sorted({seed for _, seed in options.locks}):
        _, other = pipeline.compose(features, duration, replace(options, seed=seed, locks=()), events)
        for shot in sorted({shot for shot, s in options.locks if s == seed}):
            low, high = bounds[shot], bounds[shot + 1]
            notes = [n for n in notes if not low - 1e-6 <= n.start < high - 1e-6]
            notes += [n for n in other.notes if low - 1e-6 <= n.start < high - 1e-6]
    return score.model_copy(update={"notes": tuple(sorted(notes, key=lambda n: (n.start, n.pitch, n.part)))})


def with_given_cuts(events: EventTrack, cuts: tuple[float, ...], duration: float) -> EventTrack:
    """``events`` with its shot starts replaced by hard cuts at ``cuts`` (those inside the video); in-shot
    events closer than half a second to a given cut are dropped (the cut answers them)."""
    given = sorted({round(float(t), 6) for t in cuts if 0.0 < t < duration})
    kept = [e for e in events.in_shot if all(abs(e.time - t) >= 0.5 for t in given)]
    shots = [Event(time=t, strength=1.0, kind="cut") for t in given]
    return events.model_copy(update={"events": tuple(sorted([*kept, *shots], key=lambda e: e.time))})


def with_cut_markers(score: Score, cuts: list[float]) -> Score:
    """The score with a "cut" marker at each detected cut of the video."""
    markers = sorted([*score.markers, *(Marker(time=t, text="cut") for t in cuts)], key=lambda m: (m.time, m.text))
    return score.model_copy(update={"markers": tuple(markers)})


def output_targets(registry: Registry, video: Path, output_dir: Path, options: RunOptions) -> dict[str, Path]:
    """Output path of every writer that this run will use, keyed by writer name, in running order."""
    disabled = {registry.writers.get(name).name for name in options.skip}
    if not options.stems or "audio" in disabled:
        disabled.add("stems")
    chosen = [w for w in registry.writers.all() if w.name not in disabled]
    ordered = _order_writers(chosen)
    return {w.name: output_dir / f"{video.stem}{w.suffix}" for w in ordered}


def writer_options(registry: Registry, options: RunOptions) -> dict[str, StageOptions]:
    """Every writer's validated options (its defaults when none given); one-line refusal of a bad one."""
    given = {registry.writers.get(name).name: values for name, values in options.writer_options.items()}
    return {
        writer.name: parse_options(f"writer '{writer.name}'", writer.options, given.get(writer.name, {}))
        for writer in registry.writers.all()
    }


def _order_writers(writers: list[WriterRegistration]) -> list[WriterRegistration]:
    """Writers whose requirements can run, each after what it requires or follows."""
    usable = {w.name for w in writers}
    changed = True
    while changed:
        changed = False
        for writer in writers:
            if writer.name in usable and not all(r in usable for r in writer.requires):
                usable.discard(writer.name)
                changed = True
    pending = [w for w in writers if w.name in usable]
    last = {w.name for w in pending if "*" in w.after}
    ordered: list[WriterRegistration] = []
    done: set[str] = set()

    def waits_for(writer: WriterRegistration) -> set[str]:
        after = set(writer.after) | (usable - last if "*" in writer.after else set())
        return ({*writer.requires} | after) & usable

    while pending:
        ready = [w for w in pending if waits_for(w) <= done]
        if not ready:
            raise PluginError("writers", f"circular order among {', '.join(w.name for w in pending)}")
        ordered.extend(ready)
        done.update(w.name for w in ready)
        pending = [w for w in pending if w.name not in done]
    return ordered


def run(
    pipeline: Pipeline,
    video: Path,
    output_dir: Path,
    options: RunOptions,
    progress: Progress | None = None,
) -> RunResult:
    """Score ``video`` and write every output into ``output_dir``; nothing is left behind on failure.

    The run claims its output names (``OutputClaim``) before any work, so a concurrent run into the same
    folder is refused instead of silently replacing them.
    """
    with ExitStack() as claims:
        return _run(pipeline, video, output_dir, options, progress, claims)


def _run(
    pipeline: Pipeline,
    video: Path,
    output_dir: Path,
    options: RunOptions,
    progress: Progress | None,
    claims: ExitStack,
) -> RunResult:
    from score_core.media import probe
    from score_core.media.events import answered_events, detect_events
    from score_core.parts import drums_answer_cuts

    video = Path(video)
    started = time.perf_counter()
    info = probe(video)
    output_dir = ensure_writable_directory(Path(output_dir))
    targets = output_targets(pipeline.registry, video, output_dir, options)
    configured = writer_options(pipeline.registry, options)
    claims.enter_context(OutputClaim(output_dir, video.stem))
    folders = {name for name in targets if pipeline.registry.writers.get(name).folder}
    _refuse_clobbering(video, targets, options.overwrite, folders)
    if max(info.width, info.height) > MAX_FRAME_SIDE:
        raise ScoreError(
            str(video), f"resolution {info.width}x{info.height} is above the limit of {MAX_FRAME_SIDE} pixels a side"
        )
    segment = pipeline.latent_spec.segment_seconds(options.tempo_bpm)
    if options.sync == "grid" and info.duration < segment:
        raise ScoreError(
            str(video),
            f"video is {info.duration:.2f} s long, shorter than one {segment:g} s music segment at "
            f"{options.tempo_bpm:g} bpm (try a faster --tempo)",
        )
    pipeline.build_models()
    if options.theme_book is not None:
        if options.form != "auto" or options.sync != "cuts":
            raise ScoreError("--theme-book", "needs --form auto and --sync cuts (themes follow the shots)")
        pipeline.theme_book(options.theme_book)
    timings = {"setup": time.perf_counter() - started}
    fps = options.fps or pipeline.default_fps()
    features, change = pipeline.encode(video, fps, progress)
    timings["encode"] = time.perf_counter() - started - timings["setup"]
    events = detect_events(
        change, info.duration, luma=pipeline.frame_signals.get("luma"),
        slow_change=pipeline.frame_signals.get("slow-change"), mix_residual=pipeline.frame_signals.get("mix-residual"),
    )
    if options.cuts is not None:
        events = with_given_cuts(events, options.cuts, info.duration)
        answered = events  # the user's cuts are all answered
    else:
        answered = answered_events(events, *pipeline.grey_histograms)
    latents, score = pipeline.compose(features, info.duration, options, answered)
    if options.locks:
        score = with_locked_shots(pipeline, features, info.duration, options, answered, score)
    cuts = [event.time for event in events.shot_starts]
    phrase_cuts = [event.time for event in answered.shot_starts]
    score = with_cut_markers(drums_answer_cuts(score, phrase_cuts), cuts)
    timings["compose"] = time.perf_counter() - started - timings["setup"] - timings["encode"]
    evaluation = None
    if options.evaluate:
        evaluation = _evaluate(pipeline, video, score, change, info.duration, cuts, options)
        timings["evaluate"] = time.perf_counter() - started - sum(timings.values())
    provenance = pipeline.provenance()
    parameters = {
        "video": str(video),
        "vision": pipeline.encoder_name,
        "music": pipeline.decoder_name,
        "bridge": pipeline.bridge_registration.name,
        "vision_weights": pipeline.choice.vision_weights,
        "music_weights": pipeline.choice.music_weights,
        "bridge_weights": pipeline.choice.bridge_weights,
        "vision_layer": pipeline.choice.vision_layer,
        "vision_options": pipeline.encoder_options.model_dump(),
        "music_options": pipeline.decoder_options.model_dump(),
        "bridge_options": pipeline.bridge_options.model_dump(),
        **asdict(options),
        "fps": fps,
    }
    context = RunContext(
        video=video, video_info=info, score=score, features=features, latents=latents, visual_change=change,
        parameters=parameters,
        provenance={
            **provenance, "cuts": cuts, "timings": timings,
            "cuts_inside_phrases": sorted(set(cuts) - set(phrase_cuts)),
            "events": [event.model_dump() for event in events.events],
            "tempo_bpm": score.tempo_bpm,
            "tempo_map": [change.model_dump() for change in score.tempo_map],
        },
        targets=MappingProxyType(targets),
        evaluation=evaluation,
    )
    context, outputs = _write_outputs(pipeline.registry, context, configured, progress, options.overwrite)
    timings["write"] = time.perf_counter() - started - sum(timings.values())
    return RunResult(
        outputs=outputs, score=score, video_info=info, provenance=context.provenance, timings=timings,
        writer_notes=dict(context.notes), evaluation=evaluation,
    )


def _evaluate(
    pipeline: Pipeline, video: Path, score: Score, change: SignalTrack, duration: float, cuts: list[float],
    options: RunOptions,
) -> dict[str, Any]:
    """The run's correspondence and musicality figures against cuts found independently of the run (the
    grey-histogram detector), its own cuts as a separate labelled row, and the musicality of the decoder's prior
    samples."""
    from score_core.analysis import evaluate_music
    from score_core.analysis.cuts import histogram_cuts
    from score_core.analysis.prior import prior_musicality
    from score_core.analysis.report import INDEPENDENT_CUTS, RUN_CUTS, clean_figures, response_row
    from score_core.analysis.tempo import TempoMap

    tempo = TempoMap.of_score(score)
    figures = evaluate_music(score.notes, score.markers, tempo, duration, change, histogram_cuts(video),
                             cuts_source=INDEPENDENT_CUTS).figures
    own = evaluate_music(score.notes, score.markers, tempo, duration, change, cuts, cuts_source=RUN_CUTS).figures
    assert pipeline._decoder is not None
    prior = prior_musicality(pipeline._decoder, tempo_bpm=score.tempo_bpm, temperature=options.temperature,
                             seed=options.seed)
    return {**figures, "comparison": {"run_own_cuts": response_row(own)},
            "prior_musicality": clean_figures(prior.as_dict())}


def _refuse_clobbering(video: Path, targets: dict[str, Path], overwrite: bool, folders: set[str]) -> None:
    for name, target in targets.items():
        if target.resolve() == video.resolve():
            raise ScoreError(str(target), "an output would replace the input video; choose another -o directory")
        if target.is_dir() and name not in folders:
            raise ScoreError(str(target), "is a directory; it cannot be replaced by an output")
        if target.exists() and not overwrite:
            raise ScoreError(str(target), "already exists; pass --overwrite to replace it")


def _write_outputs(
    registry: Registry,
    context: RunContext,
    configured: dict[str, StageOptions],
    progress: Progress | None,
    overwrite: bool,
) -> tuple[RunContext, dict[str, Path]]:
    """Run the writers in order, each on a read-only context holding what the earlier ones wrote and noted;
    publish all outputs together. Returns the last context and the outputs."""
    targets = context.targets
    context = replace(context, written=MappingProxyType(dict(context.written)),
                      notes=MappingProxyType(dict(context.notes)))
    staged = StagedOutputs(dict(targets), overwrite=overwrite)
    try:
        for index, name in enumerate(targets):
            registration = registry.writers.get(name)
            if progress:
                progress(f"write {name}", index, len(targets))
            path = staged.stage(name)
            try:
                notes = registration.factory(**configured[name].model_dump()).write(context, path)
            except ScoreError:
                raise
            except (Exception, SystemExit) as error:
                raise PluginError(f"writer '{name}'", f"failed: {error!r}") from error
            written = MappingProxyType({**context.written, name: path})
            noted = MappingProxyType({**context.notes, **({name: dict(notes)} if notes else {})})
            context = replace(context, written=written, notes=noted)
        return context, staged.commit()
    finally:
        staged.discard()

"""Typed MusicVAE configurations, with Magenta's names and hyper-parameters."""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any, Literal

from score_core.errors import ScoreError

MAX_PARAMETERS = 250_000_000
"""The largest model a weights file may declare (1 GB in float32); Magenta's biggest, hierdec-mel_16bar, has 176 M."""

NUM_CLASSES = 90
"""Magenta's one-hot melody depth: 0 no event, 1 note-off, 2 + (pitch - 21) note-on for pitches 21..108."""

SamplingSchedule = Literal["none", "inverse_sigmoid", "exponential", "constant"]
EncoderInput = Literal["one_hot", "drum_roll"]
DRUM_ROLL_SIZE = 10
"""Width of Magenta's drum roll encoder input: nine drum-class bits and a silent-step bit."""


@dataclass(frozen=True)
class MusicVAEConfig:
    """Architecture and training hyper-parameters of one MusicVAE (Magenta's HParams, typed)."""

    name: str
    encoder_sizes: tuple[int, ...]
    """Units per direction of each bidirectional encoder layer (Magenta's `enc_rnn_size`)."""
    z_size: int
    decoder_sizes: tuple[int, ...]
    """Units of each decoder LSTM layer (`dec_rnn_size`); for hierarchical models the core decoder's."""
    seq_len: int = 32
    """Total steps per sequence (`max_seq_len`); 16 steps per bar."""
    conductor_sizes: tuple[int, ...] = ()
    """Conductor LSTM layers of a hierarchical decoder; empty for a flat decoder."""
    num_segments: int = 1
    """Segments (bars) the conductor emits; `seq_len` must be a multiple of it."""
    num_classes: int = NUM_CLASSES
    part_classes: tuple[int, ...] = ()
    """Class counts of the parts of a multi-part model (Magenta's trio: melody 90, bass 90, drums 512), each
    decoded by its own core decoder; their sum is `num_classes`. Empty for a one-part model."""
    encoder_input: EncoderInput = "one_hot"
    """What the encoder reads: the one-hot events, or (drum models, Magenta's `roll_input`) the drum roll."""
    free_bits: float = 0.0
    """KL nats free of cost are `free_bits * ln 2`, compared with the KL of the whole sequence."""
    max_beta: float = 1.0
    beta_rate: float = 0.0
    sampling_schedule: SamplingSchedule = "none"
    sampling_rate: float = 0.0
    batch_size: int = 512
    learning_rate: float = 1e-3
    decay_rate: float = 0.9999
    min_learning_rate: float = 1e-5
    grad_clip: float = 1.0
    grad_norm_clip_to_zero: float = 10000.0
    """Magenta skips a step (zero gradient) whose global gradient norm reaches this."""

    def __post_init__(self) -> None:
        if not self.encoder_sizes or not self.decoder_sizes or self.z_size <= 0:
            raise ValueError(f"config {self.name!r}: encoder, decoder and z sizes must be non-empty and positive")
        for key in ("encoder_sizes", "decoder_sizes", "conductor_sizes", "z_size", "seq_len", "num_segments",
                    "num_classes", "batch_size"):
            value = getattr(self, key)
            for size in value if isinstance(value, tuple) else (value,):
                if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                    raise ValueError(f"config {self.name!r}: {key} must hold positive whole numbers, not {value!r}")
        for key in ("free_bits", "max_beta", "beta_rate", "sampling_rate", "learning_rate", "decay_rate",
                    "min_learning_rate", "grad_clip", "grad_norm_clip_to_zero"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"config {self.name!r}: {key} must be a finite number >= 0, not {value!r}")
        if self.parameter_count() > MAX_PARAMETERS:
            raise ValueError(f"config {self.name!r}: {self.parameter_count():,} parameters, above the limit of "
                             f"{MAX_PARAMETERS:,}")
        if self.seq_len % self.num_segments:
            raise ValueError(f"config {self.name!r}: seq_len {self.seq_len} is not a multiple of {self.num_segments}")
        if self.num_segments > 1 and not self.conductor_sizes:
            raise ValueError(f"config {self.name!r}: several segments need conductor_sizes")
        if self.part_classes and (sum(self.part_classes) != self.num_classes or not self.hierarchical):
            raise ValueError(f"config {self.name!r}: part classes must sum to num_classes in a hierarchical model")

    def parameter_count(self) -> int:
        """How many parameters a model of this config has, computed without building it."""

        def lstms(input_size: int, sizes: tuple[int, ...], directions: int = 1) -> tuple[int, int]:
            count = 0
            for hidden in sizes:
                count += directions * 4 * hidden * (input_size + hidden + 2)
                input_size = directions * hidden
            return count, input_size

        def decoder(cond_size: int) -> int:
            count, last = lstms(self.num_classes + cond_size, self.decoder_sizes)
            state = 2 * sum(self.decoder_sizes)
            return count + (cond_size + 1) * state + (last + 1) * self.num_classes

        encoder, last = lstms(self.encoder_input_size, self.encoder_sizes, directions=2)
        total = encoder + 2 * (last + 1) * self.z_size
        if not self.conductor_sizes:
            return total + decoder(self.z_size)
        conductor, last = lstms(1, self.conductor_sizes)
        return total + conductor + (self.z_size + 1) * 2 * sum(self.conductor_sizes) + decoder(last)

    @property
    def hierarchical(self) -> bool:
        """Whether the decoder is a conductor over segments plus a core decoder per segment."""
        return bool(self.conductor_sizes)

    @property
    def encoder_input_size(self) -> int:
        """Width of one encoder input step."""
        return DRUM_ROLL_SIZE if self.encoder_input == "drum_roll" else self.num_classes

    @property
    def segment_steps(self) -> int:
        """Steps the core decoder writes per segment (the whole sequence for a flat decoder)."""
        return self.seq_len // self.num_segments

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MusicVAEConfig:
        """Inverse of `to_dict`; unknown keys are an error."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ValueError(f"unknown MusicVAE config keys: {', '.join(unknown)}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def architecture(self) -> dict[str, Any]:
        """The fields that decide parameter shapes (used to compare weights with a config)."""
        keys = ("encoder_sizes", "z_size", "decoder_sizes", "seq_len", "conductor_sizes", "num_segments",
                "num_classes", "encoder_input", "part_classes")
        return {k: getattr(self, k) for k in keys}


_MAGENTA_2BAR: dict[str, Any] = {
    "seq_len": 32, "beta_rate": 0.99999, "sampling_schedule": "inverse_sigmoid", "sampling_rate": 1000.0
}

CONFIGS: dict[str, MusicVAEConfig] = {
    c.name: c
    for c in (
        MusicVAEConfig("cat-mel_2bar_small", (512,), 256, (256, 256), free_bits=0.0, max_beta=0.2, **_MAGENTA_2BAR),
        MusicVAEConfig("cat-mel_2bar_big", (2048,), 512, (2048, 2048, 2048), free_bits=0.0, max_beta=0.5,
                       **_MAGENTA_2BAR),
        # Magenta leaves beta_rate at its default 0.0 here: beta is max_beta from step 1, no annealing.
        MusicVAEConfig("hierdec-mel_16bar", (2048, 2048), 512, (1024, 1024), seq_len=256,
                       conductor_sizes=(1024, 1024), num_segments=16, free_bits=256.0, max_beta=0.2),
        # Proposed for a ~1 hour CPU run (not a Magenta config): ~2.7 steps/s at batch 64 on one core with exact
        # scheduled sampling; annealing and sampling schedules shortened to fit ~10-17k steps.
        MusicVAEConfig("cat-mel_2bar_lite", (256,), 128, (256, 256), seq_len=32, free_bits=0.0, max_beta=0.2,
                       beta_rate=0.9998, sampling_schedule="inverse_sigmoid", sampling_rate=500.0, batch_size=64),
        # The same network with a quarter of the KL weight: the posterior keeps more of each window (denser dance
        # tunes reconstruct better); trained on from cat-mel_2bar_lite's weights.
        MusicVAEConfig("cat-mel_2bar_lite_low_beta", (256,), 128, (256, 256), seq_len=32, free_bits=0.0,
                       max_beta=0.05, beta_rate=0.9998, sampling_schedule="inverse_sigmoid", sampling_rate=500.0,
                       batch_size=64),
        # Drums: 512-way events (every subset of 9 drum classes) out, Magenta's 10-wide drum roll in.
        MusicVAEConfig("cat-drums_2bar_small", (512,), 256, (256, 256), num_classes=512, encoder_input="drum_roll",
                       free_bits=48.0, max_beta=0.2, **_MAGENTA_2BAR),
        # Ours, for about an hour of a shared CPU core on Groove MIDI (~0.2 s per batch of 64 teacher-forced):
        # Magenta's layout at half its widths, KL annealing shortened to a few thousand steps.
        MusicVAEConfig("cat-drums_2bar_lite", (128,), 64, (128, 128), num_classes=512, encoder_input="drum_roll",
                       free_bits=48.0, max_beta=0.2, beta_rate=0.9995, sampling_schedule="inverse_sigmoid",
                       sampling_rate=500.0, batch_size=64),
        # Small enough for unit tests; the same code paths as the real configs.
        MusicVAEConfig("tiny", (16,), 8, (16, 16), free_bits=0.0, max_beta=0.2, **_MAGENTA_2BAR),
        MusicVAEConfig("tiny-hierdec", (8, 8), 6, (12, 12), seq_len=32, conductor_sizes=(10, 10), num_segments=2,
                       free_bits=0.0, max_beta=0.2),
        # Magenta's trio: melody, bass and drums one-hots side by side (90 + 90 + 512), a conductor over 16 bars
        # and one core decoder per part (SplitMultiOutLstmDecoder); beta from step 1 as in hierdec-mel_16bar.
        MusicVAEConfig("hierdec-trio_16bar", (2048, 2048), 512, (1024, 1024), seq_len=256, num_classes=692,
                       part_classes=(90, 90, 512), conductor_sizes=(1024, 1024), num_segments=16, free_bits=256.0,
                       max_beta=0.2, batch_size=256),
        MusicVAEConfig("tiny-trio", (8,), 6, (10, 10), seq_len=32, num_classes=692, part_classes=(90, 90, 512),
                       conductor_sizes=(12, 12), num_segments=2, free_bits=0.0, max_beta=0.2),
        MusicVAEConfig("tiny-drums", (16,), 8, (16, 16), num_classes=512, encoder_input="drum_roll", free_bits=0.0,
                       max_beta=0.2, **_MAGENTA_2BAR),
    )
}


def get_config(name: str) -> MusicVAEConfig:
    """The named config; an unknown name is a ScoreError suggesting close names."""
    try:
        return CONFIGS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(CONFIGS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(CONFIGS)}"
        raise ScoreError(f"MusicVAE config {name!r}", f"unknown config{hint}") from None

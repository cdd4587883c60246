"""A sequential VAE over melodies with one latent per beat and a smooth AR(1) (Ornstein–Uhlenbeck) prior.

The encoder reads the whole window with a bidirectional LSTM over 16th-note steps and pools its outputs per
beat into a posterior N(mu_t, sigma_t²) for every beat t. The prior ties neighbouring beats together:
z_1 ~ N(0, I), z_t = rho·z_{t-1} + sqrt(1 - rho²)·eps_t, so every z_t is N(0, I) on its own and beats k apart
correlate by rho^k. The decoder is MusicVAE's categorical LSTM, except that each step reads the latent of its
own beat instead of one latent for the whole window; its initial state comes from the first beat's latent.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from score_music.model.decoder import as_one_hot, choose
from score_music.model.lstm import LstmState, StackedLstm

NUM_CLASSES = 90


@dataclass(frozen=True)
class StreamConfig:
    """Architecture and training hyper-parameters of the per-beat latent model."""

    name: str = "stream-mel_beat"
    z_size: int = 16
    """Dimensions of one beat's latent."""
    steps_per_latent: int = 4
    """16th-note steps each latent covers (4 = one beat)."""
    encoder_size: int = 128
    """Units per direction of the bidirectional encoder LSTM."""
    decoder_sizes: tuple[int, ...] = (256,)
    seq_len: int = 32
    rho: float = 0.9
    """AR(1) coefficient of the prior between neighbouring beats."""
    num_classes: int = NUM_CLASSES
    free_bits: float = 16.0
    """KL bits per sequence that cost nothing (Magenta's free bits)."""
    max_beta: float = 0.2
    beta_rate: float = 0.999
    """beta = (1 - beta_rate^step) · max_beta; Magenta's 0.99999 is for runs of 100k+ steps, this for a few thousand."""
    sampling_rate: float = 250.0
    """Inverse-sigmoid scheduled-sampling rate (Magenta's 2-bar models use 1000; shortened for a CPU-hour run)."""
    batch_size: int = 32
    learning_rate: float = 1e-3
    decay_rate: float = 0.9997
    min_learning_rate: float = 1e-5
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        if self.seq_len % self.steps_per_latent:
            raise ValueError(f"seq_len {self.seq_len} is not a multiple of steps_per_latent {self.steps_per_latent}")
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {self.rho}")

    @property
    def latents_per_sequence(self) -> int:
        return self.seq_len // self.steps_per_latent

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamConfig:
        """Inverse of `to_dict`; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown stream config keys: {', '.join(unknown)}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def architecture(self) -> dict[str, Any]:
        """Fields that decide parameter shapes."""
        keys = ("z_size", "steps_per_latent", "encoder_size", "decoder_sizes", "num_classes")
        return {k: getattr(self, k) for k in keys}


STREAM_CONFIGS: dict[str, StreamConfig] = {
    c.name: c
    for c in (
        StreamConfig(),
        StreamConfig("stream-tiny", z_size=4, encoder_size=16, decoder_sizes=(16,), free_bits=0.0),
    )
}


def sample_ar1_path(
    batch: int, length: int, z_size: int, rho: float, generator: torch.Generator, first: Tensor | None = None
) -> Tensor:
    """Latent paths (batch, length, z) from the AR(1) prior; `first` (batch, z) fixes z_1 if given."""
    noise = torch.randn(batch, length, z_size, generator=generator)
    scale = math.sqrt(1.0 - rho * rho)
    steps = [noise[:, 0] if first is None else first]
    for t in range(1, length):
        steps.append(rho * steps[-1] + scale * noise[:, t])
    return torch.stack(steps, dim=1)


def ar1_kl(mu: Tensor, sigma: Tensor, rho: float) -> Tensor:
    """KL(q ‖ p) per sequence (batch,), nats, for a factorised q = Π N(mu_t, sigma_t²) and the AR(1) prior.

    By the chain rule KL = KL(q_1 ‖ N(0, I)) + Σ_{t>1} E_{q(z_{t-1})} KL(q_t ‖ N(rho·z_{t-1}, 1 - rho²)); the
    expectation is closed-form because E(mu_t - rho·z_{t-1})² = (mu_t - rho·mu_{t-1})² + rho²·sigma_{t-1}².
    """
    var = sigma.square()
    first = 0.5 * (mu[:, 0].square() + var[:, 0] - 1.0 - torch.log(var[:, 0]))
    v = 1.0 - rho * rho
    mean_gap = (mu[:, 1:] - rho * mu[:, :-1]).square() + rho * rho * var[:, :-1]
    rest = 0.5 * ((var[:, 1:] + mean_gap) / v - 1.0 + math.log(v) - torch.log(var[:, 1:]))
    return first.sum(dim=-1) + rest.sum(dim=(1, 2))


class StreamVAE(nn.Module):
    """Encoder (BiLSTM pooled per beat), AR(1) prior, and a decoder LSTM reading [previous event, z of the beat]."""

    def __init__(self, config: StreamConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder_rnn = nn.LSTM(config.num_classes, config.encoder_size, batch_first=True, bidirectional=True)
        self.mu = nn.Linear(2 * config.encoder_size, config.z_size)
        self.sigma = nn.Linear(2 * config.encoder_size, config.z_size)
        self.lstm = StackedLstm(config.num_classes + config.z_size, config.decoder_sizes)
        self.z_to_initial_state = nn.Linear(config.z_size, self.lstm.state_size)
        self.output_projection = nn.Linear(config.decoder_sizes[-1], config.num_classes)

    def one_hot(self, events: Tensor) -> Tensor:
        return F.one_hot(events.long(), self.config.num_classes).float()

    def encode(self, events: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and standard deviation per beat, each (batch, beats, z), of (batch, steps) events."""
        per = self.config.steps_per_latent
        if events.ndim != 2 or events.shape[1] % per:
            raise ValueError(f"expected events (batch, steps), steps a multiple of {per}; got {tuple(events.shape)}")
        out, _ = self.encoder_rnn(self.one_hot(events))
        pooled = out.reshape(out.shape[0], -1, per, out.shape[-1]).mean(dim=2)
        return self.mu(pooled), F.softplus(self.sigma(pooled)) + 1e-4

    def initial_state(self, z_first: Tensor) -> LstmState:
        """The decoder state the first beat's latent (batch, z) sets."""
        return self.lstm.state_from_flat(torch.tanh(self.z_to_initial_state(z_first)))

    def per_step(self, z: Tensor) -> Tensor:
        """Per-beat latents (batch, beats, z) → per-step (batch, beats · steps_per_latent, z)."""
        return z.repeat_interleave(self.config.steps_per_latent, dim=1)

    def logits_for_inputs(self, inputs: Tensor, z: Tensor, state: LstmState | None = None) -> Tensor:
        """Logits (batch, steps, classes) for one-hot previous-event inputs (batch, steps, classes)."""
        state = self.initial_state(z[:, 0]) if state is None else state
        out, _ = self.lstm(torch.cat([inputs, self.per_step(z)[:, : inputs.shape[1]]], dim=-1), state)
        return self.output_projection(out)

    def teacher_forced_logits(self, events: Tensor, z: Tensor) -> Tensor:
        """Logits when every step reads the true previous event (the first reads zeros)."""
        inputs = F.pad(self.one_hot(events)[:, :-1], (0, 0, 1, 0))
        return self.logits_for_inputs(inputs, z)

    def step(self, previous: Tensor, z_beat: Tensor, state: LstmState) -> tuple[Tensor, LstmState]:
        """One step: previous one-hot (batch, classes) and the current beat's z (batch, z) → logits, state."""
        out, state = self.lstm.step(torch.cat([previous, z_beat], dim=-1), state)
        return self.output_projection(out), state

    @torch.no_grad()
    def decode(
        self,
        z: Tensor,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
        first_input: Tensor | None = None,
        state: LstmState | None = None,
    ) -> tuple[Tensor, LstmState]:
        """Events (batch, beats · steps_per_latent) from per-beat latents (batch, beats, z), and the final state.

        Pass `first_input` (previous event) and `state` to continue a line across calls without a join."""
        return self.decode_steps(self.per_step(z), temperature, generator, first_input, state)

    @torch.no_grad()
    def decode_steps(
        self,
        z_steps: Tensor,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
        first_input: Tensor | None = None,
        state: LstmState | None = None,
    ) -> tuple[Tensor, LstmState]:
        """Events (batch, steps) from a latent for every step (batch, steps, z), feeding back each chosen event."""
        state = self.initial_state(z_steps[:, 0]) if state is None else state
        previous = as_one_hot(first_input, z_steps.shape[0], self.config.num_classes, z_steps)
        events = []
        for t in range(z_steps.shape[1]):
            logits, state = self.step(previous, z_steps[:, t], state)
            chosen = choose(logits, temperature, generator)
            events.append(chosen)
            previous = F.one_hot(chosen, self.config.num_classes).to(z_steps.dtype)
        return torch.stack(events, dim=1), state

    @torch.no_grad()
    def sample(self, n: int, beats: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """`n` melodies (n, beats · steps_per_latent) decoded from latent paths drawn from the AR(1) prior."""
        z = sample_ar1_path(n, beats, self.config.z_size, self.config.rho, generator)
        return self.decode(z, temperature, generator)[0]

"""MusicVAE: encoder, decoder and the operations a user calls (encode, decode, sample, interpolate, reconstruct)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from score_music.model.config import MusicVAEConfig
from score_music.model.decoder import CategoricalLstmDecoder, HierarchicalLstmDecoder
from score_music.model.encoder import BidirectionalLstmEncoder
from score_music.model.lstm import LstmState


def slerp(z_a: Tensor, z_b: Tensor, n: int) -> Tensor:
    """`n` points from z_a to z_b (both ends included) along the great circle, scaled linearly in norm between
    the two; falls back to a straight line when the two are (anti)parallel."""
    if n < 2:
        raise ValueError(f"interpolation needs at least 2 points, got {n}")
    t = torch.linspace(0.0, 1.0, n, dtype=z_a.dtype, device=z_a.device).unsqueeze(1)
    a, b = z_a.reshape(1, -1), z_b.reshape(1, -1)
    cos = (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum().clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    if torch.sin(omega).abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


class MusicVAE(nn.Module):
    """Magenta's MusicVAE over one-hot melody events; built from a `MusicVAEConfig`."""

    def __init__(self, config: MusicVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = BidirectionalLstmEncoder(config.encoder_input_size, config.encoder_sizes, config.z_size)
        self.decoder: CategoricalLstmDecoder | HierarchicalLstmDecoder
        if config.hierarchical:
            self.decoder = HierarchicalLstmDecoder(
                config.num_classes, config.z_size, config.conductor_sizes, config.decoder_sizes,
                config.num_segments, config.segment_steps)
        else:
            self.decoder = CategoricalLstmDecoder(config.num_classes, config.z_size, config.decoder_sizes)

    def one_hot(self, events: Tensor) -> Tensor:
        """(batch, time) event indices → float one-hot (batch, time, classes)."""
        return F.one_hot(events.long(), self.config.num_classes).float()

    def encode(self, events: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and standard deviation, each (batch, z), of (batch, seq_len) event indices."""
        if events.ndim != 2 or events.shape[1] != self.config.seq_len:
            raise ValueError(f"expected events (batch, {self.config.seq_len}), got {tuple(events.shape)}")
        return self.encoder(self.encoder_inputs(events))

    def encoder_inputs(self, events: Tensor) -> Tensor:
        """What the encoder reads for (batch, time) events: their one-hot, or the drum roll (class bits of the
        event index, then a bit set on silent steps)."""
        if self.config.encoder_input == "one_hot":
            return self.one_hot(events)
        bits = torch.arange(self.config.encoder_input_size - 1, device=events.device)
        hits = (events.long().unsqueeze(-1) >> bits) & 1
        silent = (hits.sum(dim=-1, keepdim=True) == 0).long()
        return torch.cat([hits, silent], dim=-1).float()

    def teacher_forced_logits(self, events: Tensor, z: Tensor) -> Tensor:
        """Logits (batch, time, classes) when the decoder reads the true previous event at every step."""
        targets = self.one_hot(events)
        inputs = F.pad(targets[:, :-1], (0, 0, 1, 0))  # first input zeros, then the targets shifted right
        return self.decoder.teacher_forced(inputs, z)

    def scheduled_logits(self, events: Tensor, z: Tensor, probability: float, generator: torch.Generator) -> Tensor:
        """Logits under exact step-by-step scheduled sampling (flat decoders only)."""
        if not isinstance(self.decoder, CategoricalLstmDecoder):
            raise ValueError("scheduled sampling is implemented for the flat categorical decoder only")
        targets = self.one_hot(events)
        inputs = F.pad(targets[:, :-1], (0, 0, 1, 0))
        return self.decoder.scheduled(inputs, z, probability, generator)

    @torch.no_grad()
    def decode(
        self,
        z: Tensor,
        steps: int | None = None,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
        first_input: Tensor | None = None,
        state: LstmState | None = None,
        onset_steps: frozenset[int] = frozenset(),
    ) -> tuple[Tensor, LstmState]:
        """Events (batch, steps) from latents (batch, z) and the decoder's final state.

        `first_input` (one-hot (batch, classes) or indices (batch,)) and `state` let a caller continue across a
        segment boundary: pass the previous segment's last event (and, for a flat decoder, its final state to
        keep the old z's state instead of starting from the new z's). A flat decoder also takes a latent path
        (batch, steps, z), one latent per step, and `onset_steps` where only a note-on may start."""
        steps = self.config.seq_len if steps is None else steps
        if isinstance(self.decoder, CategoricalLstmDecoder):
            return self.decoder.sample(z, steps, temperature, generator, first_input, state, onset_steps)
        if z.ndim == 3 or onset_steps:
            raise ValueError("latent paths and onset steps need a flat decoder")
        return self.decoder.sample(z, steps, temperature, generator, first_input, state)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """`n` sequences (n, seq_len) decoded from z drawn from the prior N(0, I) with `generator`."""
        z = torch.randn(n, self.config.z_size, generator=generator)
        return self.decode(z, temperature=temperature, generator=generator)[0]

    @torch.no_grad()
    def interpolate(self, z_a: Tensor, z_b: Tensor, n: int) -> Tensor:
        """`n` latents (n, z) from z_a to z_b by spherical interpolation; decode them with `decode`."""
        return slerp(z_a, z_b, n)

    @torch.no_grad()
    def reconstruct(
        self, events: Tensor, temperature: float = 0.0, generator: torch.Generator | None = None,
        use_mean: bool = True,
    ) -> Tensor:
        """Encode and decode (batch, seq_len) events; z is the posterior mean unless `use_mean` is False."""
        mu, sigma = self.encode(events)
        if use_mean:
            z = mu
        else:
            if generator is None:
                raise ValueError("sampling z needs an explicit torch.Generator")
            z = mu + sigma * torch.randn(mu.shape, generator=generator)
        return self.decode(z, temperature=temperature, generator=generator)[0]


def kl_divergence(mu: Tensor, sigma: Tensor) -> Tensor:
    """KL(N(mu, sigma²) ‖ N(0, I)) in nats, per sequence (batch,)."""
    return 0.5 * (mu.square() + sigma.square() - 1.0 - 2.0 * torch.log(sigma)).sum(dim=-1)


def free_nats(free_bits: float) -> float:
    """Magenta's free bits per sequence, in nats."""
    return free_bits * math.log(2.0)

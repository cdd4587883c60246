"""Magenta's `hierdec-trio_16bar`: one latent for 16 bars of melody, bass and drums.

The encoder reads the three parts' one-hots side by side (90 + 90 + 512 per step). The decoder is Magenta's
HierarchicalLstmDecoder with autoregression disabled around a SplitMultiOutLstmDecoder: a conductor LSTM fed
zeros emits one embedding per bar, and for each bar three categorical LSTM decoders (melody, bass, drums), each
with its own weights, read that same embedding (initial state and per-step input) and their own previous event.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from score_music.model.config import MusicVAEConfig
from score_music.model.decoder import CategoricalLstmDecoder
from score_music.model.encoder import BidirectionalLstmEncoder
from score_music.model.lstm import LstmState, StackedLstm


class HierarchicalSplitDecoder(nn.Module):
    """A conductor over bars and one core decoder per part (Magenta's SplitMultiOutLstmDecoder as the core)."""

    def __init__(self, config: MusicVAEConfig) -> None:
        super().__init__()
        self.part_classes = config.part_classes
        self.num_segments = config.num_segments
        self.segment_steps = config.segment_steps
        self.conductor = StackedLstm(1, config.conductor_sizes)
        self.conductor_initial_state = nn.Linear(config.z_size, self.conductor.state_size)
        self.parts = nn.ModuleList(
            CategoricalLstmDecoder(classes, config.conductor_sizes[-1], config.decoder_sizes)
            for classes in config.part_classes
        )

    def embeddings(self, z: Tensor, segments: int) -> Tensor:
        """Conductor outputs (batch, segments, conductor units)."""
        state = self.conductor.state_from_flat(torch.tanh(self.conductor_initial_state(z)))
        out, _ = self.conductor(z.new_zeros(z.shape[0], segments, 1), state)
        return out

    def teacher_forced(self, events: Tensor, z: Tensor) -> list[Tensor]:
        """Logits per part, each (batch, time, part classes), for events (batch, time, parts)."""
        batch, steps, _ = events.shape
        emb = self.embeddings(z, self.num_segments).reshape(batch * self.num_segments, -1)
        logits = []
        for index, (decoder, classes) in enumerate(zip(self.parts, self.part_classes, strict=True)):
            one_hot = F.one_hot(events[..., index].long(), classes).float()
            # Shifted over the whole sequence, then cut into bars: a bar reads the previous bar's last event.
            inputs = F.pad(one_hot[:, :-1], (0, 0, 1, 0)).reshape(batch * self.num_segments, self.segment_steps,
                                                                   classes)
            part = cast(CategoricalLstmDecoder, decoder)
            logits.append(part.teacher_forced(inputs, emb).reshape(batch, steps, classes))
        return logits

    def sample(
        self, z: Tensor, steps: int, temperature: float, generator: torch.Generator | None,
        first_input: Tensor | None = None,
    ) -> Tensor:
        """Events (batch, steps, parts), bar by bar; each part's bar starts from its previous bar's last event."""
        if steps % self.segment_steps or steps > self.num_segments * self.segment_steps:
            raise ValueError(f"steps must be a multiple of {self.segment_steps} up to "
                             f"{self.num_segments * self.segment_steps}, got {steps}")
        emb = self.embeddings(z, steps // self.segment_steps)
        previous: list[Tensor | None] = [None if first_input is None else first_input[:, i]
                                         for i in range(len(self.parts))]
        bars = []
        for bar in range(emb.shape[1]):
            parts = []
            for index, decoder in enumerate(self.parts):
                part = cast(CategoricalLstmDecoder, decoder)
                events, _ = part.sample(emb[:, bar], self.segment_steps, temperature, generator, previous[index])
                previous[index] = events[:, -1]
                parts.append(events)
            bars.append(torch.stack(parts, dim=-1))
        return torch.cat(bars, dim=1)


class TrioVAE(nn.Module):
    """A multi-part MusicVAE (Magenta's trio); events are (batch, time, parts) class indices."""

    def __init__(self, config: MusicVAEConfig) -> None:
        super().__init__()
        if not config.part_classes:
            raise ValueError(f"config {config.name!r} has no parts")
        self.config = config
        self.encoder = BidirectionalLstmEncoder(config.num_classes, config.encoder_sizes, config.z_size)
        self.decoder = HierarchicalSplitDecoder(config)

    def one_hot(self, events: Tensor) -> Tensor:
        """(batch, time, parts) indices → the parts' one-hots side by side (batch, time, sum of classes)."""
        return torch.cat([F.one_hot(events[..., i].long(), classes).float()
                          for i, classes in enumerate(self.config.part_classes)], dim=-1)

    def encode(self, events: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and standard deviation (batch, z) of (batch, seq_len, parts) events."""
        want = (self.config.seq_len, len(self.config.part_classes))
        if events.ndim != 3 or tuple(events.shape[1:]) != want:
            raise ValueError(f"expected events (batch, {want[0]}, {want[1]}), got {tuple(events.shape)}")
        return self.encoder(self.one_hot(events))

    def teacher_forced_logits(self, events: Tensor, z: Tensor) -> list[Tensor]:
        """Logits per part when every core decoder reads the true previous event."""
        return self.decoder.teacher_forced(events, z)

    @torch.no_grad()
    def decode(
        self,
        z: Tensor,
        steps: int | None = None,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
        first_input: Tensor | None = None,
        state: LstmState | None = None,
    ) -> tuple[Tensor, LstmState]:
        """Events (batch, steps, parts) from latents (batch, z); `first_input` (batch, parts) continues from a
        previous segment's last events. The decoder restarts every bar from the conductor: no state to pass."""
        if state is not None:
            raise ValueError("the trio decoder restarts every bar from the conductor: pass first_input")
        steps = self.config.seq_len if steps is None else steps
        return self.decoder.sample(z, steps, temperature, generator, first_input), ()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, temperature: float = 1.0) -> Tensor:
        """`n` sequences (n, seq_len, parts) decoded from z drawn from the prior with `generator`."""
        z = torch.randn(n, self.config.z_size, generator=generator)
        return self.decode(z, temperature=temperature, generator=generator)[0]

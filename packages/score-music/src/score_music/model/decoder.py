"""MusicVAE decoders: the categorical LSTM decoder and the hierarchical (conductor) decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from score_music.model.lstm import LstmState, StackedLstm


def choose(logits: Tensor, temperature: float, generator: torch.Generator | None) -> Tensor:
    """Event indices from logits: argmax at temperature 0, else categorical over logits / temperature."""
    if temperature <= 0.0:
        return logits.argmax(dim=-1)
    if generator is None:
        raise ValueError("sampling at temperature > 0 needs an explicit torch.Generator")
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def as_one_hot(first_input: Tensor | None, batch: int, num_classes: int, like: Tensor) -> Tensor:
    """The decoder's first input: zeros, a one-hot (batch, classes), or event indices (batch,)."""
    if first_input is None:
        return like.new_zeros(batch, num_classes)
    if first_input.dtype in (torch.int64, torch.int32):
        return F.one_hot(first_input.long(), num_classes).to(like.dtype)
    if first_input.shape != (batch, num_classes):
        raise ValueError(f"first_input has shape {tuple(first_input.shape)}, expected ({batch}, {num_classes})")
    return first_input.to(like.dtype)


class CategoricalLstmDecoder(nn.Module):
    """LSTM decoder whose inputs are the previous one-hot output concatenated with a conditioning vector `z`,
    and whose initial state is tanh(Dense(z)) split as c0, h0, c1, h1, …."""

    def __init__(self, num_classes: int, cond_size: int, sizes: tuple[int, ...]) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.lstm = StackedLstm(num_classes + cond_size, sizes)
        self.z_to_initial_state = nn.Linear(cond_size, self.lstm.state_size)
        self.output_projection = nn.Linear(sizes[-1], num_classes)

    def initial_state(self, z: Tensor) -> LstmState:
        """The decoder state that `z` sets."""
        return self.lstm.state_from_flat(torch.tanh(self.z_to_initial_state(z)))

    def teacher_forced(self, inputs: Tensor, z: Tensor, state: LstmState | None = None) -> Tensor:
        """Logits (batch, time, classes) for one-hot inputs (batch, time, classes) shifted right by one step."""
        state = self.initial_state(z) if state is None else state
        x = torch.cat([inputs, z.unsqueeze(1).expand(-1, inputs.shape[1], -1)], dim=-1)
        out, _ = self.lstm(x, state)
        return self.output_projection(out)

    def step(self, previous: Tensor, z: Tensor, state: LstmState) -> tuple[Tensor, LstmState]:
        """One step: previous one-hot (batch, classes) → logits (batch, classes), new state."""
        out, state = self.lstm.step(torch.cat([previous, z], dim=-1), state)
        return self.output_projection(out), state

    def scheduled(
        self, inputs: Tensor, z: Tensor, probability: float, generator: torch.Generator
    ) -> Tensor:
        """Scheduled sampling, step by step (Magenta's ScheduledOutputTrainingHelper): from step 1 on, each
        sequence's input is, with `probability`, a sample (temperature 1) of its own previous output instead of
        the ground truth. Returns logits (batch, time, classes)."""
        state = self.initial_state(z)
        previous = inputs[:, 0]
        logits: list[Tensor] = []
        for t in range(inputs.shape[1]):
            if t > 0:
                with torch.no_grad():
                    sampled = F.one_hot(choose(logits[-1], 1.0, generator), self.num_classes).to(inputs.dtype)
                    use = torch.rand(inputs.shape[0], 1, generator=generator) < probability
                previous = torch.where(use, sampled, inputs[:, t])
            step_logits, state = self.step(previous, z, state)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)

    def sample(
        self,
        z: Tensor,
        steps: int,
        temperature: float,
        generator: torch.Generator | None,
        first_input: Tensor | None = None,
        state: LstmState | None = None,
        onset_steps: frozenset[int] = frozenset(),
    ) -> tuple[Tensor, LstmState]:
        """Decode `steps` events (batch, steps) from `z`, feeding back each chosen event.

        `z` is (batch, z) for one latent, or a path (batch, steps, z) read one row per step (the initial state
        then comes from the first row). At `onset_steps` only note-ons may be chosen."""
        path = z if z.ndim == 3 else None
        if path is not None and path.shape[1] != steps:
            raise ValueError(f"a latent path of {path.shape[1]} steps for {steps} steps")
        first = path[:, 0] if path is not None else z
        state = self.initial_state(first) if state is None else state
        previous = as_one_hot(first_input, first.shape[0], self.num_classes, first)
        events = []
        for t in range(steps):
            logits, state = self.step(previous, path[:, t] if path is not None else z, state)
            if t in onset_steps:
                logits = logits.clone()
                logits[:, :2] = float("-inf")  # no-event and note-off
            chosen = choose(logits, temperature, generator)
            events.append(chosen)
            previous = F.one_hot(chosen, self.num_classes).to(first.dtype)
        return torch.stack(events, dim=1), state


class HierarchicalLstmDecoder(nn.Module):
    """Magenta's HierarchicalLstmDecoder with autoregression disabled: a conductor LSTM fed zeros (one input
    unit) runs once per segment from tanh(Dense(z)); each conductor output is the conditioning vector of the
    core decoder for that segment (its initial state via the core's own tanh dense, and its per-step input)."""

    def __init__(
        self,
        num_classes: int,
        z_size: int,
        conductor_sizes: tuple[int, ...],
        core_sizes: tuple[int, ...],
        num_segments: int,
        segment_steps: int,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_segments = num_segments
        self.segment_steps = segment_steps
        self.conductor = StackedLstm(1, conductor_sizes)
        self.conductor_initial_state = nn.Linear(z_size, self.conductor.state_size)
        self.core = CategoricalLstmDecoder(num_classes, conductor_sizes[-1], core_sizes)

    def embeddings(self, z: Tensor, segments: int) -> Tensor:
        """Conductor outputs (batch, segments, conductor units)."""
        state = self.conductor.state_from_flat(torch.tanh(self.conductor_initial_state(z)))
        out, _ = self.conductor(z.new_zeros(z.shape[0], segments, 1), state)
        return out

    def teacher_forced(self, inputs: Tensor, z: Tensor) -> Tensor:
        """Logits (batch, time, classes); all segments run as one batch through the core decoder."""
        batch, steps, classes = inputs.shape
        emb = self.embeddings(z, self.num_segments).reshape(batch * self.num_segments, -1)
        per_segment = inputs.reshape(batch * self.num_segments, self.segment_steps, classes)
        return self.core.teacher_forced(per_segment, emb).reshape(batch, steps, classes)

    def sample(
        self,
        z: Tensor,
        steps: int,
        temperature: float,
        generator: torch.Generator | None,
        first_input: Tensor | None = None,
        state: LstmState | None = None,
    ) -> tuple[Tensor, LstmState]:
        """Decode segment by segment; each segment starts from the previous segment's last event."""
        if state is not None:
            raise ValueError("the hierarchical decoder restarts every segment from the conductor: pass first_input")
        if steps % self.segment_steps or steps > self.num_segments * self.segment_steps:
            raise ValueError(f"steps must be a multiple of {self.segment_steps} up to "
                             f"{self.num_segments * self.segment_steps}, got {steps}")
        emb = self.embeddings(z, steps // self.segment_steps)
        previous: Tensor | None = first_input
        pieces = []
        final: LstmState = ()
        for s in range(emb.shape[1]):
            events, final = self.core.sample(emb[:, s], self.segment_steps, temperature, generator, previous)
            pieces.append(events)
            previous = events[:, -1]
        return torch.cat(pieces, dim=1), final

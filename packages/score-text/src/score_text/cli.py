"""`score text …`: train, sample, interpolate, evaluate (keras is imported inside each command)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from score_core.errors import ScoreError

app = typer.Typer(help="RNN language model and Bowman sentence VAE (Keras 3): train, sample, interpolate, evaluate.",
                  no_args_is_help=True)


class ModelKind(StrEnum):
    lm = "lm"
    vae = "vae"


class Level(StrEnum):
    word = "word"
    char = "char"


class Cell(StrEnum):
    lstm = "lstm"
    gru = "gru"


class Anneal(StrEnum):
    sigmoid = "sigmoid"
    linear = "linear"
    none = "none"


class Layout(StrEnum):
    auto = "auto"
    lines = "lines"
    free = "free"


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise ScoreError(str(path), "already exists; pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise ScoreError(str(path), "its directory does not exist")
    if path.suffix != ".keras":
        raise ScoreError(str(path), "the model file name must end in .keras")


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="Plain text: one sentence per line, or free text.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write (.keras).")],
    model: Annotated[ModelKind, typer.Option(help="lm: RNN language model; vae: Bowman sentence VAE.")] = ModelKind.lm,
    level: Annotated[Level, typer.Option(help="Tokens are words (split on spaces) or characters.")] = Level.word,
    layout: Annotated[Layout, typer.Option("--format", help="Sentences per line, free text, or guess.")] = Layout.auto,
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    seed: Annotated[int, typer.Option()] = 0,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
    learning_rate: Annotated[float, typer.Option("--lr", min=0.0)] = 1e-3,
    max_vocab: Annotated[int, typer.Option(min=5, help="Vocabulary cap, specials included.")] = 10000,
    max_length: Annotated[int, typer.Option(min=0, help="Drop longer sentences (0: keep all).")] = 0,
    validation: Annotated[float, typer.Option(min=0.0, max=0.5, help="Fraction held out.")] = 0.05,
    validation_file: Annotated[Path | None, typer.Option(help="Held-out sentences from this file instead of a "
                                                         "fraction of DATA (e.g. ptb.valid.txt).")] = None,
    patience: Annotated[int, typer.Option(min=0, help="Stop after N epochs without a better validation figure "
                                                      "and keep the best model (0: train every epoch).")] = 0,
    minutes: Annotated[float, typer.Option(min=0.0, help="Stop after this much wall time (0: no limit).")] = 0.0,
    embedding_dim: Annotated[int, typer.Option(min=1)] = 64,
    units: Annotated[int, typer.Option(min=1, help="RNN units (encoder and decoder for the VAE).")] = 128,
    layers: Annotated[int, typer.Option(min=1, help="Stacked RNN layers (LM).")] = 1,
    cell: Annotated[Cell, typer.Option(help="LM cell.")] = Cell.lstm,
    one_hot: Annotated[bool, typer.Option(help="LM input as one-hot rows instead of an embedding.")] = False,
    dropout: Annotated[float, typer.Option(min=0.0, max=0.9, help="LM dropout on RNN inputs and outputs.")] = 0.0,
    latent_dim: Annotated[int, typer.Option(min=1)] = 16,
    word_dropout: Annotated[float, typer.Option(min=0.0, max=1.0, help="VAE: decoder inputs → UNK.")] = 0.3,
    feed_z: Annotated[bool, typer.Option(help="VAE: feed z to the decoder at every step.")] = False,
    anneal: Annotated[Anneal, typer.Option(help="VAE: KL weight schedule, per step.")] = Anneal.sigmoid,
    anneal_steps: Annotated[int, typer.Option(min=1, help="VAE: steps until the KL weight is ~1.")] = 2000,
    free_bits: Annotated[float, typer.Option(min=0.0, help="VAE: minimum KL per latent dimension (nats).")] = 0.0,
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint after every epoch (default MODEL.ckpt.keras)."
                                                    )] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the checkpoint.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output file.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train a model on DATA and save it as a .keras file (vocabulary inside, and beside as MODEL.vocab.json)."""
    _refuse_existing(output, overwrite)
    from score_text.evaluate import evaluate
    from score_text.storage import save_model
    from score_text.train import TrainConfig
    from score_text.train import train as run_training

    if model is ModelKind.lm:
        args = {"embedding_dim": embedding_dim, "units": units, "layers": layers, "cell": cell.value,
                "one_hot": one_hot, "dropout": dropout}
    else:
        args = {"embedding_dim": embedding_dim, "encoder_units": units, "decoder_units": units,
                "latent_dim": latent_dim, "word_dropout": word_dropout, "feed_z": feed_z, "anneal": anneal.value,
                "anneal_steps": anneal_steps, "free_bits": free_bits}
    config = TrainConfig(model=model.value, level=level.value, layout=layout.value, epochs=epochs,
                         batch_size=batch_size, learning_rate=learning_rate, seed=seed, max_vocab=max_vocab,
                         max_length=max_length, validation=0.0 if validation_file else validation, model_args=args,
                         progress=not quiet, minutes=minutes,
                         validation_file=str(validation_file) if validation_file else "", patience=patience)
    ckpt = checkpoint or output.with_name(output.stem + ".ckpt.keras")
    result = run_training(data, config, checkpoint=ckpt, resume=resume)
    save_model(result.model, output)
    last = result.history[-1] if result.history else {}
    typer.echo(f"wrote {output} ({result.model.kind}, {len(result.model.vocabulary)} tokens, "
               f"{len(result.history)} epochs this run; loss {last.get('loss', float('nan')):.4f})")
    if result.validation:
        figures = evaluate(result.model, result.validation, seed=seed)
        typer.echo("validation " + json.dumps(figures.as_dict()))


@app.command()
def sample(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A .keras file from `score text train`.")],
    count: Annotated[int, typer.Option("-n", min=1, max=1000, help="Sentences to generate.")] = 5,
    temperature: Annotated[float, typer.Option(min=0.0, help="0: greedy.")] = 1.0,
    seed: Annotated[int, typer.Option()] = 0,
    max_length: Annotated[int, typer.Option(min=1)] = 40,
) -> None:
    """Print COUNT sentences sampled from the model (the VAE samples z from its prior)."""
    from score_text.generate import sample as run_sample
    from score_text.storage import load_model

    for line in run_sample(load_model(model_path, compile=False), count, temperature, seed, max_length):
        typer.echo(line)


@app.command()
def interpolate(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A sentence VAE .keras file.")],
    first: Annotated[str, typer.Argument(help="Sentence a.")],
    second: Annotated[str, typer.Argument(help="Sentence b.")],
    steps: Annotated[int, typer.Option(min=2, max=100)] = 5,
    max_length: Annotated[int, typer.Option(min=1)] = 40,
) -> None:
    """Print STEPS greedy decodings along the line from sentence a to sentence b in latent space."""
    from score_text.generate import interpolate as run_interpolate
    from score_text.storage import load_model

    for line in run_interpolate(load_model(model_path, compile=False), first, second, steps, max_length):
        typer.echo(line)


@app.command()
def evaluate(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A .keras file from `score text train`.")],
    data: Annotated[Path, typer.Argument(help="Plain text to score.")],
    layout: Annotated[Layout, typer.Option("--format")] = Layout.auto,
    seed: Annotated[int, typer.Option(help="Seed of the VAE's z sample.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """NLL per token and per sentence, perplexity (and KL, active units for the VAE) of DATA."""
    from score_text.data import load_sentences
    from score_text.evaluate import evaluate as run_evaluate
    from score_text.storage import load_model

    model = load_model(model_path, compile=False)
    sentences = load_sentences(data, model.vocabulary.level, layout.value)
    figures = run_evaluate(model, [model.vocabulary.encode(s) for s in sentences], seed=seed).as_dict()
    if as_json:
        typer.echo(json.dumps(figures))
        return
    for key, value in figures.items():
        typer.echo(f"{key:18s} {value:.4f}" if isinstance(value, float) else f"{key:18s} {value}")

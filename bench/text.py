"""Train the score-text LM and sentence VAE on Penn Treebank for a fixed wall budget; print test figures.

    .venv/bin/python bench/text.py --minutes 10 --threads 2

PTB is read from ../shared/data/text/ptb.zip into a temporary folder (never copied into the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path

PTB = Path(__file__).resolve().parents[2] / "shared" / "data" / "text" / "ptb.zip"


def extract(archive: Path, folder: Path) -> dict[str, Path]:
    with zipfile.ZipFile(archive) as handle:
        for split in ("train", "valid", "test"):
            handle.extract(f"ptb.{split}.txt", folder)
    return {split: folder / f"ptb.{split}.txt" for split in ("train", "valid", "test")}


def run(kind: str, files: dict[str, Path], minutes: float, seed: int, out: Path) -> dict[str, object]:
    from score_text.data import load_sentences
    from score_text.evaluate import evaluate
    from score_text.train import TrainConfig, train

    args: dict[str, object] = {"embedding_dim": 256, "units": 256} if kind == "lm" else {
        "embedding_dim": 256, "encoder_units": 256, "decoder_units": 256, "latent_dim": 32, "word_dropout": 0.3,
        "anneal": "sigmoid", "anneal_steps": 2000}
    config = TrainConfig(model=kind, epochs=1000, batch_size=32, learning_rate=1e-3, seed=seed, max_vocab=10000,
                         validation=0.0, model_args=args, progress=False, minutes=minutes, layout="lines")
    started = time.perf_counter()
    result = train(files["train"], config, checkpoint=out / f"{kind}.ckpt.keras")
    trained = time.perf_counter() - started
    vocabulary = result.model.vocabulary
    test = [vocabulary.encode(s) for s in load_sentences(files["test"], "word", "lines")]
    figures = evaluate(result.model, test, seed=seed).as_dict()
    steps = int(result.model.optimizer.iterations.numpy() if hasattr(result.model.optimizer.iterations, "numpy")
                else result.model.optimizer.iterations)
    return {"model": kind, "train_seconds": round(trained, 1), "steps": steps,
            "epochs_started": len(result.epoch_seconds) + (0 if trained < minutes * 60 else 1),
            "seconds_per_epoch": [round(s, 1) for s in result.epoch_seconds],
            "last_train_logs": result.history[-1] if result.history else None, "test": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="Wall budget per model.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="lm,vae")
    parser.add_argument("--data", type=Path, default=PTB)
    options = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import torch

    torch.set_num_threads(options.threads)
    with tempfile.TemporaryDirectory() as folder:
        files = extract(options.data, Path(folder))
        for kind in options.models.split(","):
            print(json.dumps(run(kind, files, options.minutes, options.seed, Path(folder))), flush=True)


if __name__ == "__main__":
    main()

"""Helpers shared by the text tests: the templated corpus and the CLI entry."""

from __future__ import annotations

import random

TOPICS = [
    (["the cat", "the dog", "a kitten", "the puppy"], ["chases", "licks", "bites"], ["the mouse", "a bone"],
     ["happily", "at home"]),
    (["the pilot", "a driver", "the captain"], ["steers", "parks", "flies"], ["the plane", "a truck", "the ship"],
     ["slowly", "at the port"]),
    (["the chef", "a baker", "the cook"], ["bakes", "cuts", "serves"], ["the bread", "a cake", "the soup"],
     ["in the kitchen", "for dinner"]),
    (["the farmer", "a gardener"], ["plants", "waters", "harvests"], ["the corn", "a tree", "the wheat"],
     ["in spring", "every morning"]),
]
TINY = ["--epochs", "12", "--units", "48", "--embedding-dim", "24", "--lr", "0.01", "--batch-size", "32", "--quiet"]


def corpus_lines(count: int = 320, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        subjects, verbs, objects, extras = rng.choice(TOPICS)
        extra = f" {rng.choice(extras)}" if rng.random() < 0.5 else ""
        lines.append(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}{extra}")
    return lines


def run_cli(*args: str) -> int:
    from score_cli.app import main

    return main(["text", *args])

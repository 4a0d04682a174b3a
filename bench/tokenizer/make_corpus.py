#!/usr/bin/env python3
"""Writes the tokenizer benchmark corpus (default 4 MB) to stdout: deterministic mixed text, built
from tests/data/tokenizer/multilingual.txt's lines (prose in 14+ scripts, emoji, numbers) and
synthetic code, shuffled into paragraphs. Usage: make_corpus.py [MEGABYTES] > corpus.txt
"""
import pathlib
import random
import sys

here = pathlib.Path(__file__).resolve().parent
lines = (here / "../../tests/data/tokenizer/multilingual.txt").read_text(encoding="utf-8").splitlines()
target = int(float(sys.argv[1]) * 1024 * 1024) if len(sys.argv) > 1 else 4 * 1024 * 1024
rng = random.Random(1234)
idents = ["count", "value", "request", "tokens", "buffer", "index", "result", "parser", "i", "n"]


def code_block():
    out = []
    for _ in range(rng.randint(3, 12)):
        a, b = rng.choice(idents), rng.choice(idents)
        out.append(rng.choice([
            f"    if ({a} >= {rng.randint(0, 99999)}) {{ return {b}[{a}] + {rng.random():.4f}; }}",
            f"def {a}_{b}(self, {a}: int = {rng.randint(0, 500)}) -> list[str]:",
            f"        {a}.append({b!r})  # TODO: handle the {b} case",
            f"const {a} = await fetch(`/api/v1/{b}/${{id}}`, {{ method: 'POST' }});",
            f"    for {a} in range(len({b})):\n        {b}[{a}] *= 2",
        ]))
    return "\n".join(out)


size = 0
parts = []
while size < target:
    if rng.random() < 0.25:
        block = code_block()
    else:
        block = " ".join(rng.choice(lines) for _ in range(rng.randint(2, 8)))
    parts.append(block)
    size += len(block.encode("utf-8")) + 2
sys.stdout.write("\n\n".join(parts) + "\n")

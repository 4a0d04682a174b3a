#!/usr/bin/env python3
"""Converts one of npm tiktoken's encoders/<name>.json into the binary blob tokenizer.cc embeds.

Input: {"pat_str": ..., "special_tokens": {text: id}, "bpe_ranks": "! <first rank> <b64> <b64> ..."}
(each "!" starts a run of consecutive ranks). Output (little-endian u32 unless noted):
    "PHTK" magic, version 1, id count N (max id + 1), special count S,
    S special ids, N + 1 byte offsets, then the token bytes (id i = bytes[off[i], off[i+1])).
An id that is neither a rank nor a special token has no bytes.

The pre-tokenizer in tokenizer.cc is a hand-written scanner for a fixed pattern, so the pattern in
the file must be the one it implements: any other fails the build instead of tokenizing wrongly.
"""
import base64
import json
import struct
import sys

PATTERNS = {
    "cl100k_base": r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
    "o200k_base": r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+""",
}


def fail(message):
    sys.exit(f"gen_ranks.py: {message}")


def main():
    if len(sys.argv) != 4:
        fail("usage: gen_ranks.py ENCODING_NAME INPUT.json OUTPUT.bin")
    name, src, dst = sys.argv[1:]
    if name not in PATTERNS:
        fail(f"unknown encoding {name!r}")
    try:
        with open(src, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        fail(f"cannot read {src}: {e.strerror} (the npm package tiktoken is missing: run scripts/setup.sh)")
    if data.get("pat_str") != PATTERNS[name]:
        fail(f"{src}: pat_str differs from the pattern the scanner in tokenizer.cc implements")

    tokens = {}
    rank = None
    parts = data["bpe_ranks"].split(" ")
    i = 0
    while i < len(parts):
        if parts[i] == "!":
            rank = int(parts[i + 1])
            i += 2
            continue
        if rank is None:
            fail(f"{src}: bpe_ranks does not start with '! <rank>'")
        tokens[rank] = base64.b64decode(parts[i], validate=True)
        rank += 1
        i += 1
    if len(set(tokens.values())) != len(tokens):
        fail(f"{src}: duplicate token bytes in bpe_ranks")
    specials = {int(v): k.encode("utf-8") for k, v in data["special_tokens"].items()}
    for sid in specials:
        if sid in tokens:
            fail(f"{src}: special token id {sid} is also a rank")
    all_ids = {**tokens, **specials}
    n = max(all_ids) + 1

    out = bytearray(b"PHTK")
    out += struct.pack("<III", 1, n, len(specials))
    out += b"".join(struct.pack("<I", s) for s in sorted(specials))
    offset = 0
    offsets = [0]
    for tid in range(n):
        offset += len(all_ids.get(tid, b""))
        offsets.append(offset)
    out += struct.pack(f"<{n + 1}I", *offsets)
    out += b"".join(all_ids.get(tid, b"") for tid in range(n))
    with open(dst, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()

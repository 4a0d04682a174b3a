#!/usr/bin/env python3
"""Writes a deterministic mixed corpus for the sanitizer benchmark: prose, code, JSON and log
lines, with a sprinkling of SSNs, card numbers, emails, phone numbers, API keys and python blocks
that import os. Usage: gen_corpus.py OUT [MEGABYTES=100]"""
import random
import sys

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at "
         "which but have an they you were her she there been one all we their has would when "
         "model token latency request response cache retry fallback budget trace span gateway "
         "version release deploy cluster node vector index query embedding prompt answer").split()


def luhn_digit(digits):
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = int(d)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def card(r):
    body = "4" + "".join(r.choice("0123456789") for _ in range(14))
    number = body + luhn_digit(body)
    style = r.randrange(3)
    if style == 0:
        return number
    sep = " " if style == 1 else "-"
    return sep.join(number[i:i + 4] for i in range(0, 16, 4))


def secret(r):
    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    pick = lambda n: "".join(r.choice(alnum) for _ in range(n))
    return r.choice([
        lambda: "sk-proj-" + pick(48),
        lambda: "AKIA" + "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
        lambda: "ghp_" + pick(36),
        lambda: "xoxb-" + pick(24),
        lambda: "Bearer " + pick(40),
    ])()


def pii(r):
    kind = r.randrange(5)
    if kind == 0:
        return f"{r.randint(100, 665):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"
    if kind == 1:
        return card(r)
    if kind == 2:
        return f"{r.choice(WORDS)}.{r.choice(WORDS)}{r.randint(1, 99)}@example{r.randint(1, 9)}.com"
    if kind == 3:
        return r.choice(["(555) {}-{:04d}", "555-{}-{:04d}", "+1 555 {} {:04d}"]).format(
            r.randint(200, 999), r.randint(0, 9999))
    return secret(r)


def sentence(r, pii_rate):
    words = [r.choice(WORDS) for _ in range(r.randint(6, 18))]
    if r.random() < pii_rate:
        words.insert(r.randrange(len(words)), pii(r))
    if r.random() < 0.3:
        words.insert(r.randrange(len(words)), str(r.randint(0, 100000)))
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def prose(r):
    return " ".join(sentence(r, 0.08) for _ in range(r.randint(3, 8))) + "\n\n"


def code(r):
    if r.random() < 0.2:
        return ("```python\nimport os\nimport sys\n\ndef main():\n    os.system('ls')\n"
                "    return 0\n```\n\n")
    lang = r.choice(["python", "js", "bash", ""])
    lines = [f"    value_{i} = compute({r.randint(0, 999)}, '{r.choice(WORDS)}')  # {r.choice(WORDS)}"
             for i in range(r.randint(3, 12))]
    return f"```{lang}\ndef handler(event):\n" + "\n".join(lines) + "\n```\n\n"


def json_blob(r):
    fields = ", ".join(f'"{r.choice(WORDS)}_{i}": {r.randint(0, 10**9)}' for i in range(r.randint(3, 8)))
    extra = f', "contact": "{pii(r)}"' if r.random() < 0.2 else ""
    return "{" + fields + extra + "}\n"


def log_line(r):
    return (f"2025-0{r.randint(1, 9)}-{r.randint(10, 28)}T{r.randint(10, 23)}:{r.randint(10, 59)}:"
            f"{r.randint(10, 59)}.{r.randint(100, 999)}Z INFO req_id={r.getrandbits(64):016x} "
            f"status={r.choice([200, 201, 404, 500])} latency_ms={r.randint(1, 4000)} "
            f"user={r.choice(WORDS)}{r.randint(1, 999)}"
            + (f" note={pii(r)}" if r.random() < 0.05 else "") + "\n")


def main():
    out = sys.argv[1]
    target = int(sys.argv[2] if len(sys.argv) > 2 else 100) * 1000 * 1000
    r = random.Random(20240601)
    # A pool of distinct pieces, then a seeded shuffle of them until the size is reached:
    # generating 100 MB piece by piece in Python would take minutes.
    pool = []
    for _ in range(40000):
        kind = r.random()
        if kind < 0.5:
            pool.append(prose(r))
        elif kind < 0.65:
            pool.append(code(r))
        elif kind < 0.8:
            pool.append(json_blob(r))
        else:
            pool.append("".join(log_line(r) for _ in range(r.randint(2, 10))))
    written = 0
    with open(out, "w", encoding="utf-8") as f:
        while written < target:
            piece = pool[r.randrange(len(pool))]
            f.write(piece)
            written += len(piece)
    print(f"wrote {written} bytes to {out}")


if __name__ == "__main__":
    main()

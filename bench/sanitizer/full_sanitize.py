#!/usr/bin/env python3
"""Python `re` doing what Pharos's sanitizer does (the same detectors, Luhn and SSN validity in
a callback, the same forbidden-code rule), for a like-for-like comparison.
Usage: full_sanitize.py FILE [REPEAT=1]"""
import re
import sys
import time

CODE = re.compile(r'```python[A-Za-z0-9_+#.-]*(?P<body>.*?)```', re.DOTALL)
DETECTORS = re.compile(
    r'(?P<email>[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9.\-]{1,100}\.[A-Za-z]{2,24}\b)'
    r'|(?P<api_key>\bsk-[A-Za-z0-9_\-]{20,64}|\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,64}'
    r'|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,64}|\bgithub_pat_[A-Za-z0-9_]{22,64}'
    r'|\bxox[baprs]-[A-Za-z0-9\-]{10,64}|\bAIza[0-9A-Za-z_\-]{35}'
    r'|\bBearer[ \t]{1,4}[A-Za-z0-9._~+/=\-]{20,64})'
    r'|(?P<ssn>\b\d{3}-\d{2}-\d{4}\b)'
    r'|(?P<card>\b(?:\d{13,19}|\d{4}(?: \d{4}){2} \d{1,4}(?: \d{1,3})?'
    r'|\d{4}(?:-\d{4}){2}-\d{1,4}(?:-\d{1,3})?|\d{4}[ \-]\d{6}[ \-]\d{4,5})\b)'
    r'|(?P<phone>(?:\+1[ .\-]?)?(?:\([2-9]\d{2}\) ?|\b[2-9]\d{2}[ .\-])\d{3}[ .\-]\d{4}\b'
    r'|\+[1-9]\d{7,14}\b)', re.ASCII)
REPLACEMENT = {"ssn": "[SSN REDACTED]", "card": "[CARD REDACTED]", "email": "[EMAIL REDACTED]",
               "phone": "[PHONE REDACTED]", "api_key": "[SECRET REDACTED]"}


def luhn(digits):
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = int(d)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def replace(m):
    kind = m.lastgroup
    text = m.group(0)
    if kind == "ssn":
        area, group, serial = text[:3], text[4:6], text[7:]
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            return text
    if kind == "card" and not luhn([c for c in text if c.isdigit()]):
        return text
    return REPLACEMENT[kind]


def sanitize(text):
    text = CODE.sub(lambda m: "[code removed]" if "import os" in m.group("body") else m.group(0), text)
    return DETECTORS.sub(replace, text)


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = sanitize(text)
        best = min(best, time.perf_counter() - start)
    mb = len(text.encode("utf-8")) / 1e6
    counts = " ".join(f"{k}={out.count(v)}" for k, v in REPLACEMENT.items())
    print(f"full_python {mb / best:.1f} MB/s ({mb:.0f} MB in {best:.2f} s; {counts} "
          f"code={out.count('[code removed]')})")


if __name__ == "__main__":
    main()

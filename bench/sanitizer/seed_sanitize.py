#!/usr/bin/env python3
"""The seed's sanitize_llm_output, exactly its re.sub calls, timed on a file.
Usage: seed_sanitize.py FILE [REPEAT=1]; prints MB/s and what it replaced."""
import re
import sys
import time


def sanitize_llm_output(output: str) -> str:
    output = re.sub(r'```python\s*import os.*?```', '[code removed]', output, flags=re.DOTALL)
    output = re.sub(r'\b\d{3}-\d{2}-\d{4}\b', '[SSN REDACTED]', output)
    output = re.sub(r'\b\d{16}\b', '[CARD REDACTED]', output)
    return output


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = sanitize_llm_output(text)
        best = min(best, time.perf_counter() - start)
    mb = len(text.encode("utf-8")) / 1e6
    print(f"seed_python {mb / best:.1f} MB/s ({mb:.0f} MB in {best:.2f} s; "
          f"ssn={out.count('[SSN REDACTED]')} card={out.count('[CARD REDACTED]')} "
          f"code={out.count('[code removed]')})")


if __name__ == "__main__":
    main()

// npm tiktoken's (WASM) tokens per second on the benchmark corpus: encode_ordinary of each
// paragraph (as tokenizer_bench.cc does), best of ROUNDS rounds after a warm-up.
// Usage: node tiktoken_bench.mjs CORPUS [ENCODING...]; run from anywhere (resolves tiktoken from
// tests/compat/node_modules).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../tests/compat/package.json'));
const { get_encoding } = require('tiktoken');

const [corpusPath, ...names] = process.argv.slice(2);
const paragraphs = readFileSync(corpusPath, 'utf8').split('\n\n');
const bytes = Buffer.byteLength(paragraphs.join('\n\n'));
const ROUNDS = Number(process.env.ROUNDS ?? 3);
for (const name of names.length ? names : ['cl100k_base', 'o200k_base']) {
  const enc = get_encoding(name);
  let tokens = 0;
  for (const p of paragraphs.slice(0, 200)) tokens += enc.encode_ordinary(p).length; // warm-up
  let best = Infinity;
  for (let r = 0; r < ROUNDS; ++r) {
    tokens = 0;
    const start = process.hrtime.bigint();
    for (const p of paragraphs) tokens += enc.encode_ordinary(p).length;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  console.log(JSON.stringify({ encoding: name, tokens, bytes, seconds: best,
    tokens_per_second: tokens / best, mb_per_second: bytes / best / 1e6 }));
  enc.free();
}

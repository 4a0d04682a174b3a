// `pharos tokens` against npm tiktoken (the WASM build of OpenAI's tiktoken): the same ids for
// every line of a multilingual corpus (tests/data/tokenizer/multilingual.txt), for multi-line
// texts made of it (newlines, CRLF, blank lines), and for every Unicode code point in a few
// contexts, in both encodings. tiktoken's encode() here is given no special tokens, like
// Pharos's (encode_ordinary).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pharosBin, requireInstalled, runPharos } from './harness.mjs';

requireInstalled();
const { get_encoding } = await import('tiktoken');

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = readFileSync(path.join(here, '../data/tokenizer/multilingual.txt'), 'utf8')
  .split('\n')
  .slice(0, -1); // the file ends with a newline
const ENCODINGS = ['cl100k_base', 'o200k_base'];

// Runs `pharos tokens` once over all texts (as JSON strings, so they may hold newlines).
function pharosTokens(encoding, texts, extra = []) {
  const input = texts.map((t) => JSON.stringify(t)).join('\n') + '\n';
  const r = spawnSync(pharosBin, ['tokens', '--json', '--encoding', encoding, ...extra], {
    input,
    maxBuffer: 1 << 30,
  });
  assert.equal(r.status, 0, `pharos tokens failed: ${r.stderr}`);
  const lines = r.stdout.toString().split('\n');
  assert.equal(lines.length, texts.length + 1, 'one output line per input line');
  return lines.slice(0, -1);
}

// Asserts Pharos's ids equal tiktoken's for every text, naming the first text that differs.
function assertSameIds(encoding, texts) {
  const enc = get_encoding(encoding);
  try {
    const got = pharosTokens(encoding, texts);
    let mismatches = 0;
    let first;
    texts.forEach((text, i) => {
      const want = Array.from(enc.encode(text)).join(' ');
      if (got[i] !== want) {
        mismatches += 1;
        first ??= { text, want, got: got[i] };
      }
    });
    assert.equal(mismatches, 0,
      `${mismatches} of ${texts.length} texts differ; first: ${JSON.stringify(first)}`);
  } finally {
    enc.free();
  }
}

describe('pharos tokens is tiktoken', () => {
  test('the corpus is big and multilingual', () => {
    assert.ok(corpus.length > 3000, `only ${corpus.length} lines`);
    for (const probe of ['Über', 'Москва', 'ελληνική', 'مرحبا', 'שלום', 'नमस्ते', '你好',
      'こんにちは', '안녕하세요', 'สวัสดี', '👨‍👩‍👧‍👦', '👍🏽', "'LL"]) {
      assert.ok(corpus.some((l) => l.includes(probe)), `corpus lacks ${probe}`);
    }
  });

  for (const encoding of ENCODINGS) {
    test(`${encoding}: every corpus line`, () => assertSameIds(encoding, corpus));

    test(`${encoding}: plain-text lines (no --json)`, () => {
      const enc = get_encoding(encoding);
      try {
        const sample = corpus.slice(0, 500);
        const r = spawnSync(pharosBin, ['tokens', '--encoding', encoding],
          { input: sample.join('\n') + '\n' });
        assert.equal(r.status, 0, String(r.stderr));
        const got = r.stdout.toString().split('\n');
        sample.forEach((line, i) =>
          assert.equal(got[i], Array.from(enc.encode(line)).join(' '), JSON.stringify(line)));
      } finally {
        enc.free();
      }
    });

    test(`${encoding}: multi-line texts (LF, CRLF, blank lines, trailing whitespace)`, () => {
      const texts = [];
      const joins = ['\n', '\r\n', '\n\n', ' \n', '\n ', '\r\n\r\n', '\t\n\t', '\r', '\n\n\n  '];
      for (let i = 0; i + 6 <= corpus.length; i += 6) {
        const join = joins[(i / 6) % joins.length];
        texts.push(corpus.slice(i, i + 6).join(join) + (i % 4 === 0 ? join : ''));
      }
      // The whole corpus as one text, too.
      texts.push(corpus.join('\n'));
      assertSameIds(encoding, texts);
    });

    test(`${encoding}: every code point in context`, () => {
      // Each code point c in: letters around it, after a space, doubled with a contraction,
      // after a digit, between upper and lower case, before a combining mark and a newline.
      const probe = (c) => `x${c}y ${c}${c}'s 1${c}A${c}a ${c}\u0301  ${c}\n${c}.`;
      // Planes 0-3 and 14 hold every assigned code point: all of them; of the unassigned and
      // private-use planes 4-13, 15 and 16, every 61st.
      const wanted = (cp) => (cp < 0xd800 || cp > 0xdfff) &&
        (cp < 0x40000 || (cp >= 0xe0000 && cp < 0xf0000) || cp % 61 === 0);
      const texts = [];
      for (let base = 0; base < 0x110000; base += 128) {
        let text = '';
        for (let cp = base; cp < base + 128; ++cp) {
          if (wanted(cp)) text += probe(String.fromCodePoint(cp));
        }
        if (text) texts.push(text);
      }
      assertSameIds(encoding, texts);
    });

    test(`${encoding}: --count prints what tiktoken counts`, () => {
      const enc = get_encoding(encoding);
      try {
        const sample = corpus.slice(0, 300);
        const got = pharosTokens(encoding, sample, ['--count']);
        sample.forEach((line, i) => assert.equal(got[i], String(enc.encode(line).length)));
      } finally {
        enc.free();
      }
    });
  }

  test('--model picks the encoding; bad names are errors', async () => {
    const text = 'hello world 你好 👍🏽';
    const cl = pharosTokens('cl100k_base', [text])[0];
    const o200k = pharosTokens('o200k_base', [text])[0];
    assert.notEqual(cl, o200k);
    for (const [model, want] of [['gpt-4o-mini', o200k], ['openai/gpt-4.1', o200k],
      ['gpt-4-turbo', cl], ['gpt-3.5-turbo', cl], ['o3-mini', o200k]]) {
      const r = spawnSync(pharosBin, ['tokens', '--model', model], { input: `${text}\n` });
      assert.equal(r.status, 0, String(r.stderr));
      assert.equal(r.stdout.toString(), `${want}\n`, model);
    }
    const unknownModel = await runPharos(['tokens', '--model', 'llama-3']);
    assert.equal(unknownModel.code, 1);
    assert.match(unknownModel.stderr, /no known encoding for model "llama-3"/);
    const unknownEncoding = await runPharos(['tokens', '--encoding', 'p50k_base']);
    assert.equal(unknownEncoding.code, 1);
    assert.match(unknownEncoding.stderr, /unknown encoding "p50k_base"/);
  });
});

// Self-check of the fake OpenAI-compatible upstream (tests/fakes/fake_upstream.mjs) that the
// gateway tests script: every behaviour, driven with plain fetch, plus the HTTP control API and
// the command line. Needs no Pharos and no npm packages.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitContent, startFakeUpstream } from '../fakes/fake_upstream.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function post(url, body, headers = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

// The data lines of an SSE text, JSON-decoded except [DONE].
function sseEvents(text) {
  return text.split('\n\n').filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length))
    .map((data) => (data === '[DONE]' ? data : JSON.parse(data)));
}

// Resolves once `predicate(fake.stats())` holds (polls; fails after timeoutMs).
async function waitForStats(fake, predicate, timeoutMs = 2_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = fake.stats();
    if (predicate(stats)) return stats;
    if (Date.now() > deadline) assert.fail(`stats never matched: ${JSON.stringify(stats, null, 1)}`);
    await sleep(10);
  }
}

// A raw request with node:http that reports how it ended (fetch hides resets behind "fetch failed").
function rawRequest(url, body) {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, text, complete: res.complete }));
        res.on('error', (error) => resolve({ status: res.statusCode, text, error }));
        res.on('aborted', () => resolve({ status: res.statusCode, text, error: new Error('aborted') }));
      });
    req.on('error', (error) => resolve({ error }));
    req.end(JSON.stringify(body));
  });
}

describe('fake upstream', () => {
  let fake;
  before(async () => {
    fake = await startFakeUpstream();
  });
  after(async () => {
    await fake?.close();
  });
  beforeEach(() => {
    fake.reset();
  });

  test('binds 127.0.0.1 and reports its /v1 url', () => {
    assert.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.ok(fake.port > 0);
  });

  test('chat completion: deterministic, echoes the model, carries usage and records the request', async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'say hi please' }] };
    const response = await post(`${fake.url}/chat/completions`, body, { authorization: 'Bearer sk-up' });
    assert.equal(response.status, 200);
    const json = await response.json();
    assert.equal(json.id, 'chatcmpl-fake-1');
    assert.equal(json.object, 'chat.completion');
    assert.equal(json.model, 'gpt-4o');
    assert.equal(json.choices[0].message.content, 'Hello from gpt-4o');
    assert.equal(json.choices[0].finish_reason, 'stop');
    assert.deepEqual(json.usage, { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });

    const stats = fake.stats();
    assert.equal(stats.requests, 1);
    assert.deepEqual(stats.by_path, { '/v1/chat/completions': 1 });
    assert.equal(stats.completed, 1);
    assert.equal(stats.last_request.path, '/v1/chat/completions');
    assert.equal(stats.last_request.headers.authorization, 'Bearer sk-up');
    assert.deepEqual(stats.last_request.body, body);
    assert.equal(stats.log[0].outcome, 'ok');
    assert.deepEqual(JSON.parse(stats.log[0].response), json);

    // Same request after a reset: the same answer.
    fake.reset();
    const again = await (await post(`${fake.url}/chat/completions`, body)).json();
    assert.deepEqual(again, json);
    // Without a reset the counter moves on.
    const third = await (await post(`${fake.url}/chat/completions`, body)).json();
    assert.equal(third.id, 'chatcmpl-fake-2');
  });

  test('n choices, content and a token-less model', async () => {
    fake.script([{ content: 'one two three four' }]);
    const json = await (await post(`${fake.url}/chat/completions`,
      { model: 'm', n: 2, messages: [] })).json();
    assert.equal(json.choices.length, 2);
    assert.deepEqual(json.choices.map((c) => c.index), [0, 1]);
    assert.equal(json.choices[1].message.content, 'one two three four');
    assert.equal(json.usage.completion_tokens, 8);
  });

  test('stream: role chunk, N content chunks, finish chunk, usage chunk, [DONE]', async () => {
    fake.script([{ chunks: 4 }]);
    const response = await post(`${fake.url}/chat/completions`, {
      model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^text\/event-stream/);
    const text = await response.text();
    const events = sseEvents(text);
    assert.equal(events.length, 1 + 4 + 1 + 1 + 1);
    assert.equal(events[0].choices[0].delta.role, 'assistant');
    const pieces = events.slice(1, 5).map((e) => e.choices[0].delta.content);
    assert.deepEqual(pieces, splitContent('Hello from gpt-4o-mini', 4));
    assert.equal(pieces.join(''), 'Hello from gpt-4o-mini');
    assert.equal(events[5].choices[0].finish_reason, 'stop');
    assert.equal(events[5].usage, null);
    assert.deepEqual(events[6].choices, []);
    assert.deepEqual(events[6].usage, { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
    assert.equal(events[7], '[DONE]');
    assert.ok(events.slice(0, 7).every((e) => e.id === 'chatcmpl-fake-1' && e.model === 'gpt-4o-mini'));
    const stats = fake.stats();
    assert.equal(stats.log[0].stream, true);
    assert.equal(stats.log[0].response, text);
    assert.equal(stats.completed, 1);
  });

  test('stream without include_usage has no usage chunk; usage_in_final_choice_chunk moves it', async () => {
    const body = { model: 'x', stream: true, messages: [{ role: 'user', content: 'hi' }] };
    const plain = sseEvents(await (await post(`${fake.url}/chat/completions`, body)).text());
    assert.equal(plain.length, 1 + 3 + 1 + 1);
    assert.ok(plain.slice(0, -1).every((e) => !('usage' in e)));

    fake.script([{ usage_in_final_choice_chunk: true }]);
    const events = sseEvents(await (await post(`${fake.url}/chat/completions`,
      { ...body, stream_options: { include_usage: true } })).text());
    assert.equal(events.length, 1 + 3 + 1 + 1);
    const finish = events.at(-2);
    assert.equal(finish.choices.length, 1);
    assert.equal(finish.choices[0].finish_reason, 'stop');
    assert.equal(finish.usage.total_tokens, 5);
    assert.ok(!events.some((e) => e !== '[DONE]' && e.choices.length === 0));
  });

  test('status + retry_after + headers: an OpenAI-shaped error', async () => {
    fake.script([{ status: 429, retry_after: 2, headers: { 'x-extra': 'yes' } }, { status: 503 }]);
    const first = await post(`${fake.url}/chat/completions`, { model: 'm', messages: [] });
    assert.equal(first.status, 429);
    assert.equal(first.headers.get('retry-after'), '2');
    assert.equal(first.headers.get('x-extra'), 'yes');
    const error = (await first.json()).error;
    assert.equal(typeof error.message, 'string');
    assert.equal(error.type, 'requests');
    assert.equal(error.code, 'rate_limit_exceeded');
    const second = await post(`${fake.url}/chat/completions`, { model: 'm', messages: [] });
    assert.equal(second.status, 503);
    assert.equal((await second.json()).error.type, 'server_error');
    // The queue is used up: a success again.
    const third = await post(`${fake.url}/chat/completions`, { model: 'm', messages: [] });
    assert.equal(third.status, 200);
    assert.deepEqual(fake.stats().log.map((l) => l.outcome), ['error', 'error', 'ok']);
    assert.equal(fake.stats().queued, 0);
  });

  test('status applies to a stream request too (a JSON error, no SSE)', async () => {
    fake.script([{ status: 500 }]);
    const response = await post(`${fake.url}/chat/completions`, { model: 'm', stream: true, messages: [] });
    assert.equal(response.status, 500);
    assert.match(response.headers.get('content-type'), /application\/json/);
  });

  test('delay_ms delays the head', async () => {
    fake.script([{ delay_ms: 200 }]);
    const started = Date.now();
    const response = await post(`${fake.url}/chat/completions`, { model: 'm', messages: [] });
    assert.ok(Date.now() - started >= 190, `answered after ${Date.now() - started} ms`);
    assert.equal(response.status, 200);
  });

  test('hang never answers; the client giving up counts as cancelled', async () => {
    fake.script([{ hang: true }]);
    await assert.rejects(fetch(`${fake.url}/chat/completions`, {
      method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }),
      signal: AbortSignal.timeout(300),
    }), (error) => error.name === 'TimeoutError');
    const stats = await waitForStats(fake, (s) => s.cancelled === 1);
    assert.equal(stats.completed, 0);
    assert.equal(stats.log[0].outcome, 'cancelled');
    assert.ok(stats.log[0].ended_at_ms - stats.log[0].started_at_ms >= 250);
  });

  test('reset drops the connection without an answer', async () => {
    fake.script([{ reset: true }]);
    const result = await rawRequest(`${fake.url}/chat/completions`, { model: 'm', messages: [] });
    assert.equal(result.status, undefined);
    assert.ok(result.error, 'the request failed');
    assert.match(String(result.error.code ?? result.error.message), /ECONNRESET|socket hang up/);
    const stats = fake.stats();
    assert.equal(stats.log[0].outcome, 'reset');
    assert.equal(stats.cancelled, 0);
    assert.equal(stats.completed, 0);
    // The next request is served normally.
    assert.equal((await post(`${fake.url}/chat/completions`, { model: 'm', messages: [] })).status, 200);
  });

  test('malformed: 200 with a body that is not JSON', async () => {
    fake.script([{ malformed: true }]);
    const response = await post(`${fake.url}/chat/completions`, { model: 'm', messages: [] });
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.equal(text, '{"id": "x", "choices": [');
    assert.throws(() => JSON.parse(text));
  });

  test('body: sent verbatim', async () => {
    const body = { id: 'custom', choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
    fake.script([{ body }, { status: 400, body: { error: { message: 'nope', type: 't', code: 'c', param: 'p' } } }]);
    assert.deepEqual(await (await post(`${fake.url}/chat/completions`, { model: 'm' })).json(), body);
    const second = await post(`${fake.url}/chat/completions`, { model: 'm' });
    assert.equal(second.status, 400);
    assert.deepEqual(await second.json(), { error: { message: 'nope', type: 't', code: 'c', param: 'p' } });
  });

  test('cut_after: some content chunks, then the connection drops without [DONE]', async () => {
    fake.script([{ cut_after: 2, chunks: 4 }]);
    const result = await rawRequest(`${fake.url}/chat/completions`, { model: 'm', stream: true, messages: [] });
    assert.equal(result.status, 200);
    assert.ok(result.error || result.complete === false, 'the stream ended abnormally');
    const events = sseEvents(result.text);
    assert.equal(events.length, 3, result.text);
    assert.ok(!result.text.includes('[DONE]'));
    const stats = fake.stats();
    assert.equal(stats.log[0].outcome, 'cut');
    assert.equal(stats.cancelled, 0);
  });

  test('cut_after on a non-stream request: half a body, then the connection drops', async () => {
    fake.script([{ cut_after: 0 }]);
    const result = await rawRequest(`${fake.url}/chat/completions`, { model: 'm', messages: [] });
    assert.equal(result.status, 200);
    assert.ok(result.error || result.complete === false);
    assert.throws(() => JSON.parse(result.text));
  });

  test('chunk_delay_ms spaces the chunks; first_chunk_delay_ms holds the body after the head', async () => {
    fake.script([{ chunk_delay_ms: 60, chunks: 3, first_chunk_delay_ms: 150 }]);
    const started = Date.now();
    const response = await post(`${fake.url}/chat/completions`, { model: 'm', stream: true, messages: [] });
    const headAt = Date.now() - started;
    assert.ok(headAt < 140, `the head came after ${headAt} ms`);
    await response.text();
    // 150 before the first chunk, 60 before each of 3 content chunks and the finish chunk.
    assert.ok(Date.now() - started >= 150 + 4 * 60 - 20, `took ${Date.now() - started} ms`);
  });

  test('a client aborting mid-stream counts as cancelled', async () => {
    fake.script([{ chunk_delay_ms: 200, chunks: 10 }]);
    const controller = new AbortController();
    const response = await post(`${fake.url}/chat/completions`, { model: 'm', stream: true, messages: [] });
    const reader = response.body.getReader();
    await reader.read();
    await reader.cancel();
    controller.abort();
    const stats = await waitForStats(fake, (s) => s.cancelled === 1);
    assert.equal(stats.log[0].outcome, 'cancelled');
    assert.equal(stats.completed, 0);
  });

  test('embeddings: deterministic, float and base64, with usage', async () => {
    const body = { model: 'text-embedding-3-small', input: ['hello world', 'bye'] };
    const floats = await (await post(`${fake.url}/embeddings`, body)).json();
    assert.equal(floats.object, 'list');
    assert.equal(floats.model, 'text-embedding-3-small');
    assert.equal(floats.data.length, 2);
    assert.equal(floats.data[0].embedding.length, 8);
    assert.deepEqual(floats.usage, { prompt_tokens: 3, total_tokens: 3 });
    const again = await (await post(`${fake.url}/embeddings`, body)).json();
    assert.deepEqual(again, floats);
    assert.notDeepEqual(floats.data[0].embedding, floats.data[1].embedding);

    const b64 = await (await post(`${fake.url}/embeddings`, { ...body, encoding_format: 'base64', dimensions: 8 })).json();
    const bytes = Buffer.from(b64.data[0].embedding, 'base64');
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    assert.deepEqual(decoded, floats.data[0].embedding);
  });

  test('models lists the configured models', async () => {
    const response = await fetch(`${fake.url}/models`);
    assert.equal(response.status, 200);
    const json = await response.json();
    assert.equal(json.object, 'list');
    assert.deepEqual(json.data.map((m) => m.id), ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small']);
    assert.equal(fake.stats().by_path['/v1/models'], 1);
  });

  test('HTTP control API: script, stats, reset', async () => {
    const scripted = await post(`${fake.origin}/_fake/script`, [{ status: 502 }, { status: 504 }]);
    assert.equal(scripted.status, 200);
    assert.deepEqual(await scripted.json(), { queued: 2 });
    assert.equal((await post(`${fake.url}/chat/completions`, { model: 'm' })).status, 502);
    const stats = await (await fetch(`${fake.origin}/_fake/stats`)).json();
    assert.equal(stats.requests, 1);
    assert.equal(stats.queued, 1);
    assert.equal((await post(`${fake.origin}/_fake/script`, 'nonsense')).status, 400);
    assert.equal((await post(`${fake.origin}/_fake/reset`, {})).status, 200);
    const after = await (await fetch(`${fake.origin}/_fake/stats`)).json();
    assert.equal(after.requests, 0);
    assert.equal(after.queued, 0);
    assert.equal((await post(`${fake.url}/chat/completions`, { model: 'm' })).status, 200);
  });

  test('combinable: delay then status with retry_after', async () => {
    fake.script([{ delay_ms: 100, status: 429, retry_after: 1 }]);
    const started = Date.now();
    const response = await post(`${fake.url}/chat/completions`, { model: 'm' });
    assert.ok(Date.now() - started >= 90);
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '1');
  });
});

test('command line: --port, banner, serves until killed', async () => {
  const probe = await startFakeUpstream();
  const port = probe.port;
  await probe.close();
  const child = spawn(process.execPath, [path.join(here, '../fakes/fake_upstream.mjs'), '--port', String(port)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const banner = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 5_000);
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve(out.trim());
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    assert.equal(banner, `fake upstream listening on http://127.0.0.1:${port}`);
    const response = await fetch(`http://127.0.0.1:${port}/v1/models`);
    assert.equal(response.status, 200);
  } finally {
    child.kill('SIGTERM');
  }
});

// The LLM gateway driven by the real `openai` npm SDK: Pharos in front of two scripted fake
// upstreams (tests/fakes/fake_upstream.mjs), configured by a pharos.toml with [gateway.*].
// Checked: answers and streams pass through untouched, the request body reaches the upstream as
// sent (model renamed), retries (Retry-After), fallback, timeouts (attempt, first token, total),
// broken streams before and after the first byte, client aborts cancelling the upstream, the
// static response, error shapes, embeddings and models, the runs stored for each call (attempts,
// status, target, tokens, W3C traceparent) and the upstream API key.
//
// The SDK retries on its own (maxRetries 2 by default): every client here has maxRetries 0, so
// what is counted is Pharos's retrying. Fakes listen on port 0; their URLs go into the TOML.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { packageVersion, requireInstalled, startPharos } from './harness.mjs';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';

requireInstalled();
const { default: OpenAI, APIError, APIConnectionError } = await import('openai');
const openaiVersion = packageVersion('openai');

const UPSTREAM_KEY = `sk-upstream-${randomBytes(8).toString('hex')}`;
const CLIENT_KEY = `sk-client-${randomBytes(8).toString('hex')}`;
const STATIC_TEXT = "Sorry, we're busy.";
const TEST_TIMEOUT = { timeout: 20_000 };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Short backoff everywhere: waits come from Retry-After where a test wants them.
const FAST_RETRY = (attempts) =>
  `{ attempts = ${attempts}, multiplier = 0.01, min_wait_s = 0.01, max_wait_s = 0.05, jitter_s = 0 }`;

function configToml(primary, backup) {
  return `
[gateway.providers.primary]
base_url = "${primary.url}"
api_key_env = "PRIMARY_API_KEY"

[gateway.providers.backup]
base_url = "${backup.url}"

[gateway.models."gpt-4o"]
targets = ["primary/gpt-4o", "backup/gpt-4o-mini"]
retry = ${FAST_RETRY(3)}
attempt_timeout_s = 5
total_timeout_s = 15
first_token_timeout_s = 5

# One attempt per target.
[gateway.models.quick]
targets = ["primary/gpt-4o", "backup/gpt-4o-mini"]
retry = ${FAST_RETRY(1)}
attempt_timeout_s = 5
total_timeout_s = 15

# A gateway name that differs from the upstream's.
[gateway.models.smart]
targets = ["primary/gpt-4o-2024-08-06"]
retry = ${FAST_RETRY(3)}

# Nothing to fall back to.
[gateway.models.solo]
targets = ["primary/gpt-4o"]
retry = ${FAST_RETRY(1)}
attempt_timeout_s = 5
total_timeout_s = 15

[gateway.models.static]
targets = ["primary/gpt-4o"]
retry = ${FAST_RETRY(1)}
static_response = "${STATIC_TEXT}"

[gateway.models."text-embedding-3-small"]
targets = ["primary/text-embedding-3-small"]
retry = ${FAST_RETRY(2)}
`;
}

// ------------------------------------------------------------------------------------------------
// Helpers

function uuidFromHex(hex32) {
  return `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-` +
    `${hex32.slice(20)}`;
}

// The data payloads of an SSE text, JSON-decoded except [DONE].
function sseEvents(text) {
  return text.split(/\r?\n\r?\n/).map((block) => block.split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).replace(/^ /, '')).join('\n'))
    .filter((data) => data.length > 0)
    .map((data) => (data === '[DONE]' ? data : JSON.parse(data)));
}

// Drops `usage: null` (what an upstream adds to chunks when include_usage is on).
function withoutNullUsage(chunk) {
  if (chunk === null || typeof chunk !== 'object' || chunk.usage !== null) return chunk;
  const { usage, ...rest } = chunk;
  return rest;
}

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

// Iterates `stream`; resolves to { chunks, error } (error: what iteration threw, if anything).
async function collectUntilError(stream) {
  const chunks = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
    return { chunks, error: undefined };
  } catch (error) {
    return { chunks, error };
  }
}

const contentOf = (chunks) => chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');

async function waitFor(what, probe, { timeoutMs = 5_000, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`${what} within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

function assertPharosHeaders(response, { attempts, target }) {
  const headers = response.headers;
  assert.equal(headers.get('x-pharos-attempts'), String(attempts), 'x-pharos-attempts');
  assert.equal(headers.get('x-pharos-target'), target, 'x-pharos-target');
  const overhead = headers.get('x-pharos-overhead-ms');
  assert.match(overhead ?? '', /^\d+(\.\d+)?$/, `x-pharos-overhead-ms is a decimal number: ${overhead}`);
}

// An error from the SDK that is an HTTP error answer (not a dropped connection).
function httpError(status, check = () => {}) {
  return (error) => {
    assert.ok(error instanceof APIError && !(error instanceof APIConnectionError),
      `expected an APIError with status ${status}, got ${error?.constructor?.name}: ${error}`);
    assert.equal(error.status, status, String(error));
    check(error);
    return true;
  };
}

// ------------------------------------------------------------------------------------------------

describe(`openai ${openaiVersion} through the Pharos gateway`, () => {
  let primary;
  let backup;
  let pharos;
  let configDir;
  let client;

  const chatUrl = () => `${pharos.baseUrl}/v1/chat/completions`;

  async function rawChat(body, headers = {}) {
    const response = await fetch(chatUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, ...headers },
      body: JSON.stringify(body),
    });
    return { response, status: response.status, text: await response.text() };
  }

  async function direct(fake, body) {
    const response = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return response.text();
  }

  async function projectId(name) {
    const response = await fetch(`${pharos.baseUrl}/api/v1/sessions?name=${encodeURIComponent(name)}`);
    if (response.status !== 200) return undefined;
    const list = await response.json();
    return list.length === 1 ? list[0].id : undefined;
  }

  // The runs of project `name`, once there are at least `count` (runs are written asynchronously).
  async function runsOf(name, count = 1, timeoutMs = 5_000) {
    return waitFor(`${count} run(s) in project ${name}`, async () => {
      const id = await projectId(name);
      if (!id) return undefined;
      const response = await fetch(`${pharos.baseUrl}/api/v1/runs/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ session: [id] }),
      });
      const text = await response.text();
      assert.equal(response.status, 200, text);
      const runs = JSON.parse(text).runs;
      return runs.length >= count ? runs : undefined;
    }, { timeoutMs });
  }

  before(async () => {
    primary = await startFakeUpstream();
    backup = await startFakeUpstream();
    configDir = await mkdtemp(path.join(tmpdir(), 'pharos-gateway-'));
    const configFile = path.join(configDir, 'pharos.toml');
    await writeFile(configFile, configToml(primary, backup));
    pharos = await startPharos({
      args: ['--config', configFile],
      env: { PRIMARY_API_KEY: UPSTREAM_KEY },
    });
    client = new OpenAI({ baseURL: `${pharos.baseUrl}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20_000 });
  });
  after(async () => {
    await pharos?.stop();
    await primary?.close();
    await backup?.close();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    primary.reset();
    backup.reset();
  });

  // ---- pass-through -----------------------------------------------------------------------------

  test('a completion arrives as the upstream produced it (content, id, usage, model)', TEST_TIMEOUT, async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'Say hello, please.' }] };
    const { data, response } = await client.chat.completions.create(body).withResponse();
    assertPharosHeaders(response, { attempts: 1, target: 'primary/gpt-4o' });

    const produced = JSON.parse(primary.stats().log.at(-1).response);
    assert.deepEqual(data, produced);
    assert.equal(data.choices[0].message.content, 'Hello from gpt-4o');
    assert.equal(data.id, 'chatcmpl-fake-1');
    assert.ok(data.usage.total_tokens > 0);

    // The same body straight to the upstream (after a reset, so the id counter matches).
    primary.reset();
    assert.deepEqual(data, JSON.parse(await direct(primary, body)));
    assert.equal(backup.stats().requests, 0);
  });

  test('a streamed completion: the same chunks, in the same order, as the upstream\'s own stream', TEST_TIMEOUT, async () => {
    primary.script([{ chunks: 5 }]);
    const body = {
      model: 'gpt-4o', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Stream to me.' }],
    };
    const { data: stream, response } = await client.chat.completions.create(body).withResponse();
    assertPharosHeaders(response, { attempts: 1, target: 'primary/gpt-4o' });
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const chunks = await collect(stream);

    const produced = sseEvents(primary.stats().log.at(-1).response);
    assert.equal(produced.at(-1), '[DONE]');
    assert.deepEqual(chunks, produced.slice(0, -1));
    assert.equal(chunks.length, 1 + 5 + 1 + 1);
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.ok(chunks.at(-1).usage.total_tokens > 0);

    primary.reset();
    primary.script([{ chunks: 5 }]);
    assert.deepEqual(chunks, sseEvents(await direct(primary, body)).slice(0, -1));
  });

  test('a stream without include_usage gets no usage chunk, else the upstream\'s chunks', TEST_TIMEOUT, async () => {
    const body = { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Hi.' }] };
    const chunks = await collect(await client.chat.completions.create(body));
    assert.ok(!chunks.some((c) => Array.isArray(c.choices) && c.choices.length === 0),
      `a usage-only chunk reached a client that did not ask for one: ${JSON.stringify(chunks.at(-1))}`);
    primary.reset();
    const upstream = sseEvents(await direct(primary, body)).slice(0, -1);
    // Pharos may ask the upstream for usage itself; the `usage: null` that adds is tolerated.
    assert.deepEqual(chunks.map(withoutNullUsage), upstream.map(withoutNullUsage));
  });

  test('tools, response_format, n, stop, user and unknown fields reach the upstream untouched', TEST_TIMEOUT, async () => {
    const sent = {
      model: 'smart',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
        {
          role: 'assistant', content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c": 21.5}' },
      ],
      tools: [{
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          strict: true,
        },
      }],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', strict: true, schema: { type: 'object', properties: { text: { type: 'string' } } } },
      },
      n: 2,
      stop: ['END', '\n\n'],
      user: 'user-42',
      temperature: 0.25,
      seed: 7,
      logit_bias: { 50256: -100 },
      metadata: { team: 'compat' },
      x_vendor_extension: { nested: [1, 2.5, 'three', null, true], deep: { a: {} } },
    };
    const { data, response } = await client.chat.completions.create(structuredClone(sent)).withResponse();
    assertPharosHeaders(response, { attempts: 1, target: 'primary/gpt-4o-2024-08-06' });
    assert.equal(data.choices.length, 2);

    const received = primary.stats().last_request;
    assert.equal(received.path, '/v1/chat/completions');
    assert.deepEqual(received.body, { ...sent, model: 'gpt-4o-2024-08-06' });
    // The response is the upstream's, model name included.
    assert.equal(data.model, 'gpt-4o-2024-08-06');
  });

  // ---- retries and fallback ---------------------------------------------------------------------

  test('429 with Retry-After: 1 is retried after at least 1 s and then succeeds', TEST_TIMEOUT, async () => {
    primary.script([{ status: 429, retry_after: 1 }]);
    const started = Date.now();
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'retry me' }] }).withResponse();
    const elapsed = Date.now() - started;
    assertPharosHeaders(response, { attempts: 2, target: 'primary/gpt-4o' });
    assert.equal(data.choices[0].message.content, 'Hello from gpt-4o');
    const log = primary.stats().log;
    assert.equal(log.length, 2);
    assert.deepEqual(log.map((l) => l.outcome), ['error', 'ok']);
    const gap = log[1].started_at_ms - log[0].ended_at_ms;
    assert.ok(gap >= 990, `the retry came ${gap} ms after the 429 (Retry-After: 1)`);
    assert.ok(elapsed < 4_000, `took ${elapsed} ms`);
    assert.equal(backup.stats().requests, 0);
  });

  test('a 503 from the primary (1 attempt per target) falls back to the backup', TEST_TIMEOUT, async () => {
    primary.script([{ status: 503 }]);
    const { data, response } = await client.chat.completions
      .create({ model: 'quick', messages: [{ role: 'user', content: 'fall back' }] }).withResponse();
    assertPharosHeaders(response, { attempts: 2, target: 'backup/gpt-4o-mini' });
    assert.equal(data.model, 'gpt-4o-mini');
    assert.equal(data.choices[0].message.content, 'Hello from gpt-4o-mini');
    assert.equal(primary.stats().requests, 1);
    assert.equal(backup.stats().requests, 1);
    assert.equal(backup.stats().last_request.body.model, 'gpt-4o-mini');
  });

  test('x-pharos-retry-attempts: 1 overrides the model\'s 3 attempts', TEST_TIMEOUT, async () => {
    primary.script([{ status: 500 }, { status: 500 }]);
    const { response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-pharos-retry-attempts': '1' } }).withResponse();
    assertPharosHeaders(response, { attempts: 2, target: 'backup/gpt-4o-mini' });
    assert.equal(primary.stats().requests, 1);
  });

  test('3 attempts on the primary, then the backup', TEST_TIMEOUT, async () => {
    primary.script([{ status: 500 }, { status: 502 }, { reset: true }]);
    const { response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.deepEqual(primary.stats().log.map((l) => l.outcome), ['error', 'error', 'reset'],
      'the primary saw exactly its 3 attempts');
    assert.equal(backup.stats().requests, 1);
    assertPharosHeaders(response, { attempts: 4, target: 'backup/gpt-4o-mini' });
  });

  test('x-pharos-fallback: off: the primary\'s 503 is the answer', TEST_TIMEOUT, async () => {
    primary.script([{ status: 503 }]);
    await assert.rejects(client.chat.completions.create(
      { model: 'quick', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-pharos-fallback': 'off' } }), httpError(503));
    assert.equal(primary.stats().requests, 1);
    assert.equal(backup.stats().requests, 0);
  });

  test('a malformed 200 is not retried by default but falls back', TEST_TIMEOUT, async () => {
    primary.script([{ malformed: true }]);
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assertPharosHeaders(response, { attempts: 2, target: 'backup/gpt-4o-mini' });
    assert.equal(data.choices[0].message.content, 'Hello from gpt-4o-mini');
    assert.equal(primary.stats().requests, 1, 'retry_on leaves out "malformed" by default');
  });

  test('an upstream 400 is passed through (status and body), neither retried nor fallen back', TEST_TIMEOUT, async () => {
    const upstreamError = {
      error: { message: 'This model\'s maximum context length is 8 tokens.', type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' },
    };
    primary.script([{ status: 400, body: upstreamError }]);
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
      httpError(400, (error) => {
        assert.equal(error.code, 'context_length_exceeded');
        assert.equal(error.param, 'messages');
      }));
    primary.script([{ status: 400, body: upstreamError }]);
    const raw = await rawChat({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(raw.status, 400);
    assert.deepEqual(JSON.parse(raw.text), upstreamError);
    assert.equal(primary.stats().requests, 2);
    assert.equal(backup.stats().requests, 0);
  });

  test('every target failing with 503 and no static response: 503 in the OpenAI error shape', TEST_TIMEOUT, async () => {
    primary.script([{ status: 503 }]);
    backup.script([{ status: 503 }]);
    const raw = await rawChat({ model: 'quick', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(raw.status, 503, raw.text);
    const { error } = JSON.parse(raw.text);
    assert.equal(typeof error?.message, 'string', raw.text);
    assert.equal(raw.response.headers.get('x-pharos-attempts'), '2');
  });

  // The connection to the primary is a pooled keep-alive one by now (earlier tests used it): a
  // reset after the request was sent is still a failed attempt, not a stale connection to re-send
  // on quietly (the upstream got the request and may have acted on it, e.g. billed it).
  test('a reset on a reused upstream connection is an attempt like any other', TEST_TIMEOUT, async () => {
    await client.chat.completions.create({ model: 'solo', messages: [{ role: 'user', content: 'warm up' }] });
    primary.reset();
    primary.script([{ reset: true }]);
    const raw = await rawChat({ model: 'solo', messages: [{ role: 'user', content: 'x' }] });
    assert.deepEqual(primary.stats().log.map((l) => l.outcome), ['reset'],
      `retry.attempts = 1, yet the upstream saw ${primary.stats().requests} requests; ` +
      `Pharos answered ${raw.status} with x-pharos-attempts ${raw.response.headers.get('x-pharos-attempts')}`);
    assert.equal(raw.status, 502, raw.text);
  });

  test('every target dropping the connection: 502', TEST_TIMEOUT, async () => {
    primary.script([{ reset: true }]);
    backup.script([{ reset: true }]);
    const raw = await rawChat({ model: 'quick', messages: [{ role: 'user', content: 'x' }] });
    const seen = `the upstreams saw primary ${JSON.stringify(primary.stats().log.map((l) => l.outcome))}, ` +
      `backup ${JSON.stringify(backup.stats().log.map((l) => l.outcome))}`;
    assert.equal(raw.status, 502, `${raw.text}; ${seen}`);
    assert.equal(typeof JSON.parse(raw.text).error?.message, 'string', raw.text);
    assert.equal(primary.stats().requests, 1, seen);
    assert.equal(backup.stats().requests, 1, seen);
  });

  // ---- streams that break -----------------------------------------------------------------------

  test('a stream cut after its first byte: the SDK throws an APIError, no retry', TEST_TIMEOUT, async () => {
    primary.script([{ cut_after: 2, chunks: 5 }]);
    const stream = await client.chat.completions.create({
      model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'cut me' }],
    });
    const { chunks, error } = await collectUntilError(stream);
    assert.ok(error, `iteration ended without an error after ${JSON.stringify(chunks)}`);
    assert.ok(error instanceof APIError && !(error instanceof APIConnectionError),
      `expected an APIError from an SSE error event, got ${error?.constructor?.name}: ${error}`);
    assert.equal(chunks.length, 3, 'the role chunk and 2 content chunks arrived');
    assert.equal(contentOf(chunks), 'Hello from gpt-4o'.slice(0, Math.floor((2 * 17) / 5)));
    await sleep(200);
    assert.equal(primary.stats().requests, 1, 'a stream that reached the client is not retried');
    assert.equal(backup.stats().requests, 0, 'nor fallen back');

    // On the wire: an error event last, no [DONE].
    primary.script([{ cut_after: 2, chunks: 5 }]);
    const raw = await rawChat({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'cut me' }] });
    assert.equal(raw.status, 200);
    const events = sseEvents(raw.text);
    assert.ok(!events.includes('[DONE]'), raw.text);
    const last = events.at(-1);
    assert.equal(typeof last?.error?.message, 'string', `last event is an error: ${raw.text}`);
    assert.equal(primary.stats().requests, 2);
  });

  test('a stream whose connection resets before any byte is retried invisibly', TEST_TIMEOUT, async () => {
    primary.script([{ reset: true }]);
    const { data: stream, response } = await client.chat.completions.create({
      model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'x' }],
    }).withResponse();
    assertPharosHeaders(response, { attempts: 2, target: 'primary/gpt-4o' });
    const chunks = await collect(stream);
    assert.equal(contentOf(chunks), 'Hello from gpt-4o');
    assert.equal(chunks[0].id, 'chatcmpl-fake-1');
    assert.equal(primary.stats().requests, 2);
  });

  test('a stream whose first byte is late (x-pharos-first-token-timeout-ms) is retried', TEST_TIMEOUT, async () => {
    primary.script([{ first_chunk_delay_ms: 3_000 }]);
    const started = Date.now();
    const { data: stream, response } = await client.chat.completions.create(
      { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-pharos-first-token-timeout-ms': '300' } }).withResponse();
    const chunks = await collect(stream);
    const elapsed = Date.now() - started;
    assert.equal(contentOf(chunks), 'Hello from gpt-4o');
    assertPharosHeaders(response, { attempts: 2, target: 'primary/gpt-4o' });
    assert.ok(elapsed >= 290 && elapsed < 2_500, `took ${elapsed} ms`);
    await waitFor('the slow attempt cancelled upstream', () => primary.stats().cancelled === 1,
      { timeoutMs: 2_000 });
  });

  // ---- timeouts ---------------------------------------------------------------------------------

  test('a hung upstream with nothing to fall back to: 504 after the attempt timeout', TEST_TIMEOUT, async () => {
    primary.script([{ hang: true }]);
    const started = Date.now();
    await assert.rejects(client.chat.completions.create(
      { model: 'solo', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-pharos-attempt-timeout-ms': '300' } }), httpError(504));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 290 && elapsed < 2_500, `took ${elapsed} ms`);
    assert.equal(primary.stats().requests, 1);
    await waitFor('the hung request cancelled upstream', () => primary.stats().cancelled === 1,
      { timeoutMs: 2_000 });
  });

  test('a hung primary times out (x-pharos-attempt-timeout-ms) and falls back', TEST_TIMEOUT, async () => {
    primary.script([{ hang: true }]);
    const started = Date.now();
    const { data, response } = await client.chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-pharos-attempt-timeout-ms': '300', 'x-pharos-retry-attempts': '1' } }).withResponse();
    const elapsed = Date.now() - started;
    assertPharosHeaders(response, { attempts: 2, target: 'backup/gpt-4o-mini' });
    assert.equal(data.model, 'gpt-4o-mini');
    assert.ok(elapsed >= 290 && elapsed < 2_500, `took ${elapsed} ms`);
    await waitFor('the hung request cancelled upstream', () => primary.stats().cancelled === 1,
      { timeoutMs: 2_000 });
  });

  test('x-pharos-total-timeout-ms bounds the whole call: 504', TEST_TIMEOUT, async () => {
    primary.script([{ delay_ms: 3_000 }]);
    backup.script([{ delay_ms: 3_000 }]);
    const started = Date.now();
    const raw = await rawChat({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] },
      { 'x-pharos-total-timeout-ms': '500' });
    const elapsed = Date.now() - started;
    assert.equal(raw.status, 504, raw.text);
    const { error } = JSON.parse(raw.text);
    assert.equal(typeof error?.message, 'string', raw.text);
    assert.ok(elapsed >= 490 && elapsed < 2_000, `took ${elapsed} ms`);
  });

  test('a client aborting mid-stream cancels the upstream request', TEST_TIMEOUT, async () => {
    primary.script([{ chunk_delay_ms: 150, chunks: 60 }]);
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'long story' }] },
      { signal: controller.signal });
    let seen = 0;
    let abortedAt;
    try {
      for await (const chunk of stream) {
        assert.ok(chunk.choices);
        seen += 1;
        if (seen === 3) {
          abortedAt = Date.now();
          controller.abort();
        }
      }
    } catch (error) {
      // APIUserAbortError or an AbortError, depending on where the abort lands.
      assert.ok(controller.signal.aborted, `unexpected error: ${error}`);
    }
    assert.ok(abortedAt, `the stream ended after ${seen} chunks`);
    await waitFor('the upstream request cancelled', () => primary.stats().cancelled === 1,
      { timeoutMs: 2_000 });
    const entry = primary.stats().log[0];
    assert.equal(entry.outcome, 'cancelled');
    assert.ok(entry.ended_at_ms - abortedAt < 2_000);
  });

  // ---- static response, errors ------------------------------------------------------------------

  test('every target failed: the static response is served (JSON)', TEST_TIMEOUT, async () => {
    primary.script([{ status: 503 }]);
    const { data, response } = await client.chat.completions
      .create({ model: 'static', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-pharos-static-response'), 'true');
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, STATIC_TEXT);
    assert.equal(primary.stats().requests, 1);
  });

  test('every target failed: the static response is served (stream)', TEST_TIMEOUT, async () => {
    primary.script([{ reset: true }]);
    const { data: stream, response } = await client.chat.completions.create({
      model: 'static', stream: true, messages: [{ role: 'user', content: 'x' }],
    }).withResponse();
    assert.equal(response.headers.get('x-pharos-static-response'), 'true');
    const chunks = await collect(stream);
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'), JSON.stringify(chunks));
    assert.equal(contentOf(chunks), STATIC_TEXT);
  });

  test('an unknown model: 404 model_not_found in the OpenAI error shape', TEST_TIMEOUT, async () => {
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
      httpError(404, (error) => assert.equal(error.code, 'model_not_found')));
    const raw = await rawChat({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(raw.status, 404);
    const { error } = JSON.parse(raw.text);
    assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(error.code, 'model_not_found');
    assert.equal(primary.stats().requests + backup.stats().requests, 0);
  });

  // ---- embeddings, models -----------------------------------------------------------------------

  test('embeddings pass through (the SDK asks for base64 and decodes)', TEST_TIMEOUT, async () => {
    const input = ['hello world', 'the quick brown fox'];
    const { data, response } = await client.embeddings
      .create({ model: 'text-embedding-3-small', input }).withResponse();
    assertPharosHeaders(response, { attempts: 1, target: 'primary/text-embedding-3-small' });
    const received = primary.stats().last_request;
    assert.equal(received.path, '/v1/embeddings');
    assert.deepEqual(received.body.input, input);
    assert.equal(received.headers.authorization, `Bearer ${UPSTREAM_KEY}`);

    const reference = await (await fetch(`${primary.url}/embeddings`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input }),
    })).json();
    assert.equal(data.data.length, 2);
    assert.deepEqual(data.data.map((d) => d.embedding), reference.data.map((d) => d.embedding));
    assert.deepEqual(data.usage, reference.usage);
    assert.equal(data.model, 'text-embedding-3-small');
  });

  test('embeddings are retried like chat', TEST_TIMEOUT, async () => {
    primary.script([{ status: 500 }]);
    const { data, response } = await client.embeddings
      .create({ model: 'text-embedding-3-small', input: 'x', encoding_format: 'float' }).withResponse();
    assertPharosHeaders(response, { attempts: 2, target: 'primary/text-embedding-3-small' });
    assert.equal(data.data[0].embedding.length, 8);
  });

  test('/metrics counts requests, errors by class, attempts, fallbacks, latency, overhead, TTFT', TEST_TIMEOUT, async () => {
    const sample = (page, name, labels = '') => {
      const line = page.split('\n').find((l) => l.startsWith(`${name}${labels} `));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const read = async () => (await fetch(`${pharos.baseUrl}/metrics`)).text();
    const before = await read();

    primary.script([{ status: 503 }]);
    await client.chat.completions.create({ model: 'quick', messages: [{ role: 'user', content: 'x' }] });
    await collect(await client.chat.completions.create(
      { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'x' }] }));
    primary.script([{ status: 503 }]);
    backup.script([{ status: 503 }]);
    await assert.rejects(client.chat.completions.create({ model: 'quick', messages: [{ role: 'user', content: 'x' }] }));
    const after = await read();

    const delta = (name, labels) => sample(after, name, labels) - sample(before, name, labels);
    assert.equal(delta('pharos_gateway_requests_total', '{endpoint="chat.completions",model="quick",outcome="success"}'), 1);
    assert.equal(delta('pharos_gateway_requests_total', '{endpoint="chat.completions",model="quick",outcome="error"}'), 1);
    assert.equal(delta('pharos_gateway_errors_total', '{model="quick",class="server_error"}'), 1);
    assert.equal(delta('pharos_gateway_attempts_total', '{target="primary/gpt-4o",result="server_error"}'), 2);
    assert.equal(delta('pharos_gateway_attempts_total', '{target="backup/gpt-4o-mini",result="server_error"}'), 1);
    assert.equal(delta('pharos_gateway_fallbacks_total', '{model="quick"}'), 2);
    assert.equal(delta('pharos_gateway_upstream_latency_seconds_count', '{target="backup/gpt-4o-mini"}'), 2);
    assert.equal(delta('pharos_gateway_overhead_seconds_count', ''), 3);
    assert.equal(delta('pharos_gateway_time_to_first_token_seconds_count', '{model="gpt-4o"}'), 1);
  });

  test('models lists the gateway\'s models', TEST_TIMEOUT, async () => {
    const ids = [];
    for await (const model of client.models.list()) {
      assert.equal(model.object, 'model');
      ids.push(model.id);
    }
    for (const id of ['gpt-4o', 'quick', 'smart', 'solo', 'static', 'text-embedding-3-small']) {
      assert.ok(ids.includes(id), `${id} in ${JSON.stringify(ids)}`);
    }
  });

  // ---- the upstream key -------------------------------------------------------------------------

  test('api_key_env reaches the upstream as a Bearer token; the client\'s key never does', TEST_TIMEOUT, async () => {
    primary.script([{ status: 503 }]);
    await client.chat.completions.create({ model: 'quick', messages: [{ role: 'user', content: 'x' }] });
    const primaryLog = primary.stats().log;
    assert.equal(primaryLog.length, 1);
    assert.equal(primaryLog[0].headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    const backupLog = backup.stats().log;
    assert.equal(backupLog.length, 1);
    for (const entry of [...primaryLog, ...backupLog]) {
      const all = JSON.stringify(entry.headers);
      assert.ok(!all.includes(CLIENT_KEY), `the client's key reached ${entry.path}: ${all}`);
    }
    assert.ok(!JSON.stringify(backupLog[0].headers).includes(UPSTREAM_KEY),
      'the primary\'s key went to the backup');
  });

  // ---- runs -------------------------------------------------------------------------------------

  describe('runs', () => {
    const project = (label) => `gw-${label}-${randomUUID().slice(0, 8)}`;

    test('a successful call is a run with target, attempts, model and tokens', TEST_TIMEOUT, async () => {
      const name = project('ok');
      primary.script([{ status: 500 }]);
      const data = await client.chat.completions.create(
        { model: 'gpt-4o', messages: [{ role: 'user', content: 'count my tokens' }] },
        { headers: { 'x-pharos-project': name } });
      const [run] = await runsOf(name);
      assert.equal(run.run_type, 'llm');
      assert.equal(run.status, 'success');
      assert.ok(!run.error, `error: ${run.error}`);
      const metadata = run.extra?.metadata ?? {};
      assert.equal(metadata.pharos_target, 'primary/gpt-4o');
      assert.equal(Number(metadata.pharos_attempts), 2);
      assert.equal(metadata.ls_model_name, 'gpt-4o');
      assert.equal(typeof metadata.ls_provider, 'string');
      assert.ok(metadata.ls_provider.length > 0);
      assert.equal(run.prompt_tokens, data.usage.prompt_tokens);
      assert.equal(run.completion_tokens, data.usage.completion_tokens);
      assert.equal(run.total_tokens, data.usage.total_tokens);
    });

    test('a streamed call is a run with the usage chunk\'s tokens', TEST_TIMEOUT, async () => {
      const name = project('stream');
      const chunks = await collect(await client.chat.completions.create(
        { model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'one two three' }] },
        { headers: { 'langsmith-project': name } }));
      const usage = chunks.at(-1).usage;
      const [run] = await runsOf(name);
      assert.equal(run.status, 'success');
      assert.equal(run.extra?.metadata?.pharos_target, 'primary/gpt-4o');
      assert.equal(run.total_tokens, usage.total_tokens);
      assert.equal(run.prompt_tokens, usage.prompt_tokens);
    });

    test('a stream with usage in its finish chunk (vLLM style) still counts tokens', TEST_TIMEOUT, async () => {
      const name = project('vllm');
      primary.script([{ usage_in_final_choice_chunk: true }]);
      const chunks = await collect(await client.chat.completions.create(
        { model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'one two three' }] },
        { headers: { 'x-pharos-project': name } }));
      const finish = chunks.find((c) => c.usage);
      assert.ok(finish?.choices?.length > 0, 'the usage came in a chunk with choices');
      const [run] = await runsOf(name);
      assert.equal(run.total_tokens, finish.usage.total_tokens);
    });

    test('a failed call is an error run with its attempts', TEST_TIMEOUT, async () => {
      const name = project('failed');
      primary.script([{ status: 503 }]);
      backup.script([{ status: 503 }]);
      await assert.rejects(client.chat.completions.create(
        { model: 'quick', messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-pharos-project': name } }), httpError(503));
      const [run] = await runsOf(name);
      assert.equal(run.run_type, 'llm');
      assert.equal(run.status, 'error');
      assert.equal(typeof run.error, 'string');
      assert.ok(run.error.length > 0);
      assert.equal(Number(run.extra?.metadata?.pharos_attempts), 2);
    });

    test('a broken stream is an error run', TEST_TIMEOUT, async () => {
      const name = project('cut');
      primary.script([{ cut_after: 1 }]);
      const { error } = await collectUntilError(await client.chat.completions.create(
        { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-pharos-project': name } }));
      assert.ok(error);
      const [run] = await runsOf(name);
      assert.equal(run.status, 'error');
      assert.ok(run.error);
    });

    test('a call answered with the static response is a run too', TEST_TIMEOUT, async () => {
      const name = project('static');
      primary.script([{ status: 503 }]);
      await client.chat.completions.create({ model: 'static', messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-pharos-project': name } });
      const [run] = await runsOf(name);
      assert.equal(run.run_type, 'llm');
      assert.equal(Number(run.extra?.metadata?.pharos_attempts), 1, JSON.stringify(run.extra));
    });

    test('without a project header the run lands in project "gateway"', TEST_TIMEOUT, async () => {
      const marker = `marker-${randomUUID()}`;
      await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: marker }] });
      // Found by its input (the marker in the user message).
      await waitFor('a run with the marker in its inputs in project "gateway"', async () => {
        const runs = await runsOf('gateway', 1);
        return runs.find((r) => JSON.stringify(r.inputs ?? {}).includes(marker));
      });
    });

    test('a W3C traceparent sets trace_id and parent_run_id', TEST_TIMEOUT, async () => {
      const name = project('trace');
      const traceHex = randomBytes(16).toString('hex');
      const spanHex = randomBytes(8).toString('hex');
      await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'x-pharos-project': name, traceparent: `00-${traceHex}-${spanHex}-01` } });
      const [run] = await runsOf(name);
      assert.equal(run.trace_id, uuidFromHex(traceHex));
      assert.equal(run.parent_run_id, uuidFromHex(traceHex.slice(0, 16) + spanHex));
    });
  });
});

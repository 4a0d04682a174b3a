// The gateway's stages driven by the real `openai` SDK against the real binary and the scripted
// fake upstream: the exact cache (plain and streamed; the upstream's request counter does not
// move on a hit), the semantic cache (a paraphrase above the threshold hits, one below does not,
// the embedding call is a run under the chat run), usage asked for and stripped, tokens priced on
// the run and in /metrics, max_cost_per_query refused before the upstream, a budget reserved
// atomically (N concurrent calls against a budget worth M < N: exactly M admitted), a rate limit
// with Retry-After, and a Redis-backed cache and budget shared by two Pharos processes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requireInstalled, startPharos } from './harness.mjs';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';
import { startRedis } from '../fakes/redis_server.mjs';

requireInstalled();
const { default: OpenAI, BadRequestError, RateLimitError } = await import('openai');

const TEST_TIMEOUT = { timeout: 30_000 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// gpt-4o's list prices (USD per million tokens), as shipped in Pharos's price table.
const GPT_4O = { input: 2.5, output: 10 };

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}
const contentOf = (chunks) => chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');

async function waitFor(what, probe, { timeoutMs = 5_000, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await probe();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`${what} within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

// A Pharos in front of `upstream` with `extra` TOML appended to the gateway tables.
async function startGateway(upstream, extra, dirs) {
  const dir = await mkdtemp(path.join(tmpdir(), 'pharos-stages-'));
  dirs.push(dir);
  const config = path.join(dir, 'pharos.toml');
  await writeFile(config, `${extra}

[gateway.providers.primary]
base_url = "${upstream.url}"

[gateway.models."gpt-4o"]
targets = ["primary/gpt-4o"]
retry = { attempts = 1 }

[gateway.models."embedder"]
targets = ["primary/text-embedding-3-small"]
retry = { attempts = 1 }
`);
  return startPharos({ args: ['--config', config] });
}

function clientOf(pharos) {
  return new OpenAI({ baseURL: `${pharos.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
}

async function runsOf(pharos, project, count, filter = () => true) {
  return waitFor(`${count} run(s) in ${project}`, async () => {
    const sessions = await (await fetch(
      `${pharos.baseUrl}/api/v1/sessions?name=${encodeURIComponent(project)}`)).json();
    if (sessions.length !== 1) return undefined;
    const response = await fetch(`${pharos.baseUrl}/api/v1/runs/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session: [sessions[0].id] }),
    });
    const runs = (await response.json()).runs.filter(filter);
    return runs.length >= count ? runs : undefined;
  });
}

// Registers before/after hooks for a fake upstream and a Pharos in front of it with `extra` TOML;
// the returned object holds them once the hooks ran.
function gatewayFixture(extra) {
  const fixture = { dirs: [] };
  before(async () => {
    fixture.upstream = await startFakeUpstream();
    fixture.pharos = await startGateway(fixture.upstream, extra, fixture.dirs);
    fixture.client = clientOf(fixture.pharos);
  });
  after(async () => {
    await fixture.pharos?.stop();
    await fixture.upstream?.close();
    for (const dir of fixture.dirs) await rm(dir, { recursive: true, force: true });
  });
  return fixture;
}

const chatRequests = (upstream) => upstream.stats().by_path['/v1/chat/completions'] ?? 0;

describe('the gateway cache', () => {
  const f = gatewayFixture(`
[cache]
enabled = true
semantic = true
semantic_model = "embedder"
semantic_threshold = 0.95
`);

  test('the same request twice is answered once by the upstream', TEST_TIMEOUT, async () => {
    const project = `cache-${randomUUID()}`;
    // Semantic lookups embed first: these two use unrelated vectors so only the exact cache acts.
    f.upstream.script([{ embedding: [1, 0, 0, 0] }, {}]);
    const body = { model: 'gpt-4o', temperature: 0, messages: [{ role: 'user', content: `exact ${project}` }] };
    const before = chatRequests(f.upstream);
    const first = await f.client.chat.completions.create(body, { headers: { 'x-pharos-project': project } }).withResponse();
    assert.equal(first.response.headers.get('x-pharos-cache-status'), 'miss');
    assert.equal(chatRequests(f.upstream), before + 1);
    await sleep(100);  // the answer is stored just after it is sent
    const second = await f.client.chat.completions.create(body, { headers: { 'x-pharos-project': project } }).withResponse();
    assert.equal(second.response.headers.get('x-pharos-cache-status'), 'hit');
    assert.equal(chatRequests(f.upstream), before + 1, 'the upstream was not asked again');
    assert.deepEqual(second.data, first.data);
    // A hit is recorded as one and costs nothing.
    // The chat runs (each miss also has its embedding run, for the semantic lookup).
    const runs = await runsOf(f.pharos, project, 2, (r) => r.run_type === 'llm');
    const hit = runs.find((r) => r.extra.metadata.pharos_cache_status === 'hit');
    const miss = runs.find((r) => r.extra.metadata.pharos_cache_status === 'miss');
    assert.ok(hit && miss, JSON.stringify(runs.map((r) => r.extra.metadata)));
    assert.equal(Number(hit.total_cost), 0);
    assert.ok(Number(miss.total_cost) > 0);
  });

  test('a cached stream replays as a stream', TEST_TIMEOUT, async () => {
    const body = { model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: `stream ${randomUUID()}` }] };
    f.upstream.script([{ embedding: [0, 0, 1, 0] }, { chunks: 5 }]);
    const before = chatRequests(f.upstream);
    const first = await f.client.chat.completions.create(body).withResponse();
    const firstChunks = await collect(first.data);
    assert.equal(first.response.headers.get('x-pharos-cache-status'), 'miss');
    await sleep(100);
    const r = await f.client.chat.completions.create(body).withResponse();
    const second = { r, chunks: await collect(r.data) };
    assert.equal(r.response.headers.get('x-pharos-cache-status'), 'hit');
    assert.equal(chatRequests(f.upstream), before + 1);
    assert.equal(second.r.response.headers.get('content-type'), 'text/event-stream');
    assert.deepEqual(second.chunks, firstChunks);
    assert.equal(firstChunks.length, 7, 'role, five pieces, finish; the usage chunk Pharos asked for is not passed on');
    assert.ok(firstChunks.every((c) => c.usage === undefined || c.usage === null));
  });

  test('x-pharos-cache: no-store and no-cache', TEST_TIMEOUT, async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: `headers ${randomUUID()}` }] };
    f.upstream.script([{ embedding: [1, 1, 0, 0] }]);
    const before = chatRequests(f.upstream);
    const stored = await f.client.chat.completions.create(body, { headers: { 'x-pharos-cache': 'no-store' } }).withResponse();
    assert.equal(stored.response.headers.get('x-pharos-cache-status'), 'bypass');
    await sleep(100);
    f.upstream.script([{ embedding: [1, 1, 0, 0] }]);
    const fresh = await f.client.chat.completions.create(body).withResponse();
    assert.equal(fresh.response.headers.get('x-pharos-cache-status'), 'miss', 'no-store stored nothing');
    await sleep(100);
    const bypass = await f.client.chat.completions.create(body, { headers: { 'x-pharos-cache': 'no-cache' } }).withResponse();
    assert.equal(bypass.response.headers.get('x-pharos-cache-status'), 'bypass');
    assert.equal(chatRequests(f.upstream), before + 3);
    await assert.rejects(f.client.chat.completions.create(body, { headers: { 'x-pharos-cache': 'sometimes' } }),
      (e) => e instanceof BadRequestError && /x-pharos-cache/.test(e.message));
  });

  test('a paraphrase above the threshold hits the semantic cache, one below does not', TEST_TIMEOUT, async () => {
    const project = `semantic-${randomUUID()}`;
    const system = { role: 'system', content: `You answer geography questions. ${project}` };
    const ask = (content) => f.client.chat.completions.create(
      { model: 'gpt-4o', messages: [system, { role: 'user', content }] },
      { headers: { 'x-pharos-project': project } }).withResponse();
    // The fake's embeddings are scripted: cos(v1, v2) = 0.995, cos(v1, v3) = 0.8.
    f.upstream.script([{ embedding: [1, 0, 0, 0], }, { content: 'Paris.' }]);
    const before = chatRequests(f.upstream);
    const original = await ask('What is the capital of France?');
    assert.equal(original.response.headers.get('x-pharos-cache-status'), 'miss');
    await sleep(100);  // stored and indexed just after the answer is sent
    f.upstream.script([{ embedding: [0.995, 0.0998749, 0, 0] }]);
    const paraphrase = await ask('Which city is the capital of France?');
    assert.equal(paraphrase.response.headers.get('x-pharos-cache-status'), 'semantic-hit');
    assert.equal(paraphrase.data.choices[0].message.content, 'Paris.');
    assert.equal(chatRequests(f.upstream), before + 1);
    f.upstream.script([{ embedding: [0.8, 0.6, 0, 0] }, { content: 'Lyon is not the capital.' }]);
    const different = await ask('Is Lyon the capital of France?');
    assert.equal(different.response.headers.get('x-pharos-cache-status'), 'miss');
    assert.equal(chatRequests(f.upstream), before + 2);
    // The lookups are traced: each chat run has its embedding run under it, and the similarity.
    const runs = await runsOf(f.pharos, project, 6);
    const chats = runs.filter((r) => r.run_type === 'llm');
    const embeddings = runs.filter((r) => r.run_type === 'embedding');
    assert.equal(chats.length, 3);
    assert.equal(embeddings.length, 3);
    for (const e of embeddings) {
      assert.ok(chats.some((c) => c.id === e.parent_run_id), 'the embedding run is a child of a chat run');
    }
    const semanticHit = chats.find((r) => r.extra.metadata.pharos_cache_status === 'semantic-hit');
    assert.ok(semanticHit);
    assert.ok(Math.abs(semanticHit.extra.pharos.semantic_similarity - 0.995) < 1e-3);
  });
});

describe('usage and cost', () => {
  const f = gatewayFixture('');

  test('streamed usage is asked for, priced, and only passed on when the client asked', TEST_TIMEOUT, async () => {
    const project = `usage-${randomUUID()}`;
    const messages = [{ role: 'user', content: 'one two three four' }];
    const plain = await collect(await f.client.chat.completions.create(
      { model: 'gpt-4o', stream: true, messages }, { headers: { 'x-pharos-project': project } }));
    assert.ok(plain.every((c) => !c.usage), 'no usage chunk for a client that did not ask');
    assert.equal(f.upstream.stats().last_request.body.stream_options?.include_usage, true,
      'Pharos asked the upstream for usage');
    const asked = await collect(await f.client.chat.completions.create(
      { model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages },
      { headers: { 'x-pharos-project': project } }));
    const usage = asked.at(-1).usage;
    assert.ok(usage && usage.prompt_tokens > 0 && usage.completion_tokens > 0);
    const runs = await runsOf(f.pharos, project, 2, (r) => r.run_type === 'llm');
    const expected = (usage.prompt_tokens * GPT_4O.input + usage.completion_tokens * GPT_4O.output) / 1e6;
    for (const run of runs) {
      assert.equal(run.prompt_tokens, usage.prompt_tokens);
      assert.equal(run.completion_tokens, usage.completion_tokens);
      assert.ok(Math.abs(Number(run.total_cost) - expected) < 1e-12, `${run.total_cost} vs ${expected}`);
    }
    const metrics = await (await fetch(`${f.pharos.baseUrl}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('pharos_gateway_cost_usd_total{model="gpt-4o"'));
    assert.ok(line, metrics);
    assert.ok(Number(line.split(' ').at(-1)) >= 2 * expected - 1e-12);
    assert.match(metrics, /pharos_gateway_tokens_total\{model="gpt-4o",key="",user="",kind="prompt"\} \d+/);
  });

  test('an upstream that reports no usage is counted with the tokenizer', TEST_TIMEOUT, async () => {
    const project = `count-${randomUUID()}`;
    const content = 'The quick brown fox jumps over the lazy dog.';
    f.upstream.script([{ content, body: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] } }]);
    await f.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello world' }] },
      { headers: { 'x-pharos-project': project } });
    const [run] = await runsOf(f.pharos, project, 1);
    // o200k_base (gpt-4o): "hello world" is 2 tokens + 3 per message + 1 for the role + 3 priming;
    // the answer is 10 tokens.
    assert.equal(run.prompt_tokens, 9);
    assert.equal(run.completion_tokens, 10);
    assert.equal(run.extra.metadata.pharos_tokens_counted, true);
  });
});

describe('limits', () => {
  const f = gatewayFixture(`
[limits]
max_cost_per_query = 0.10
user_budget_usd = 0.045
`);

  test('a request over max_cost_per_query is refused before the upstream', TEST_TIMEOUT, async () => {
    const before = f.upstream.stats().requests;
    await assert.rejects(
      f.client.chat.completions.create({ model: 'gpt-4o', max_tokens: 100_000, messages: [{ role: 'user', content: 'write a novel' }] }),
      (e) => {
        assert.ok(e instanceof BadRequestError, String(e));
        assert.equal(e.code, 'cost_limit_exceeded');
        assert.match(e.message, /up to \$1\.00\d+/);
        assert.match(e.message, /max_cost_per_query of \$0\.1000/);
        return true;
      });
    // Without max_tokens the model's own output limit (16,384 for gpt-4o) is the worst case.
    await assert.rejects(
      f.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      (e) => e instanceof BadRequestError && /the model's limit/.test(e.message));
    assert.equal(f.upstream.stats().requests, before, 'the upstream never saw them');
    const ok = await f.client.chat.completions.create({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(ok.choices[0].finish_reason, 'stop');
  });

  test('N concurrent requests against a budget worth M of them: exactly M admitted', TEST_TIMEOUT, async () => {
    // Each reserves its worst case, ~$0.01 (max_tokens 1000 at $10/M, plus a few prompt tokens):
    // a $0.045 budget holds 4. The f.upstream answers slowly so that all reserve before any settles.
    const user = `user-${randomUUID()}`;
    const N = 10;
    f.upstream.script(Array.from({ length: N }, () => ({ delay_ms: 400 })));
    const before = chatRequests(f.upstream);
    const results = await Promise.allSettled(Array.from({ length: N }, () =>
      f.client.chat.completions.create({ model: 'gpt-4o', max_tokens: 1000, user, messages: [{ role: 'user', content: 'hi' }] })));
    const admitted = results.filter((r) => r.status === 'fulfilled').length;
    assert.equal(admitted, 4);
    assert.equal(chatRequests(f.upstream), before + 4);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      assert.ok(r.reason instanceof RateLimitError, String(r.reason));
      assert.equal(r.reason.code, 'budget_exceeded');
      assert.match(r.reason.message, /budget exceeded: this user has spent/);
      assert.ok(Number(r.reason.headers.get('retry-after')) > 0);
      assert.equal(r.reason.headers.get('x-should-retry'), 'false');
    }
    f.upstream.reset();
  });
});

describe('rate limits', () => {
  const f = gatewayFixture('[limits]\nkey_rpm = 2\n');

  test('requests per minute: 429 with Retry-After', TEST_TIMEOUT, async () => {
    const client = clientOf(f.pharos);
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    await f.client.chat.completions.create(body);
    await f.client.chat.completions.create(body);
    await assert.rejects(f.client.chat.completions.create(body), (e) => {
      assert.ok(e instanceof RateLimitError, String(e));
      assert.equal(e.code, 'rate_limit_exceeded');
      const seconds = Number(e.headers.get('retry-after'));
      assert.ok(seconds >= 1 && seconds <= 60, String(seconds));
      assert.ok(Number(e.headers.get('retry-after-ms')) > 0);
      return true;
    });
  });
});

describe('Redis shared by two Pharos processes', () => {
  const dirs = [];
  let upstream;
  let redis;
  let a;
  let b;

  before(async () => {
    upstream = await startFakeUpstream();
    redis = await startRedis();
    const shared = `
[cache]
enabled = true
backend = "redis"

[limits]
backend = "redis"
user_budget_usd = 0.045

[redis]
url = "${redis.url}"
`;
    a = await startGateway(upstream, shared, dirs);
    b = await startGateway(upstream, shared, dirs);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
    await upstream?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('an answer cached by one is a hit on the other', TEST_TIMEOUT, async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: `shared ${randomUUID()}` }] };
    const before = chatRequests(upstream);
    const first = await clientOf(a).chat.completions.create(body).withResponse();
    assert.equal(first.response.headers.get('x-pharos-cache-status'), 'miss');
    // Stored in Redis just after the answer is sent.
    await waitFor('the answer in Redis', async () => (await redis.command('KEYS', 'pharos:cache:*')).length >= 1);
    const second = await clientOf(b).chat.completions.create(body).withResponse();
    assert.equal(second.response.headers.get('x-pharos-cache-status'), 'hit');
    assert.deepEqual(second.data, first.data);
    assert.equal(chatRequests(upstream), before + 1);
  });

  test('one budget across both: exactly M of N concurrent requests admitted', TEST_TIMEOUT, async () => {
    const user = `user-${randomUUID()}`;
    const N = 10;
    upstream.script(Array.from({ length: N }, () => ({ delay_ms: 400 })));
    const results = await Promise.allSettled(Array.from({ length: N }, (_, i) =>
      clientOf(i % 2 === 0 ? a : b).chat.completions.create(
        { model: 'gpt-4o', max_tokens: 1000, user, messages: [{ role: 'user', content: `budget ${i} ${user}` }] })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 4);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      assert.ok(r.reason instanceof RateLimitError, String(r.reason));
      assert.equal(r.reason.code, 'budget_exceeded');
    }
    upstream.reset();
  });
});

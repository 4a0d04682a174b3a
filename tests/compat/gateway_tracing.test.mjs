// Gateway calls inside their callers' traces, with the real clients: a LangSmith RunTree's
// headers (langsmith-trace, baggage) put the call's run under the caller's run; the gateway's
// own spans exported over OTLP to a collector (a second Pharos) arrive as the same run; a dead
// collector never delays a call.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isolateLangSmithEnvironment, requireInstalled, startPharos } from './harness.mjs';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';

requireInstalled();
isolateLangSmithEnvironment();
const { default: OpenAI } = await import('openai');
const { Client, RunTree } = await import('langsmith');

const TEST_TIMEOUT = { timeout: 30_000 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function uuidFromHex(hex32) {
  return `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-` +
    `${hex32.slice(20)}`;
}

async function waitFor(what, probe, { timeoutMs = 10_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function queryRuns(pharos, body) {
  const response = await fetch(`${pharos.baseUrl}/api/v1/runs/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text).runs;
}

async function projectRuns(pharos, name) {
  const response = await fetch(`${pharos.baseUrl}/api/v1/sessions?name=${encodeURIComponent(name)}`);
  const sessions = await response.json();
  if (!Array.isArray(sessions) || sessions.length === 0) return [];
  return queryRuns(pharos, { session: [sessions[0].id] });
}

// A loopback port with nothing listening on it.
async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function configToml(upstream, extra = '') {
  return `
[gateway]
${extra}

[gateway.providers.primary]
base_url = "${upstream.url}"

[gateway.models."gpt-4o"]
targets = ["primary/gpt-4o"]
retry = { attempts = 2, multiplier = 0.01, min_wait_s = 0.01, max_wait_s = 0.05, jitter_s = 0 }
`;
}

describe('gateway calls in their callers\' traces', () => {
  let upstream;
  let collector;  // a second Pharos receiving the gateway's OTLP spans
  let pharos;
  let configDir;
  let openai;

  before(async () => {
    upstream = await startFakeUpstream();
    collector = await startPharos();
    configDir = await mkdtemp(path.join(tmpdir(), 'pharos-gateway-tracing-'));
    const configFile = path.join(configDir, 'pharos.toml');
    await writeFile(configFile,
      configToml(upstream, `otlp_endpoint = "${collector.baseUrl}/v1/traces"`));
    pharos = await startPharos({ args: ['--config', configFile] });
    openai = new OpenAI({ baseURL: `${pharos.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  after(async () => {
    await pharos?.stop();
    await collector?.stop();
    await upstream?.close();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  test('a RunTree\'s headers put the gateway call under the caller\'s run', TEST_TIMEOUT, async () => {
    const project = `gw-langsmith-${randomUUID().slice(0, 8)}`;
    const client = new Client({ apiUrl: `${pharos.baseUrl}/api/v1`, callerOptions: { maxRetries: 0 } });
    const parent = new RunTree({ name: 'answer-question', run_type: 'chain', project_name: project, client,
                                 inputs: { question: 'hi' } });
    await parent.postRun();
    const headers = parent.toHeaders();
    assert.ok(headers['langsmith-trace'], 'the SDK gives a langsmith-trace header');
    await openai.chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'langsmith-trace': headers['langsmith-trace'], baggage: headers.baggage } });
    await parent.end({ answer: 'done' });
    await parent.patchRun();
    await client.awaitPendingTraceBatches();

    // The project comes from the baggage, the tree from langsmith-trace.
    const runs = await waitFor('the chain and the llm run in the project', async () => {
      const found = await projectRuns(pharos, project);
      return found.length >= 2 ? found : undefined;
    });
    const chain = runs.find((r) => r.run_type === 'chain');
    const llm = runs.find((r) => r.run_type === 'llm');
    assert.ok(chain && llm, JSON.stringify(runs.map((r) => [r.name, r.run_type])));
    assert.equal(chain.id, parent.id);
    assert.equal(llm.parent_run_id, parent.id);
    assert.equal(llm.trace_id, parent.trace_id);
    assert.ok(llm.dotted_order.startsWith(`${chain.dotted_order}.`), llm.dotted_order);
    assert.ok(llm.dotted_order.endsWith(llm.id));

    const trace = await queryRuns(pharos, { trace: parent.trace_id });
    assert.deepEqual(trace.map((r) => r.id).sort(), [chain.id, llm.id].sort());
  });

  test('the gateway\'s spans reach an OTLP collector as the same run', TEST_TIMEOUT, async () => {
    const project = `gw-otlp-${randomUUID().slice(0, 8)}`;
    const traceHex = randomBytes(16).toString('hex');
    const parentSpan = randomBytes(8).toString('hex');
    const data = await openai.chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'exported' }] },
      { headers: { 'x-pharos-project': project, traceparent: `00-${traceHex}-${parentSpan}-01` } });

    const [local] = await waitFor('the run in the gateway\'s own store', async () => {
      const found = await projectRuns(pharos, project);
      return found.length > 0 ? found : undefined;
    });
    // Batches go out at least once a second.
    const [exported] = await waitFor('the exported span as a run in the collector', async () => {
      await collector.otlpMaterialized();
      const found = await projectRuns(collector, project);
      return found.length > 0 ? found : undefined;
    });
    assert.equal(exported.id, local.id);
    assert.equal(exported.trace_id, uuidFromHex(traceHex));
    assert.equal(exported.parent_run_id, uuidFromHex(traceHex.slice(0, 16) + parentSpan));
    assert.equal(exported.name, 'chat gpt-4o');
    assert.equal(exported.run_type, 'llm');
    assert.equal(exported.status, 'success');
    assert.equal(exported.prompt_tokens, data.usage.prompt_tokens);
    assert.equal(exported.completion_tokens, data.usage.completion_tokens);
    const metadata = exported.extra?.metadata ?? {};
    assert.equal(metadata['service.name'], 'pharos-gateway');
    assert.equal(metadata['gen_ai.request.model'], 'gpt-4o');
    assert.equal(metadata['pharos.target'], 'primary/gpt-4o');
  });

  test('a failed call is exported as an error span', TEST_TIMEOUT, async () => {
    const project = `gw-otlp-err-${randomUUID().slice(0, 8)}`;
    upstream.script([{ status: 503 }, { status: 503 }]);
    await assert.rejects(openai.chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-pharos-project': project } }));
    const [exported] = await waitFor('the error span in the collector', async () => {
      await collector.otlpMaterialized();
      const found = await projectRuns(collector, project);
      return found.length > 0 ? found : undefined;
    });
    assert.equal(exported.status, 'error');
    assert.match(exported.error, /503/);
    assert.equal(exported.extra?.metadata?.['pharos.attempts'], 2);
  });

  test('a collector that is down never delays a call; its spans are counted as dropped', TEST_TIMEOUT, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pharos-gateway-dead-collector-'));
    const configFile = path.join(dir, 'pharos.toml');
    await writeFile(configFile,
      configToml(upstream, `otlp_endpoint = "http://127.0.0.1:${await closedPort()}/v1/traces"`));
    const lonely = await startPharos({ args: ['--config', configFile] });
    try {
      const client = new OpenAI({ baseURL: `${lonely.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
      const { response } = await client.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })
        .withResponse();
      assert.equal(response.status, 200);
      // Export failures only show in the metric and the log.
      assert.ok(Number(response.headers.get('x-pharos-overhead-ms')) < 50);
      await waitFor('the dropped span in the metrics', async () => {
        const page = await (await fetch(`${lonely.baseUrl}/metrics`)).text();
        return /pharos_otlp_export_spans_total\{result="dropped"\} [1-9]/.test(page);
      });
    } finally {
      await lonely.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// OpenTelemetry: the real npm exporters (OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC, release
// line 0.57 with sdk-trace-node 1.30, which share @opentelemetry/api 1.9) send a nested GenAI trace
// through a BatchSpanProcessor; Pharos stores the spans as runs that the LangSmith query API reads
// back with the tree, statuses, model, tokens and cost, and the seed's span attributes filterable.
// The gRPC exporter talks to Pharos's second listener (--otlp-grpc-listen), plain and gzip, and
// passes API keys as call metadata.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { requireInstalled, runPharos, startPharos } from './harness.mjs';

requireInstalled();
const { SpanStatusCode, context } = await import('@opentelemetry/api');
const { NodeTracerProvider } = await import('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
const { Resource } = await import('@opentelemetry/resources');
const { OTLPTraceExporter: ProtoExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
const { OTLPTraceExporter: JsonExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
const { OTLPTraceExporter: GrpcExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
const { Metadata } = await import('@grpc/grpc-js');
const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');

// What provider.register() does for an app: without a context manager, startActiveSpan cannot
// make a span the parent of the spans started inside it.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

async function queryRuns(baseUrl, body) {
  const response = await fetch(`${baseUrl}/api/v1/runs/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text).runs;
}

async function projectId(baseUrl, name) {
  const response = await fetch(`${baseUrl}/api/v1/sessions?name=${encodeURIComponent(name)}`);
  const list = await response.json();
  assert.equal(list.length, 1, `project ${name} exists`);
  return list[0].id;
}

// The seed's monitored LLM call (span attributes prompt.length, model, response.length,
// duration_ms, tokens.total) inside an agent span, plus a failing tool span.
function traceOneRequest(tracer) {
  return tracer.startActiveSpan('agent', (root) => {
    root.setAttribute('gen_ai.operation.name', 'invoke_agent');
    tracer.startActiveSpan('chat gpt-4o-mini', (llm) => {
      llm.setAttributes({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 1000,
        'gen_ai.usage.output_tokens': 200,
        'prompt.length': 42,
        model: 'gpt-4o-mini',
        'response.length': 120,
        duration_ms: 512.5,
        'tokens.total': 1200,
      });
      llm.end();
    });
    tracer.startActiveSpan('lookup_order', (tool) => {
      tool.setAttribute('gen_ai.operation.name', 'execute_tool');
      tool.recordException(new Error('order service down'));
      tool.setStatus({ code: SpanStatusCode.ERROR, message: 'order service down' });
      tool.end();
    });
    root.end();
    return root.spanContext().traceId;
  });
}

const exporters = [
  ['http/protobuf', (pharos) => new ProtoExporter({ url: `${pharos.baseUrl}/v1/traces` })],
  ['http/json', (pharos) => new JsonExporter({ url: `${pharos.baseUrl}/v1/traces` })],
  ['grpc', (pharos) => new GrpcExporter({ url: `http://127.0.0.1:${pharos.grpcPort}` })],
  ['grpc-gzip', (pharos) => new GrpcExporter({
    url: `http://127.0.0.1:${pharos.grpcPort}`, compression: 'gzip',
  })],
];

for (const [label, makeExporter] of exporters) {
  describe(`OTLP ${label} exporter into Pharos`, () => {
    let pharos;
    let provider;
    let traceId;
    const project = `otel-${label.replace('/', '-')}`;

    before(async () => {
      pharos = await startPharos();
      provider = new NodeTracerProvider({
        resource: new Resource({ 'service.name': project }),
        spanProcessors: [new BatchSpanProcessor(makeExporter(pharos))],
      });
      const tracer = provider.getTracer('compat-test', '1.0.0');
      traceId = traceOneRequest(tracer);
      await provider.forceFlush();
      await pharos.otlpMaterialized();
    });
    after(async () => {
      await provider?.shutdown();
      await pharos?.stop();
    });

    test('the trace arrives intact as a tree of runs', async () => {
      const session = await projectId(pharos.baseUrl, project);
      const runs = await queryRuns(pharos.baseUrl, { session: [session], order: 'asc' });
      assert.deepEqual(runs.map((r) => r.name).sort(), ['agent', 'chat gpt-4o-mini', 'lookup_order']);
      const uuid = `${traceId.slice(0, 8)}-${traceId.slice(8, 12)}-${traceId.slice(12, 16)}-` +
        `${traceId.slice(16, 20)}-${traceId.slice(20)}`;
      const response = await fetch(`${pharos.baseUrl}/api/v1/traces/${uuid}`);
      const tree = await response.json();
      assert.equal(response.status, 200, JSON.stringify(tree));
      assert.equal(tree.runs.length, 1);
      assert.equal(tree.runs[0].name, 'agent');
      assert.deepEqual(tree.runs[0].child_runs.map((r) => r.name).sort(),
        ['chat gpt-4o-mini', 'lookup_order']);
    });

    test('model, tokens and cost show on the LLM run; the failing span is an error', async () => {
      const session = await projectId(pharos.baseUrl, project);
      const [llm] = await queryRuns(pharos.baseUrl, { session: [session], run_type: 'llm' });
      assert.equal(llm.name, 'chat gpt-4o-mini');
      assert.equal(llm.model, 'gpt-4o-mini');
      assert.equal(llm.prompt_tokens, 1000);
      assert.equal(llm.completion_tokens, 200);
      assert.equal(llm.total_tokens, 1200);
      // gpt-4o-mini list price: $0.15 / M input, $0.60 / M output.
      assert.ok(Math.abs(llm.total_cost - (1000 * 0.15 + 200 * 0.6) / 1e6) < 1e-12, `${llm.total_cost}`);
      assert.equal(llm.figure_sources.cost, 'computed');
      const [failed] = await queryRuns(pharos.baseUrl, {
        session: [session], filter: 'eq(status, "error")',
      });
      assert.equal(failed.name, 'lookup_order');
      assert.equal(failed.run_type, 'tool');
      assert.equal(failed.error, 'order service down');
      assert.ok(failed.events.some((e) => e.name === 'exception'));
    });

    test("the seed's span attributes are kept and filterable", async () => {
      const session = await projectId(pharos.baseUrl, project);
      const runs = await queryRuns(pharos.baseUrl, {
        session: [session],
        filter: 'and(eq(metadata_key, "prompt.length"), eq(metadata_value, "42"))',
      });
      assert.equal(runs.length, 1);
      const metadata = runs[0].extra.metadata;
      assert.equal(metadata['prompt.length'], 42);
      assert.equal(metadata.model, 'gpt-4o-mini');
      assert.equal(metadata['response.length'], 120);
      assert.equal(metadata.duration_ms, 512.5);
      assert.equal(metadata['tokens.total'], 1200);
      assert.equal(metadata['service.name'], project);
      const byTokens = await queryRuns(pharos.baseUrl, {
        session: [session], filter: 'and(eq(metadata_key, "tokens.total"), eq(metadata_value, 1200))',
      });
      assert.equal(byTokens.length, 1);
    });
  });
}

// One export through an exporter, resolved with the SDK's ExportResult ({code: 0} is success).
function exportOnce(exporter, tracerName) {
  return new Promise((resolve) => {
    const provider = new NodeTracerProvider({ resource: new Resource({ 'service.name': 'keyed' }) });
    const span = provider.getTracer(tracerName).startSpan('keyed span');
    span.end();
    exporter.export([span], resolve);
  });
}

describe('OTLP gRPC with API keys required (auth.mode=required)', () => {
  let pharos;
  let key;
  before(async () => {
    pharos = await startPharos({ args: ['--set', 'auth.mode=required'] });
    const created = await runPharos(['keys', 'create', '--workspace', 'grpc-team', '--data',
      pharos.dataDir]);
    assert.equal(created.code, 0, created.stderr);
    key = /\bphk_[A-Za-z0-9]+_[A-Za-z0-9]+\b/.exec(created.stdout)?.[0];
    assert.ok(key, created.stdout);
  });
  after(async () => {
    await pharos?.stop();
  });

  test('an export without a key is refused and nothing is stored', async () => {
    const exporter = new GrpcExporter({ url: `http://127.0.0.1:${pharos.grpcPort}` });
    const result = await exportOnce(exporter, 'no-key');
    await exporter.shutdown();
    assert.notEqual(result.code, 0, 'refused');
    assert.match(String(result.error?.message), /UNAUTHENTICATED|16/, String(result.error));
    await pharos.otlpMaterialized();
    const response = await fetch(`${pharos.baseUrl}/api/v1/sessions?name=keyed`, {
      headers: { 'x-api-key': key },
    });
    assert.deepEqual(await response.json(), []);
  });

  test('an export with x-api-key metadata lands in the key\'s workspace', async () => {
    const metadata = new Metadata();
    metadata.set('x-api-key', key);
    const exporter = new GrpcExporter({ url: `http://127.0.0.1:${pharos.grpcPort}`, metadata });
    const result = await exportOnce(exporter, 'with-key');
    await exporter.shutdown();
    assert.equal(result.code, 0, String(result.error));
    await pharos.otlpMaterialized();
    const response = await fetch(`${pharos.baseUrl}/api/v1/sessions?name=keyed`, {
      headers: { 'x-api-key': key },
    });
    const list = await response.json();
    assert.equal(list.length, 1, JSON.stringify(list));
    const runs = await fetch(`${pharos.baseUrl}/api/v1/runs/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ session: [list[0].id] }),
    }).then((r) => r.json());
    assert.deepEqual(runs.runs.map((r) => r.name), ['keyed span']);
  });
});

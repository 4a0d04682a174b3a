// Runs and projects: the real `langsmith` client traces into Pharos (traceable, RunTree, every
// ingest path: multipart with and without gzip, /runs/batch, POST /runs + PATCH /runs/{id}) and
// reads back through listRuns / readRun / the project calls, with every filter function.
//
// Every client here records what it sent and what Pharos answered (`recordingClient`), because
// the client swallows ingest failures (it logs "Error exporting batch" and drops the batch): a
// rejected upload is reported by the assertion on the recorded status, with Pharos's answer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  isolateLangSmithEnvironment,
  packageVersion,
  requireInstalled,
  runPharos,
  startPharos,
} from './harness.mjs';
import {
  describeRequest,
  listAll,
  rawJson,
  recordingClient,
  recordingFetch,
  testServerLoggedNoErrors,
} from './langsmith_helpers.mjs';

requireInstalled();
isolateLangSmithEnvironment();
// "Tracing on", as a user of the client configures it. The clients below still get their endpoint
// explicitly, except the first describe, which is configured by the environment alone.
process.env.LANGSMITH_TRACING = 'true';
const { RunTree, overrideFetchImplementation } = await import('langsmith');
const { traceable } = await import('langsmith/traceable');
const langsmithVersion = packageVersion('langsmith');

const TEST_TIMEOUT = { timeout: 60_000 };
const INGEST_PATH = /\/api\/v1\/runs(\/multipart|\/batch|\/[0-9a-f-]{36})?$/;

// ------------------------------------------------------------------------------------------------
// Helpers

let projectCounter = 0;
function freshProjectName(label) {
  projectCounter += 1;
  return `compat-${label}-${projectCounter}-${randomUUID().slice(0, 8)}`;
}

// The ingest requests of a recording, asserted to have all succeeded (2xx).
function assertIngestSucceeded(sent) {
  const ingest = sent.filter((r) => INGEST_PATH.test(r.path) && r.method !== 'GET');
  assert.ok(ingest.length > 0, 'the client sent no ingest request at all');
  const failed = ingest.filter((r) => !(r.status >= 200 && r.status < 300));
  assert.deepEqual(failed.map(describeRequest), [], 'every ingest request must be answered 2xx');
  return ingest;
}

async function flush(recorder) {
  await recorder.client.awaitPendingTraceBatches();
  await recorder.idle();
}

const names = (runs) => runs.map((r) => r.name);
const sortedNames = (runs) => names(runs).sort();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const isUuid = (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s);

// The traced pipeline of the tree tests: two traces, nested three deep, one run caught failing
// and one failure propagating to its root.
//   answer_question (chain, success)            broken_pipeline (chain, error)
//   ├─ tokenize (tool)                           ├─ retrieve (retriever)
//   ├─ retrieve (retriever)                      │  └─ embed (embedding)
//   │  └─ embed (embedding)                      └─ explode (tool, error "Error: boom: ...")
//   └─ flaky_tool (tool, error, caught)
function makePipeline(config = {}) {
  const embed = traceable(async ({ text }) => ({ vector: [0.1, 0.2, text.length] }),
    { name: 'embed', run_type: 'embedding', ...config });
  const retrieve = traceable(async ({ query }) => {
    await embed({ text: query });
    return { documents: ['Rayleigh scattering'] };
  }, { name: 'retrieve', run_type: 'retriever', ...config });
  const tokenize = traceable(async (text) => ({ tokens: text.split(' ') }),
    { name: 'tokenize', run_type: 'tool', ...config });
  const flaky = traceable(async ({ attempt }) => {
    throw new Error(`flaky tool failed on attempt ${attempt}`);
  }, { name: 'flaky_tool', run_type: 'tool', ...config });
  const explode = traceable(async ({ reason }) => {
    throw new Error(`boom: the ${reason}`);
  }, { name: 'explode', run_type: 'tool', ...config });

  const answerQuestion = traceable(async ({ question }) => {
    await tokenize(question);
    const { documents } = await retrieve({ query: question });
    let recovered = false;
    try {
      await flaky({ attempt: 1 });
    } catch {
      recovered = true;
    }
    return { answer: documents[0], recovered };
  }, { name: 'answer_question', run_type: 'chain', ...config });

  const brokenPipeline = traceable(async ({ question }) => {
    await retrieve({ query: question });
    await explode({ reason: 'index is corrupt' });
    return { unreachable: true };
  }, { name: 'broken_pipeline', run_type: 'chain', ...config });

  return async () => {
    const answer = await answerQuestion({ question: 'Why is the sky blue?' });
    assert.deepEqual(answer, { answer: 'Rayleigh scattering', recovered: true });
    await assert.rejects(brokenPipeline({ question: 'What breaks?' }),
      /boom: the index is corrupt/);
  };
}

const BOOM = 'Error: boom: the index is corrupt';
const FLAKY = 'Error: flaky tool failed on attempt 1';

// Asserts parent links, trace ids and dotted orders of all runs of one project; returns the runs
// of each trace sorted by dotted_order, keyed by the root's name.
function assertWellFormedTrees(runs, projectId) {
  const byId = new Map(runs.map((r) => [r.id, r]));
  assert.equal(byId.size, runs.length, 'run ids are unique');
  const roots = runs.filter((r) => r.parent_run_id == null);
  const traces = {};
  for (const root of roots) {
    assert.equal(root.trace_id, root.id, `root ${root.name}: trace_id is its own id`);
    assert.match(root.dotted_order, new RegExp(`^\\d{8}T\\d{12}Z${root.id}$`),
      `root ${root.name}: one dotted_order segment ending in its id`);
    traces[root.name] = [];
  }
  for (const run of runs) {
    assert.ok(isUuid(run.id), `run id ${run.id} is a lower-case UUID`);
    assert.equal(run.session_id, projectId, `${run.name}: session_id is the project's id`);
    assert.ok(run.dotted_order.endsWith(run.id), `${run.name}: dotted_order ends with its id`);
    const root = byId.get(run.trace_id);
    assert.ok(root, `${run.name}: trace_id ${run.trace_id} is a run of the project`);
    assert.equal(root.parent_run_id ?? null, null, `${run.name}: trace_id names a root`);
    if (run.parent_run_id != null) {
      const parent = byId.get(run.parent_run_id);
      assert.ok(parent, `${run.name}: parent ${run.parent_run_id} is a run of the project`);
      assert.equal(parent.trace_id, run.trace_id, `${run.name}: same trace as its parent`);
      assert.ok(run.dotted_order.startsWith(`${parent.dotted_order}.`),
        `${run.name}: dotted_order ${run.dotted_order} extends ${parent.dotted_order}`);
      assert.equal(run.dotted_order.split('.').length, parent.dotted_order.split('.').length + 1,
        `${run.name}: one segment more than its parent`);
    }
    traces[root.name].push(run);
  }
  for (const list of Object.values(traces)) {
    list.sort((a, b) => (a.dotted_order < b.dotted_order ? -1 : 1));
  }
  return traces;
}

// ------------------------------------------------------------------------------------------------

describe(`langsmith ${langsmithVersion}: traceable configured by the environment`, () => {
  let pharos;
  let reader;
  let ingest;
  let project;
  let runs;
  let traces;
  const projectName = freshProjectName('traceable');

  before(async () => {
    pharos = await startPharos();
    // The shared client of traceable, as a user gets it: LANGSMITH_ENDPOINT + tracing on.
    process.env.LANGSMITH_ENDPOINT = `${pharos.baseUrl}/api/v1`;
    process.env.LANGSMITH_PROJECT = projectName;
    RunTree.sharedClient = null;
    ingest = recordingFetch();
    overrideFetchImplementation(ingest.fetchImpl, true); // true: keep the streamed multipart body
    try {
      await makePipeline()();
      await RunTree.getSharedClient().awaitPendingTraceBatches();
      await ingest.idle();
    } finally {
      overrideFetchImplementation(undefined, undefined);
      RunTree.sharedClient = null;
      delete process.env.LANGSMITH_ENDPOINT;
      delete process.env.LANGSMITH_PROJECT;
    }
    reader = await recordingClient(pharos);
  });
  after(async () => {
    await pharos?.stop();
  });

  test('the shared client uploads through /runs/multipart, all accepted', TEST_TIMEOUT, () => {
    const requests = assertIngestSucceeded(ingest.sent);
    assert.ok(ingest.sent.some((r) => r.path === '/api/v1/info' && r.status === 200),
      `GET /info answered 200: ${ingest.sent.map(describeRequest).join('; ')}`);
    assert.ok(requests.every((r) => r.path === '/api/v1/runs/multipart'),
      `only multipart uploads: ${requests.map(describeRequest).join('; ')}`);
  });

  test('the project exists and listRuns returns all 9 runs with the right tree', TEST_TIMEOUT,
    async () => {
      project = await reader.client.readProject({ projectName });
      assert.equal(project.name, projectName);
      assert.ok(isUuid(project.id), `project id ${project.id}`);

      runs = await listAll(reader.client, { projectName });
      assert.equal(runs.length, 9, `runs: ${names(runs).join(', ')}`);
      traces = assertWellFormedTrees(runs, project.id);
      assert.deepEqual(Object.keys(traces).sort(), ['answer_question', 'broken_pipeline']);

      // dotted_order order is execution order.
      assert.deepEqual(names(traces.answer_question),
        ['answer_question', 'tokenize', 'retrieve', 'embed', 'flaky_tool']);
      assert.deepEqual(names(traces.broken_pipeline),
        ['broken_pipeline', 'retrieve', 'embed', 'explode']);

      // Parent links, by name.
      for (const list of Object.values(traces)) {
        const [root] = list;
        const byName = Object.fromEntries(list.map((r) => [r.name, r]));
        for (const r of list.slice(1)) {
          const expectedParent = r.name === 'embed' ? byName.retrieve.id : root.id;
          assert.equal(r.parent_run_id, expectedParent, `${root.name}/${r.name}: parent_run_id`);
          assert.equal(r.trace_id, root.id, `${root.name}/${r.name}: trace_id`);
        }
      }
    });

  test('statuses, error text, inputs, outputs and run types are as traced', TEST_TIMEOUT, () => {
    assert.ok(traces, 'needs the previous test');
    const [aq, tokenize, retrieve, embed, flaky] = traces.answer_question;
    const [bp, retrieve2, embed2, explode] = traces.broken_pipeline;

    const expected = [
      [aq, 'chain', 'success', null],
      [tokenize, 'tool', 'success', null],
      [retrieve, 'retriever', 'success', null],
      [embed, 'embedding', 'success', null],
      [flaky, 'tool', 'error', FLAKY],
      [bp, 'chain', 'error', BOOM],
      [retrieve2, 'retriever', 'success', null],
      [embed2, 'embedding', 'success', null],
      [explode, 'tool', 'error', BOOM],
    ];
    for (const [run, runType, status, error] of expected) {
      assert.equal(run.run_type, runType, `${run.name}: run_type`);
      assert.equal(run.status, status, `${run.name}: status`);
      assert.equal(run.error ?? null, error, `${run.name}: error`);
      assert.ok(run.start_time && run.end_time, `${run.name}: start_time and end_time`);
      assert.ok(new Date(run.end_time) >= new Date(run.start_time), `${run.name}: end >= start`);
    }
    assert.deepEqual(aq.inputs, { question: 'Why is the sky blue?' });
    assert.deepEqual(aq.outputs, { answer: 'Rayleigh scattering', recovered: true });
    assert.deepEqual(tokenize.inputs, { input: 'Why is the sky blue?' });
    assert.deepEqual(tokenize.outputs, { tokens: ['Why', 'is', 'the', 'sky', 'blue?'] });
    assert.deepEqual(retrieve.inputs, { query: 'Why is the sky blue?' });
    assert.deepEqual(embed.outputs, { vector: [0.1, 0.2, 20] });
    assert.deepEqual(flaky.inputs, { attempt: 1 });
    assert.deepEqual(bp.inputs, { question: 'What breaks?' });
    assert.deepEqual(explode.inputs, { reason: 'index is corrupt' });
    assert.equal(explode.outputs ?? null, null, 'a failed run has no outputs');
    // The runtime block the client sends in extra survives.
    assert.equal(aq.extra?.runtime?.sdk, 'langsmith-js');
    assert.equal(aq.extra?.runtime?.sdk_version, langsmithVersion);
  });

  test('the monitoring filter returns exactly the failed runs, with error, inputs, trace_id',
    TEST_TIMEOUT, async () => {
      const failed = await listAll(reader.client, {
        projectName,
        filter: 'and(eq(status, "error"), gte(start_time, "2024-01-01"))',
      });
      assert.deepEqual(sortedNames(failed), ['broken_pipeline', 'explode', 'flaky_tool']);
      const byName = Object.fromEntries(failed.map((r) => [r.name, r]));
      const roots = Object.fromEntries(runs.filter((r) => r.parent_run_id == null)
        .map((r) => [r.name, r.id]));
      assert.equal(byName.flaky_tool.error, FLAKY);
      assert.deepEqual(byName.flaky_tool.inputs, { attempt: 1 });
      assert.equal(byName.flaky_tool.trace_id, roots.answer_question);
      assert.equal(byName.explode.error, BOOM);
      assert.deepEqual(byName.explode.inputs, { reason: 'index is corrupt' });
      assert.equal(byName.explode.trace_id, roots.broken_pipeline);
      assert.equal(byName.broken_pipeline.error, BOOM);
      assert.deepEqual(byName.broken_pipeline.inputs, { question: 'What breaks?' });
      assert.equal(byName.broken_pipeline.trace_id, roots.broken_pipeline);

      // The same through the body parameter `error: true`, and nothing after the runs' start.
      assert.deepEqual(sortedNames(await listAll(reader.client, { projectName, error: true })),
        ['broken_pipeline', 'explode', 'flaky_tool']);
      assert.deepEqual(await listAll(reader.client, {
        projectName,
        filter: 'and(eq(status, "error"), gte(start_time, "2999-01-01"))',
      }), []);
    });

  test('readRun(id) returns the run; loadChildRuns builds the child tree', TEST_TIMEOUT,
    async () => {
      assert.ok(traces, 'needs the tree test');
      const root = traces.answer_question[0];
      const run = await reader.client.readRun(root.id);
      assert.equal(run.id, root.id);
      assert.equal(run.name, 'answer_question');
      assert.equal(run.status, 'success');
      assert.equal(run.trace_id, root.id);
      assert.equal(run.session_id, project.id);
      assert.equal(run.dotted_order, root.dotted_order);
      assert.deepEqual(run.inputs, { question: 'Why is the sky blue?' });
      assert.deepEqual(run.outputs, { answer: 'Rayleigh scattering', recovered: true });

      const failedChild = await reader.client.readRun(traces.answer_question[4].id);
      assert.equal(failedChild.name, 'flaky_tool');
      assert.equal(failedChild.error, FLAKY);
      assert.equal(failedChild.parent_run_id, root.id);

      const tree = await reader.client.readRun(root.id, { loadChildRuns: true });
      assert.deepEqual(names(tree.child_runs), ['tokenize', 'retrieve', 'flaky_tool']);
      const retrieve = tree.child_runs[1];
      assert.deepEqual(names(retrieve.child_runs), ['embed']);
      assert.equal(retrieve.child_runs[0].parent_run_id, retrieve.id);
      assert.equal(tree.child_runs[2].error, FLAKY);
      // The children query is /runs/query {session, trace, is_root:false}: no root in it.
      const query = reader.sent.filter((r) => r.path === '/api/v1/runs/query').at(-1);
      assert.ok(query, 'loadChildRuns posted /runs/query');
      const body = JSON.parse(query.body);
      assert.equal(body.trace, root.id);
      assert.equal(body.is_root, false);
      assert.deepEqual(body.session, [project.id]);

      const broken = await reader.client.readRun(traces.broken_pipeline[0].id,
        { loadChildRuns: true });
      assert.equal(broken.error, BOOM);
      assert.deepEqual(names(broken.child_runs), ['retrieve', 'explode']);
      assert.deepEqual(names(broken.child_runs[0].child_runs), ['embed']);
    });

  test('readRun of an unknown id is a LangSmithNotFoundError', TEST_TIMEOUT, async () => {
    await assert.rejects(reader.client.readRun(randomUUID()), (error) => {
      assert.equal(error.name, 'LangSmithNotFoundError', String(error));
      assert.doesNotMatch(error.message, /no route/, 'a missing run, not a missing route');
      return true;
    });
  });

  testServerLoggedNoErrors(() => pharos);
});

// ------------------------------------------------------------------------------------------------
// Ingest paths. Each traces the same small tree; the root sleeps after its children so that its
// create is uploaded before its end (a post, then a patch without inputs, in separate requests).

async function traceSmallTree(client, projectName) {
  const config = { client, project_name: projectName };
  const child = traceable(async ({ x }) => ({ doubled: x * 2 }),
    { name: 'ingest_child', run_type: 'tool', ...config });
  const failing = traceable(async () => {
    throw new Error('ingest failure');
  }, { name: 'ingest_fail', run_type: 'tool', ...config });
  const root = traceable(async ({ n }) => {
    const { doubled } = await child({ x: n });
    try {
      await failing({ n });
    } catch {
      // caught: the root still succeeds
    }
    await sleep(700); // > the 250 ms batching delay: the root's create is flushed first
    return { result: doubled };
  }, { name: 'ingest_root', run_type: 'chain', tags: ['ingest'], metadata: { path: 'x' },
    ...config });
  assert.deepEqual(await root({ n: 21 }), { result: 42 });
}

async function assertSmallTree(client, projectName) {
  const runs = await listAll(client, { projectName, order: 'asc' });
  assert.deepEqual(sortedNames(runs), ['ingest_child', 'ingest_fail', 'ingest_root']);
  const byName = Object.fromEntries(runs.map((r) => [r.name, r]));
  const root = byName.ingest_root;
  assert.equal(root.status, 'success');
  // The root was posted with its inputs, then patched without them: the patch must not clear them.
  assert.deepEqual(root.inputs, { n: 21 }, 'inputs of the post survive the patch');
  assert.deepEqual(root.outputs, { result: 42 }, 'outputs of the patch');
  assert.ok(root.end_time, 'end_time of the patch');
  assert.ok(root.tags?.includes('ingest'), `tags ${JSON.stringify(root.tags)}`);
  assert.equal(root.extra?.metadata?.path, 'x');
  assert.equal(byName.ingest_child.status, 'success');
  assert.deepEqual(byName.ingest_child.outputs, { doubled: 42 });
  assert.equal(byName.ingest_child.parent_run_id, root.id);
  assert.equal(byName.ingest_fail.status, 'error');
  assert.equal(byName.ingest_fail.error, 'Error: ingest failure');
  assert.equal(byName.ingest_fail.parent_run_id, root.id);
  for (const r of runs) assert.equal(r.trace_id, root.id, `${r.name}: trace_id`);
}

describe(`langsmith ${langsmithVersion}: ingest paths (default settings)`, () => {
  let pharos;
  before(async () => {
    pharos = await startPharos();
  });
  after(async () => {
    await pharos?.stop();
  });

  test('GET /info advertises multipart ingest and gzip bodies', TEST_TIMEOUT, async () => {
    const { status, json, text } = await rawJson(pharos, 'GET', '/info');
    assert.equal(status, 200, text);
    assert.equal(json.batch_ingest_config?.use_multipart_endpoint, true, text);
    assert.equal(json.instance_flags?.gzip_body_enabled, true, text);
  });

  test('auto-batching: multipart with a gzip body', TEST_TIMEOUT, async () => {
    const projectName = freshProjectName('multipart-gzip');
    const recorder = await recordingClient(pharos);
    await traceSmallTree(recorder.client, projectName);
    await flush(recorder);
    const ingest = assertIngestSucceeded(recorder.sent);
    assert.ok(ingest.every((r) => r.path === '/api/v1/runs/multipart'),
      ingest.map(describeRequest).join('; '));
    assert.ok(ingest.length >= 2, `a post request and a later patch request: ${ingest.length}`);
    for (const r of ingest) {
      assert.equal(r.headers.get('content-encoding'), 'gzip', describeRequest(r));
      assert.match(r.headers.get('content-type'), /^multipart\/form-data; boundary=/);
    }
    await assertSmallTree(recorder.client, projectName);
  });

  test('auto-batching: multipart without gzip (LANGSMITH_DISABLE_RUN_COMPRESSION=true)',
    TEST_TIMEOUT, async () => {
      const projectName = freshProjectName('multipart-plain');
      // Read by the Client constructor.
      process.env.LANGSMITH_DISABLE_RUN_COMPRESSION = 'true';
      let recorder;
      try {
        recorder = await recordingClient(pharos);
      } finally {
        delete process.env.LANGSMITH_DISABLE_RUN_COMPRESSION;
      }
      await traceSmallTree(recorder.client, projectName);
      await flush(recorder);
      const ingest = assertIngestSucceeded(recorder.sent);
      assert.ok(ingest.every((r) => r.path === '/api/v1/runs/multipart'),
        ingest.map(describeRequest).join('; '));
      for (const r of ingest) {
        assert.equal(r.headers.get('content-encoding'), null, describeRequest(r));
      }
      await assertSmallTree(recorder.client, projectName);
    });

  test('autoBatchTracing:false: POST /runs then PATCH /runs/{id}', TEST_TIMEOUT, async () => {
    const projectName = freshProjectName('direct');
    const recorder = await recordingClient(pharos, { autoBatchTracing: false });
    await traceSmallTree(recorder.client, projectName);
    await flush(recorder);
    const ingest = assertIngestSucceeded(recorder.sent);
    const posts = ingest.filter((r) => r.method === 'POST' && r.path === '/api/v1/runs');
    const patches = ingest.filter((r) => r.method === 'PATCH');
    assert.equal(posts.length, 3, ingest.map(describeRequest).join('; '));
    assert.equal(patches.length, 3, ingest.map(describeRequest).join('; '));
    assert.equal(posts.length + patches.length, ingest.length, 'no batch endpoint was used');
    assert.ok(!recorder.sent.some((r) => /\/runs\/(multipart|batch)$/.test(r.path)));
    await assertSmallTree(recorder.client, projectName);
  });

  testServerLoggedNoErrors(() => pharos);
});

describe(`langsmith ${langsmithVersion}: many runs, ties and non-ASCII text`, () => {
  let pharos;
  before(async () => {
    pharos = await startPharos();
  });
  after(async () => {
    await pharos?.stop();
  });

  test('non-ASCII inputs survive gzip multipart ingest and are found by search', TEST_TIMEOUT,
    async () => {
      const projectName = freshProjectName('unicode');
      const recorder = await recordingClient(pharos);
      const text = 'Grüße aus Köln — 東京 🚀 "quoted" \\ back\\slash';
      await traceable(async ({ greeting }) => ({ echoed: greeting }),
        { name: 'grüße_run', client: recorder.client, project_name: projectName },
      )({ greeting: text });
      await flush(recorder);
      assertIngestSucceeded(recorder.sent);
      const [run] = await listAll(recorder.client, { projectName, filter: 'search("Köln")' });
      assert.ok(run, 'search("Köln") finds the run');
      assert.equal(run.name, 'grüße_run');
      assert.deepEqual(run.inputs, { greeting: text });
      assert.deepEqual((await recorder.client.readRun(run.id)).outputs, { echoed: text });
      assert.deepEqual(names(await listAll(recorder.client, {
        projectName, filter: 'eq(name, "grüße_run")',
      })), ['grüße_run']);
      assert.deepEqual(
        await listAll(recorder.client, { projectName, filter: 'search("Kiel")' }), []);
      // Quotes and backslashes escaped in a filter string (JSON escapes are filter escapes).
      const byInput = await listAll(recorder.client, {
        projectName,
        filter: `and(eq(input_key, "greeting"), eq(input_value, ${JSON.stringify(text)}))`,
      });
      assert.deepEqual(names(byInput), ['grüße_run']);
      assert.deepEqual(names(await listAll(recorder.client, {
        projectName, filter: 'and(eq(output_key, "echoed"), eq(output_value, "other"))',
      })), []);
      assert.deepEqual(names(await listAll(recorder.client, {
        projectName, filter: 'eq(output_key, "echoed")',
      })), ['grüße_run']);
    });

  test('a 6 MiB input, multipart gzip and plain', { timeout: 120_000 }, async () => {
    // The client serialises large strings in a worker that does not keep Node's event loop alive;
    // a timer does, as a running application would.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      for (const gzip of [true, false]) {
        const projectName = freshProjectName(`big-${gzip}`);
        if (!gzip) process.env.LANGSMITH_DISABLE_RUN_COMPRESSION = 'true';
        let recorder;
        try {
          recorder = await recordingClient(pharos);
        } finally {
          delete process.env.LANGSMITH_DISABLE_RUN_COMPRESSION;
        }
        const blob = `${'0123456789abcdef'.repeat(6 * 65536)}end`;
        await traceable(async ({ data }) => ({ length: data.length, tail: data.slice(-3) }),
          { name: 'big_input', client: recorder.client, project_name: projectName },
        )({ data: blob });
        await flush(recorder);
        const ingest = assertIngestSucceeded(recorder.sent);
        assert.ok(ingest.every((r) => (r.headers.get('content-encoding') === 'gzip') === gzip));
        const [run] = await listAll(recorder.client, { projectName });
        assert.equal(run?.name, 'big_input');
        assert.equal(run.inputs.data.length, blob.length);
        assert.ok(run.inputs.data === blob, 'the input comes back byte for byte');
        assert.deepEqual(run.outputs, { length: blob.length, tail: 'end' });
      }
    } finally {
      clearInterval(keepAlive);
    }
  });

  test('40 concurrent traces (uploads in parallel): every tree is whole', { timeout: 120_000 },
    async () => {
      const projectName = freshProjectName('concurrent');
      const recorder = await recordingClient(pharos, { traceBatchConcurrency: 5 });
      const config = { client: recorder.client, project_name: projectName };
      const leaf = traceable(async ({ i }) => {
        await sleep((i * 7) % 40);
        if (i % 5 === 0) throw new Error(`leaf ${i} failed`);
        return { i };
      }, { name: 'leaf', run_type: 'tool', ...config });
      const middle = traceable(async ({ i }) => {
        await Promise.allSettled([leaf({ i }), leaf({ i: i + 1000 })]);
        await sleep((i * 13) % 300); // some middles end after a flush of their children
        return { i };
      }, { name: 'middle', ...config });
      const top = traceable(async ({ i }) => middle({ i }), { name: 'top', ...config });
      await Promise.all(Array.from({ length: 40 }, (_, i) => top({ i })));
      await flush(recorder);
      assertIngestSucceeded(recorder.sent);

      const runs = await listAll(recorder.client, { projectName });
      assert.equal(runs.length, 160);
      const projectId = (await recorder.client.readProject({ projectName })).id;
      const byId = new Map(runs.map((r) => [r.id, r]));
      const roots = runs.filter((r) => r.parent_run_id == null);
      assert.equal(roots.length, 40);
      for (const run of runs) {
        assert.equal(run.session_id, projectId);
        assert.equal(byId.get(run.trace_id)?.name, 'top', `${run.name}: trace_id names a top`);
        if (run.name === 'leaf') assert.equal(byId.get(run.parent_run_id)?.name, 'middle');
        if (run.name === 'middle') assert.equal(byId.get(run.parent_run_id)?.name, 'top');
        if (run.parent_run_id) {
          assert.ok(run.dotted_order.startsWith(`${byId.get(run.parent_run_id).dotted_order}.`));
        }
        assert.equal(run.status, run.name === 'leaf' && run.inputs.i % 5 === 0 ? 'error' : 'success',
          `${run.name} ${JSON.stringify(run.inputs)}`);
        assert.ok(run.end_time, `${run.name}: ended`);
      }
      const failed = await listAll(recorder.client, { projectName, error: true });
      assert.equal(failed.length, 16); // leaves i and i + 1000 for i = 0, 5, ..., 35
      assert.ok(failed.every((r) => r.error === `Error: leaf ${r.inputs.i} failed`));
    });

  test('150 runs with one start_time: listRuns pages through all; cursors neither skip nor repeat',
    { timeout: 120_000 }, async () => {
      const projectName = freshProjectName('ties');
      const recorder = await recordingClient(pharos);
      const start = Date.UTC(2025, 5, 1, 12, 0, 0);
      const ids = [];
      for (let i = 0; i < 150; i += 1) {
        const run = new RunTree({
          client: recorder.client, project_name: projectName, run_type: 'tool',
          name: `tie_${String(i).padStart(3, '0')}`, start_time: start, inputs: { i },
        });
        await run.end({ i }, undefined, start + 1000);
        await run.postRun();
        ids.push(run.id);
      }
      await flush(recorder);
      assertIngestSucceeded(recorder.sent);

      // The public call, no limit: Pharos's default page size decides how many pages.
      const all = await listAll(recorder.client, { projectName });
      assert.equal(all.length, 150);
      assert.deepEqual(all.map((r) => r.id).sort(), [...ids].sort());
      // (limit is also the page size in the body; LangSmith caps it at 100, so stay within.)
      const limited = await listAll(recorder.client, { projectName, limit: 60 });
      assert.equal(limited.length, 60);
      assert.equal(new Set(limited.map((r) => r.id)).size, 60);

      const projectId = (await recorder.client.readProject({ projectName })).id;
      for (const order of ['asc', 'desc']) {
        const seen = [];
        let pages = 0;
        for await (const page of recorder.client._getCursorPaginatedList('/runs/query', {
          session: [projectId], limit: 7, order, select: ['id', 'name'],
        })) {
          pages += 1;
          assert.ok(page.length <= 7, `${order}: page of ${page.length}`);
          seen.push(...page.map((r) => r.id));
          assert.ok(pages <= 30, `${order}: too many pages`);
        }
        assert.equal(seen.length, 150, `${order}: ${seen.length} runs over ${pages} pages`);
        assert.equal(new Set(seen).size, 150, `${order}: a run was listed twice`);
        assert.ok(pages >= 22, `${order}: ${pages} pages of at most 7`);
      }
    });

  testServerLoggedNoErrors(() => pharos);
});

describe(`langsmith ${langsmithVersion}: ingest with tracing.multipart_ingest=false`, () => {
  let pharos;
  before(async () => {
    pharos = await startPharos({ args: ['--set', 'tracing.multipart_ingest=false'] });
  });
  after(async () => {
    await pharos?.stop();
  });

  test('GET /info answers use_multipart_endpoint:false', TEST_TIMEOUT, async () => {
    const { status, json, text } = await rawJson(pharos, 'GET', '/info');
    assert.equal(status, 200, text);
    assert.equal(json.batch_ingest_config?.use_multipart_endpoint, false, text);
  });

  test('auto-batching goes through POST /runs/batch', TEST_TIMEOUT, async () => {
    const projectName = freshProjectName('batch');
    const recorder = await recordingClient(pharos);
    await traceSmallTree(recorder.client, projectName);
    await flush(recorder);
    const ingest = assertIngestSucceeded(recorder.sent);
    assert.ok(ingest.every((r) => r.method === 'POST' && r.path === '/api/v1/runs/batch'),
      ingest.map(describeRequest).join('; '));
    assert.ok(ingest.length >= 2, `a post batch and a later patch batch: ${ingest.length}`);
    const bodies = ingest.map((r) => JSON.parse(r.body));
    assert.ok(bodies.some((b) => (b.patch ?? []).length > 0), 'some batch carried a patch');
    await assertSmallTree(recorder.client, projectName);
  });

  testServerLoggedNoErrors(() => pharos);
});

// ------------------------------------------------------------------------------------------------
// Every filter function, over a fixture of six runs with known times, tags and metadata, written
// with RunTree (explicit start/end times) through multipart ingest.
//
//   alpha (chain)  2025-03-01T10:00:00  +2 s   tags prod, team-a   metadata env=prod customer=acme
//   ├─ alpha_retriever (retriever) +0.1..+0.5 s  tags retrieval    (+ stage=retrieval)
//   └─ alpha_llm (llm)             +0.6..+1.9 s
//   beta (chain)   2025-03-02T10:00:00  +10 s  tags staging, team-a  env=staging customer=globex
//   └─ beta_tool (tool)            +1..+9 s   error "Error: connection refused"
//                                   beta itself: error "Error: upstream timeout"
//   gamma (llm)    2025-03-03T10:00:00  +0.2 s  tags experimental  customer=initech experiment=ab-42
//                  reference_example_id GAMMA_EXAMPLE
// Children inherit their parent's metadata (RunTree.createChild).

const T0 = Date.UTC(2025, 2, 1, 10, 0, 0);
const GAMMA_EXAMPLE = randomUUID();
const DAY = 86_400_000;
const ALL = ['alpha', 'alpha_llm', 'alpha_retriever', 'beta', 'beta_tool', 'gamma'];
const ASC = ['alpha', 'alpha_retriever', 'alpha_llm', 'beta', 'beta_tool', 'gamma'];

async function writeFixture(client, projectName) {
  const common = { client, project_name: projectName };
  const alpha = new RunTree({
    ...common, name: 'alpha', run_type: 'chain', start_time: T0,
    inputs: { question: 'What is the capital of France?' },
    tags: ['prod', 'team-a'], metadata: { env: 'prod', customer: 'acme' },
  });
  const alphaRetriever = alpha.createChild({
    name: 'alpha_retriever', run_type: 'retriever', start_time: T0 + 100,
    inputs: { query: 'capital of France' }, tags: ['retrieval'],
    metadata: { stage: 'retrieval' },
  });
  await alphaRetriever.end({ documents: ['Paris is the capital of France.'] }, undefined, T0 + 500);
  const alphaLlm = alpha.createChild({
    name: 'alpha_llm', run_type: 'llm', start_time: T0 + 600,
    inputs: { prompt: 'Answer briefly' },
  });
  await alphaLlm.end({ text: 'Paris' }, undefined, T0 + 1900);
  await alpha.end({ answer: 'Paris' }, undefined, T0 + 2000);

  const beta = new RunTree({
    ...common, name: 'beta', run_type: 'chain', start_time: T0 + DAY,
    inputs: { question: 'zebra migration patterns' },
    tags: ['staging', 'team-a'], metadata: { env: 'staging', customer: 'globex' },
  });
  const betaTool = beta.createChild({
    name: 'beta_tool', run_type: 'tool', start_time: T0 + DAY + 1000,
    inputs: { url: 'http://example.invalid' },
  });
  await betaTool.end(undefined, 'Error: connection refused', T0 + DAY + 9000);
  await beta.end(undefined, 'Error: upstream timeout', T0 + DAY + 10_000);

  const gamma = new RunTree({
    ...common, name: 'gamma', run_type: 'llm', start_time: T0 + 2 * DAY,
    inputs: { question: 'hello' }, tags: ['experimental'],
    metadata: { customer: 'initech', experiment: 'ab-42' },
    reference_example_id: GAMMA_EXAMPLE,
  });
  await gamma.end({ answer: 'hi there' }, undefined, T0 + 2 * DAY + 200);

  for (const run of [alpha, alphaRetriever, alphaLlm, beta, betaTool, gamma]) await run.postRun();
  return { alpha, alphaRetriever, alphaLlm, beta, betaTool, gamma };
}

describe(`langsmith ${langsmithVersion}: listRuns filters`, () => {
  let pharos;
  let recorder;
  let client;
  let fixture;
  let projectId;
  const projectName = freshProjectName('filters');

  before(async () => {
    pharos = await startPharos();
    recorder = await recordingClient(pharos);
    client = recorder.client;
    fixture = await writeFixture(client, projectName);
    await flush(recorder);
    assertIngestSucceeded(recorder.sent);
    projectId = (await client.readProject({ projectName })).id;
  });
  after(async () => {
    await pharos?.stop();
  });

  const byFilter = async (filter, extra = {}) =>
    sortedNames(await listAll(client, { projectName, filter, ...extra }));

  // [filter, expected names (sorted)]
  const cases = [
    // eq / neq
    ['eq(name, "alpha")', ['alpha']],
    ["eq(name, 'gamma')", ['gamma']],
    ['neq(name, "alpha")', ['alpha_llm', 'alpha_retriever', 'beta', 'beta_tool', 'gamma']],
    ['eq(run_type, "llm")', ['alpha_llm', 'gamma']],
    ['neq(run_type, "chain")', ['alpha_llm', 'alpha_retriever', 'beta_tool', 'gamma']],
    ['eq(status, "error")', ['beta', 'beta_tool']],
    ['eq(status, "success")', ['alpha', 'alpha_llm', 'alpha_retriever', 'gamma']],
    ['neq(error, null)', ['beta', 'beta_tool']],
    ['eq(error, null)', ['alpha', 'alpha_llm', 'alpha_retriever', 'gamma']],
    ['eq(is_root, true)', ['alpha', 'beta', 'gamma']],
    ['eq(is_root, false)', ['alpha_llm', 'alpha_retriever', 'beta_tool']],
    // gt / gte / lt / lte on timestamps (end_time is exact epoch ms; start_time's last three
    // microsecond digits are the client's execution order)
    ['gt(start_time, "2025-03-02T00:00:00Z")', ['beta', 'beta_tool', 'gamma']],
    ['lt(start_time, "2025-03-02T00:00:00Z")', ['alpha', 'alpha_llm', 'alpha_retriever']],
    ['gte(end_time, "2025-03-01T10:00:02Z")', ['alpha', 'beta', 'beta_tool', 'gamma']],
    ['gt(end_time, "2025-03-01T10:00:02Z")', ['beta', 'beta_tool', 'gamma']],
    ['lte(end_time, "2025-03-01T10:00:02Z")', ['alpha', 'alpha_llm', 'alpha_retriever']],
    ['lt(end_time, "2025-03-01T10:00:02Z")', ['alpha_llm', 'alpha_retriever']],
    // latency: a duration string or a number of seconds
    ['gt(latency, "5s")', ['beta', 'beta_tool']],
    ['lt(latency, 1)', ['alpha_retriever', 'gamma']],
    ['and(gte(latency, "1s"), lte(latency, "2s"))', ['alpha', 'alpha_llm']],
    // has (tags)
    ['has(tags, "team-a")', ['alpha', 'beta']],
    ['has(tags, "retrieval")', ['alpha_retriever']],
    ['has(tags, "no-such-tag")', []],
    // search: full text over inputs, outputs, name, error
    ['search("zebra")', ['beta']],
    ['search("Paris")', ['alpha', 'alpha_llm', 'alpha_retriever']],
    ['search("connection refused")', ['beta_tool']],
    ['search("alpha_retriever")', ['alpha_retriever']],
    ['search("hi there")', ['gamma']],
    ['search(error, "timeout")', ['beta']],
    ['search(name, "llm")', ['alpha_llm']],
    // in
    ['in(name, ["alpha", "gamma"])', ['alpha', 'gamma']],
    ['in(run_type, ["tool", "retriever"])', ['alpha_retriever', 'beta_tool']],
    // and / or / not
    ['and(eq(is_root, true), has(tags, "team-a"), eq(status, "success"))', ['alpha']],
    ['and(eq(run_type, "llm"))', ['alpha_llm', 'gamma']],
    ['or(has(tags, "experimental"), has(tags, "retrieval"))', ['alpha_retriever', 'gamma']],
    ['or(eq(name, "gamma"), and(eq(is_root, false), neq(error, null)))', ['beta_tool', 'gamma']],
    ['not(eq(is_root, true))', ['alpha_llm', 'alpha_retriever', 'beta_tool']],
    ['not(or(eq(status, "error"), eq(run_type, "llm")))', ['alpha', 'alpha_retriever']],
    // like
    ['like(name, "alpha%")', ['alpha', 'alpha_llm', 'alpha_retriever']],
    ['like(name, "%tool")', ['beta_tool']],
    ['like(error, "%upstream%")', ['beta']],
    // exists / has on metadata
    ['exists(metadata, "env")', ['alpha', 'alpha_llm', 'alpha_retriever', 'beta', 'beta_tool']],
    ['exists(metadata, "stage")', ['alpha_retriever']],
    ['not(exists(metadata, "env"))', ['gamma']],
    ['has(metadata, \'{"customer": "globex"}\')', ['beta', 'beta_tool']],
    // metadata_key / metadata_value pairing: the same key-value pair inside one and(...)
    ['and(eq(metadata_key, "customer"), eq(metadata_value, "acme"))',
      ['alpha', 'alpha_llm', 'alpha_retriever']],
    ['and(eq(metadata_key, "env"), eq(metadata_value, "acme"))', []],
    ['and(eq(is_root, true), eq(metadata_key, "env"), eq(metadata_value, "staging"))', ['beta']],
    ['eq(metadata_key, "experiment")', ['gamma']],
    // run columns by id
    ['eq(run_type, "tool")', ['beta_tool']],
  ];

  for (const [filter, expected] of cases) {
    test(`filter ${filter}`, TEST_TIMEOUT, async () => {
      assert.deepEqual(await byFilter(filter), expected);
    });
  }

  test('filters on ids: eq(trace_id), eq(parent_run_id), eq(id), in(id)', TEST_TIMEOUT,
    async () => {
      const { alpha, beta, gamma } = fixture;
      assert.deepEqual(await byFilter(`eq(trace_id, "${beta.id}")`), ['beta', 'beta_tool']);
      assert.deepEqual(await byFilter(`eq(parent_run_id, "${alpha.id}")`),
        ['alpha_llm', 'alpha_retriever']);
      assert.deepEqual(await byFilter(`eq(id, "${gamma.id}")`), ['gamma']);
      assert.deepEqual(await byFilter(`in(id, ["${alpha.id}", "${gamma.id.toUpperCase()}"])`),
        ['alpha', 'gamma']);
    });

  test('body parameters: isRoot, runType, error, id, traceId, parentRunId, startTime',
    TEST_TIMEOUT, async () => {
      const { alpha, beta, gamma } = fixture;
      const list = async (params) => sortedNames(await listAll(client, { projectName, ...params }));
      assert.deepEqual(await list({}), ALL);
      assert.deepEqual(await list({ isRoot: true }), ['alpha', 'beta', 'gamma']);
      assert.deepEqual(await list({ isRoot: false }),
        ['alpha_llm', 'alpha_retriever', 'beta_tool']);
      assert.deepEqual(await list({ runType: 'llm' }), ['alpha_llm', 'gamma']);
      assert.deepEqual(await list({ error: true }), ['beta', 'beta_tool']);
      assert.deepEqual(await list({ error: false }),
        ['alpha', 'alpha_llm', 'alpha_retriever', 'gamma']);
      assert.deepEqual(await list({ id: [alpha.id, gamma.id] }), ['alpha', 'gamma']);
      assert.deepEqual(await list({ traceId: beta.id }), ['beta', 'beta_tool']);
      assert.deepEqual(await list({ parentRunId: alpha.id }), ['alpha_llm', 'alpha_retriever']);
      assert.deepEqual(await list({ startTime: new Date(T0 + DAY - 1000) }),
        ['beta', 'beta_tool', 'gamma']);
      // Body parameters and the filter are ANDed.
      assert.deepEqual(await list({ isRoot: true, filter: 'has(tags, "team-a")' }),
        ['alpha', 'beta']);
      assert.deepEqual(await list({ runType: 'llm', filter: 'eq(is_root, true)' }), ['gamma']);
      // Without a project: by trace only.
      assert.deepEqual(sortedNames(await listAll(client, { traceId: alpha.id })),
        ['alpha', 'alpha_llm', 'alpha_retriever']);
    });

  test('referenceExampleId, eq(reference_example_id) and executionOrder: 1', TEST_TIMEOUT,
    async () => {
      assert.deepEqual(sortedNames(await listAll(client, {
        projectName, referenceExampleId: GAMMA_EXAMPLE,
      })), ['gamma']);
      assert.deepEqual(await byFilter(`eq(reference_example_id, "${GAMMA_EXAMPLE}")`), ['gamma']);
      // execution_order 1 = the root runs (comparative evaluation sends it).
      assert.deepEqual(sortedNames(await listAll(client, { projectName, executionOrder: 1 })),
        ['alpha', 'beta', 'gamma']);
    });

  test('trace_filter (on the root) and tree_filter (any run of the trace)', TEST_TIMEOUT,
    async () => {
      assert.deepEqual(sortedNames(await listAll(client, {
        projectName, traceFilter: 'eq(name, "alpha")',
      })), ['alpha', 'alpha_llm', 'alpha_retriever']);
      assert.deepEqual(sortedNames(await listAll(client, {
        projectName, isRoot: true, treeFilter: 'eq(name, "beta_tool")',
      })), ['beta']);
    });

  test('order asc / desc sorts by start_time', TEST_TIMEOUT, async () => {
    assert.deepEqual(names(await listAll(client, { projectName, order: 'asc' })), ASC);
    assert.deepEqual(names(await listAll(client, { projectName, order: 'desc' })),
      [...ASC].reverse());
    assert.deepEqual(names(await listAll(client, { projectName, order: 'asc', isRoot: true })),
      ['alpha', 'beta', 'gamma']);
  });

  test('select returns the selected fields only', TEST_TIMEOUT, async () => {
    const runs = await listAll(client, {
      projectName, select: ['id', 'name', 'status', 'trace_id'], order: 'asc',
    });
    assert.deepEqual(names(runs), ASC);
    for (const run of runs) {
      assert.ok(isUuid(run.id), `id ${run.id}`);
      assert.ok(isUuid(run.trace_id), `trace_id ${run.trace_id}`);
      assert.ok(['success', 'error'].includes(run.status), `status ${run.status}`);
      assert.equal(run.inputs ?? null, null, `${run.name}: inputs not selected`);
      assert.equal(run.outputs ?? null, null, `${run.name}: outputs not selected`);
      assert.equal(run.extra ?? null, null, `${run.name}: extra not selected`);
    }
  });

  test('limit: listRuns stops after `limit` runs and sends it in the body', TEST_TIMEOUT,
    async () => {
      const since = recorder.sent.length;
      const runs = await listAll(client, { projectName, limit: 2, order: 'asc' });
      assert.deepEqual(names(runs), ['alpha', 'alpha_retriever']);
      const queries = recorder.sent.slice(since).filter((r) => r.path === '/api/v1/runs/query');
      // The client may fetch one more page (with the cursor) before it notices it is done.
      assert.ok(queries.length >= 1 && queries.length <= 2, `${queries.length} queries`);
      assert.ok(queries.every((q) => JSON.parse(q.body).limit === 2), 'limit 2 in every body');
      // Pharos honoured the limit: the first page holds at most 2 runs.
      const first = await rawJson(pharos, 'POST', '/runs/query', JSON.parse(queries[0].body));
      assert.equal(first.status, 200, first.text);
      assert.equal(first.json.runs.length, 2, first.text);
    });

  test('cursor pagination: pages of `limit` runs, following cursors.next to the end',
    TEST_TIMEOUT, async () => {
      // Raw, to see the pages.
      const pages = [];
      let cursor;
      for (let i = 0; i < 10; i += 1) {
        const { status, json, text } = await rawJson(pharos, 'POST', '/runs/query', {
          session: [projectId], limit: 2, order: 'asc', ...(cursor ? { cursor } : {}),
        });
        assert.equal(status, 200, text);
        assert.ok(Array.isArray(json.runs), text);
        assert.ok(json.runs.length <= 2, `page ${i} has ${json.runs.length} runs`);
        pages.push(json.runs.map((r) => r.name));
        cursor = json.cursors?.next;
        if (!cursor) break;
        assert.equal(typeof cursor, 'string');
      }
      assert.deepEqual(pages.flat(), ASC, `pages ${JSON.stringify(pages)}`);
      assert.deepEqual(pages.slice(0, 3), [ASC.slice(0, 2), ASC.slice(2, 4), ASC.slice(4, 6)]);
      assert.ok(pages.length <= 4, `${pages.length} pages`);

      // The client's own paginator (what listRuns runs on): reposts the body plus `cursor`.
      const since = recorder.sent.length;
      const seen = [];
      for await (const page of client._getCursorPaginatedList('/runs/query', {
        session: [projectId], limit: 2, order: 'desc',
      })) {
        seen.push(...page.map((r) => r.name));
      }
      assert.deepEqual(seen, [...ASC].reverse());
      const bodies = recorder.sent.slice(since).map((r) => JSON.parse(r.body));
      assert.ok(bodies.length >= 3, `${bodies.length} requests`);
      assert.equal(bodies[0].cursor, undefined);
      assert.ok(bodies.slice(1).every((b) => typeof b.cursor === 'string'));

      // Pagination with a filter: the failed runs one per page.
      const failed = [];
      for await (const page of client._getCursorPaginatedList('/runs/query', {
        session: [projectId], limit: 1, order: 'asc', filter: 'eq(status, "error")',
      })) {
        assert.ok(page.length <= 1);
        failed.push(...page.map((r) => r.name));
      }
      assert.deepEqual(failed, ['beta', 'beta_tool']);
    });

  test('a listed run carries error, inputs, outputs, tags, metadata and times', TEST_TIMEOUT,
    async () => {
      const [beta] = await listAll(client, { projectName, filter: 'eq(name, "beta")' });
      assert.equal(beta.id, fixture.beta.id);
      assert.equal(beta.error, 'Error: upstream timeout');
      assert.equal(beta.status, 'error');
      assert.deepEqual(beta.inputs, { question: 'zebra migration patterns' });
      assert.deepEqual([...beta.tags].sort(), ['staging', 'team-a']);
      assert.equal(beta.extra?.metadata?.env, 'staging');
      assert.equal(beta.extra?.metadata?.customer, 'globex');
      assert.equal(new Date(beta.start_time).getTime(), T0 + DAY);
      assert.equal(new Date(beta.end_time).getTime(), T0 + DAY + 10_000);
      assert.equal(beta.session_id, projectId);
      assert.equal(beta.parent_run_id ?? null, null);
    });

  testServerLoggedNoErrors(() => pharos);
});

// ------------------------------------------------------------------------------------------------

describe(`langsmith ${langsmithVersion}: RunTree with metadata and tags`, () => {
  let pharos;
  before(async () => {
    pharos = await startPharos();
  });
  after(async () => {
    await pharos?.stop();
  });

  for (const autoBatchTracing of [false, true]) {
    test(`postRun / end / patchRun, read back (autoBatchTracing: ${autoBatchTracing})`,
      TEST_TIMEOUT, async () => {
        const projectName = freshProjectName(`runtree-${autoBatchTracing}`);
        const recorder = await recordingClient(pharos, { autoBatchTracing });
        const { client } = recorder;
        const root = new RunTree({
          name: 'lighthouse_report', run_type: 'chain', client, project_name: projectName,
          inputs: { topic: 'lighthouses' }, tags: ['manual', 'runtree'],
          metadata: { owner: 'compat', priority: 3 },
        });
        await root.postRun();
        const child = root.createChild({
          name: 'lighthouse_llm', run_type: 'llm', inputs: { prompt: 'Name one' },
          tags: ['child-tag'], metadata: { model_hint: 'tiny' },
        });
        await child.postRun();
        await sleep(300); // separate the creates from the updates when batching
        await child.end({ text: 'Pharos of Alexandria' });
        await child.patchRun();
        await root.end({ summary: 'done' }, undefined, undefined, { finished_by: 'end()' });
        await root.patchRun();
        await flush(recorder);

        const ingest = assertIngestSucceeded(recorder.sent);
        if (!autoBatchTracing) {
          assert.deepEqual(ingest.map((r) => `${r.method} ${r.path}`).sort(), [
            `PATCH /api/v1/runs/${child.id}`,
            `PATCH /api/v1/runs/${root.id}`,
            'POST /api/v1/runs',
            'POST /api/v1/runs',
          ].sort());
        }

        const run = await client.readRun(root.id);
        assert.equal(run.name, 'lighthouse_report');
        assert.equal(run.run_type, 'chain');
        assert.equal(run.status, 'success');
        assert.deepEqual([...run.tags].sort(), ['manual', 'runtree']);
        assert.equal(run.extra?.metadata?.owner, 'compat');
        assert.equal(run.extra?.metadata?.priority, 3);
        assert.equal(run.extra?.metadata?.finished_by, 'end()', 'metadata added by end()');
        assert.deepEqual(run.inputs, { topic: 'lighthouses' });
        assert.deepEqual(run.outputs, { summary: 'done' });
        assert.equal(run.trace_id, root.id);
        assert.equal(run.parent_run_id ?? null, null);
        assert.ok(run.end_time);

        const tree = await client.readRun(root.id, { loadChildRuns: true });
        assert.equal(tree.child_runs.length, 1);
        const readChild = tree.child_runs[0];
        assert.equal(readChild.id, child.id);
        assert.equal(readChild.name, 'lighthouse_llm');
        assert.equal(readChild.run_type, 'llm');
        assert.equal(readChild.parent_run_id, root.id);
        assert.deepEqual(readChild.tags, ['child-tag']);
        assert.equal(readChild.extra?.metadata?.model_hint, 'tiny');
        assert.equal(readChild.extra?.metadata?.owner, 'compat', 'inherited from the parent');
        assert.deepEqual(readChild.inputs, { prompt: 'Name one' });
        assert.deepEqual(readChild.outputs, { text: 'Pharos of Alexandria' });

        const tagged = await listAll(client, { projectName, filter: 'has(tags, "manual")' });
        assert.deepEqual(names(tagged), ['lighthouse_report']);
        const owned = await listAll(client, {
          projectName, filter: 'and(eq(metadata_key, "owner"), eq(metadata_value, "compat"))',
        });
        assert.deepEqual(sortedNames(owned), ['lighthouse_llm', 'lighthouse_report']);
        const finished = await listAll(client, {
          projectName, filter: 'and(eq(metadata_key, "finished_by"), eq(metadata_value, "end()"))',
        });
        assert.deepEqual(names(finished), ['lighthouse_report']);
        // A number as metadata_value matches the number.
        const prioritised = await listAll(client, {
          projectName, filter: 'and(eq(metadata_key, "priority"), eq(metadata_value, 3))',
        });
        assert.deepEqual(sortedNames(prioritised), ['lighthouse_llm', 'lighthouse_report']);
        assert.deepEqual(await listAll(client, {
          projectName, filter: 'and(eq(metadata_key, "priority"), eq(metadata_value, 4))',
        }), []);
      });
  }

  testServerLoggedNoErrors(() => pharos);
});

describe(`langsmith ${langsmithVersion}: a patch that arrives before its post`, () => {
  let pharos;
  before(async () => {
    pharos = await startPharos();
  });
  after(async () => {
    await pharos?.stop();
  });

  // The client may deliver an update before its create (concurrent uploads); the stored run must
  // be the same as in the usual order.
  for (const autoBatchTracing of [false, true]) {
    test(`patchRun, then postRun (autoBatchTracing: ${autoBatchTracing})`, TEST_TIMEOUT,
      async () => {
        const projectName = freshProjectName(`patch-first-${autoBatchTracing}`);
        const recorder = await recordingClient(pharos, { autoBatchTracing });
        const root = new RunTree({
          name: 'late_post', run_type: 'chain', client: recorder.client,
          project_name: projectName, inputs: { order: 'patch first' }, tags: ['late'],
        });
        const child = root.createChild({ name: 'late_child', run_type: 'tool', inputs: { k: 1 } });
        await child.end({ k: 2 });
        await root.end({ done: true }, undefined, undefined, { patched: 'yes' });
        await child.patchRun();
        await root.patchRun();
        await flush(recorder); // the patches are uploaded on their own
        await root.postRun();
        await child.postRun();
        await flush(recorder);
        const ingest = assertIngestSucceeded(recorder.sent);
        if (!autoBatchTracing) {
          assert.deepEqual(ingest.map((r) => r.method), ['PATCH', 'PATCH', 'POST', 'POST']);
        }

        const runs = await listAll(recorder.client, { projectName, order: 'asc' });
        assert.deepEqual(names(runs), ['late_post', 'late_child']);
        const [readRoot, readChild] = runs;
        assert.equal(readRoot.status, 'success');
        assert.deepEqual(readRoot.inputs, { order: 'patch first' }, 'inputs of the later post');
        assert.deepEqual(readRoot.outputs, { done: true });
        assert.equal(readRoot.extra?.metadata?.patched, 'yes');
        assert.deepEqual(readRoot.tags, ['late']);
        assert.equal(readRoot.trace_id, root.id);
        assert.equal(readChild.parent_run_id, root.id);
        assert.deepEqual(readChild.inputs, { k: 1 });
        assert.deepEqual(readChild.outputs, { k: 2 });
        assert.equal(readChild.status, 'success');
        const tree = await recorder.client.readRun(root.id, { loadChildRuns: true });
        assert.deepEqual(names(tree.child_runs), ['late_child']);
      });

    // A retried upload resends the same post: still one run.
    test(`the same post twice is one run (autoBatchTracing: ${autoBatchTracing})`, TEST_TIMEOUT,
      async () => {
        const projectName = freshProjectName(`repost-${autoBatchTracing}`);
        const recorder = await recordingClient(pharos, { autoBatchTracing });
        const run = new RunTree({
          name: 'reposted', client: recorder.client, project_name: projectName,
          inputs: { attempt: 1 }, tags: ['retry'],
        });
        await run.end({ ok: true });
        await run.postRun();
        await flush(recorder);
        await run.postRun();
        await flush(recorder);
        assert.equal(assertIngestSucceeded(recorder.sent).length, 2);
        const runs = await listAll(recorder.client, { projectName });
        assert.equal(runs.length, 1);
        assert.equal(runs[0].id, run.id);
        assert.deepEqual(runs[0].inputs, { attempt: 1 });
        assert.deepEqual(runs[0].outputs, { ok: true });
        assert.deepEqual(runs[0].tags, ['retry']);
      });
  }

  testServerLoggedNoErrors(() => pharos);
});

// ------------------------------------------------------------------------------------------------

describe(`langsmith ${langsmithVersion}: workspaces (auth.mode=required, two keys)`, () => {
  let pharos;
  const keys = {};
  before(async () => {
    pharos = await startPharos({ args: ['--set', 'auth.mode=required'] });
    for (const workspace of ['wsa', 'wsb']) {
      const created = await runPharos(['keys', 'create', '--workspace', workspace, '--label',
        'compat runs', '--data', pharos.dataDir]);
      assert.equal(created.code, 0, `keys create failed:\n${created.stdout}\n${created.stderr}`);
      keys[workspace] = /\bphk_[A-Za-z0-9]+_[A-Za-z0-9]+\b/.exec(created.stdout)?.[0];
      assert.ok(keys[workspace], `no key in:\n${created.stdout}`);
    }
  });
  after(async () => {
    await pharos?.stop();
  });

  test('runs and projects of one workspace are invisible to the other', TEST_TIMEOUT, async () => {
    const projectName = freshProjectName('workspace');
    const a = await recordingClient(pharos, { apiKey: keys.wsa });
    const b = await recordingClient(pharos, { apiKey: keys.wsb });
    let runId;
    await traceable(async () => {
      return { secret: 'only for a' };
    }, { name: 'a_run', client: a.client, project_name: projectName,
      on_end: (runTree) => { runId = runTree.id; } })();
    await flush(a);
    assertIngestSucceeded(a.sent);

    assert.deepEqual(names(await listAll(a.client, { projectName })), ['a_run']);
    assert.equal((await a.client.readRun(runId)).name, 'a_run');

    // Workspace b: no such project, no such run, and the run is not in an unscoped query.
    await assert.rejects(listAll(b.client, { projectName }), /not found/i);
    await assert.rejects(b.client.readRun(runId), (error) => {
      assert.equal(error.name, 'LangSmithNotFoundError', String(error));
      return true;
    });
    assert.deepEqual(await listAll(b.client, { id: [runId] }), []);
    assert.deepEqual(await listAll(b.client, { traceId: runId }), []);
    const bProjects = [];
    for await (const p of b.client.listProjects()) bProjects.push(p.name);
    assert.ok(!bProjects.includes(projectName), 'b does not list a\'s project');

    // The same project name is free in workspace b, and stays separate.
    const bProject = await b.client.createProject({ projectName });
    const aProject = await a.client.readProject({ projectName });
    assert.notEqual(bProject.id, aProject.id);
    assert.deepEqual(await listAll(b.client, { projectName }), []);
  });

  testServerLoggedNoErrors(() => pharos);
});

// ------------------------------------------------------------------------------------------------

describe(`langsmith ${langsmithVersion}: projects`, () => {
  let pharos;
  let client;
  before(async () => {
    pharos = await startPharos();
    client = (await recordingClient(pharos)).client;
  });
  after(async () => {
    await pharos?.stop();
  });

  test('create, read by name and id, list, update; a duplicate name is a 409', TEST_TIMEOUT,
    async () => {
      const projectName = freshProjectName('project');
      const created = await client.createProject({
        projectName, description: 'first description', metadata: { team: 'compat' },
      });
      assert.ok(isUuid(created.id), `id ${created.id}`);
      assert.equal(created.name, projectName);
      assert.equal(created.description, 'first description');
      assert.equal(created.extra?.metadata?.team, 'compat');
      assert.ok(created.tenant_id, 'tenant_id is set');
      assert.ok(!Number.isNaN(new Date(created.start_time).getTime()), 'start_time is a date');

      await assert.rejects(client.createProject({ projectName }), (error) => {
        assert.equal(error.name, 'LangSmithConflictError', String(error));
        assert.match(error.message, /409/);
        return true;
      });

      const byName = await client.readProject({ projectName });
      assert.equal(byName.id, created.id);
      const byId = await client.readProject({ projectId: created.id });
      assert.equal(byId.name, projectName);
      assert.equal(byId.description, 'first description');

      const other = await client.createProject({ projectName: freshProjectName('other') });
      const all = [];
      for await (const p of client.listProjects()) all.push(p);
      const ids = all.map((p) => p.id);
      assert.ok(ids.includes(created.id), 'listProjects lists the project');
      assert.ok(ids.includes(other.id), 'listProjects lists the other project');
      assert.equal(new Set(ids).size, ids.length, 'no project listed twice');
      const named = [];
      for await (const p of client.listProjects({ name: projectName })) named.push(p);
      assert.deepEqual(named.map((p) => p.id), [created.id]);

      const updated = await client.updateProject(created.id, { description: 'second description' });
      assert.equal(updated.description, 'second description');
      const reread = await client.readProject({ projectId: created.id });
      assert.equal(reread.description, 'second description');
      assert.equal(reread.name, projectName, 'name: null leaves the name unchanged');
      assert.equal(reread.extra?.metadata?.team, 'compat', 'extra: null leaves extra unchanged');
    });

  test('listProjects pages past 100 projects (offset/limit)', { timeout: 120_000 }, async () => {
    const created = [];
    for (let i = 0; i < 105; i += 10) {
      const batch = [];
      for (let j = i; j < Math.min(i + 10, 105); j += 1) {
        batch.push(client.createProject({ projectName: freshProjectName(`many-${j}`) }));
      }
      created.push(...(await Promise.all(batch)).map((p) => p.id));
    }
    const listed = [];
    for await (const p of client.listProjects()) listed.push(p.id);
    assert.ok(listed.length >= 105, `${listed.length} projects listed`);
    assert.equal(new Set(listed).size, listed.length, 'no project listed twice');
    const missing = created.filter((id) => !listed.includes(id));
    assert.deepEqual(missing, [], 'every created project is listed');
  });

  test('listRuns over two projects by name', TEST_TIMEOUT, async () => {
    const recorder = await recordingClient(pharos);
    const [a, b, c] = ['two-a', 'two-b', 'two-c'].map(freshProjectName);
    for (const [projectName, name] of [[a, 'in_a'], [b, 'in_b'], [c, 'in_c']]) {
      await traceable(async () => ({ ok: true }),
        { name, client: recorder.client, project_name: projectName })();
    }
    await flush(recorder);
    assertIngestSucceeded(recorder.sent);
    const runs = await listAll(recorder.client, { projectName: [a, b] });
    assert.deepEqual(sortedNames(runs), ['in_a', 'in_b']);
    const ids = await Promise.all([a, b].map(
      async (projectName) => (await recorder.client.readProject({ projectName })).id));
    const query = recorder.sent.filter((r) => r.path === '/api/v1/runs/query').at(-1);
    assert.deepEqual([...JSON.parse(query.body).session].sort(), [...ids].sort());
  });

  test('readProject of an unknown name throws (GET /sessions?name= answers [])', TEST_TIMEOUT,
    async () => {
      const recorder = await recordingClient(pharos);
      await assert.rejects(
        recorder.client.readProject({ projectName: freshProjectName('missing') }), /not found/i);
      const [get] = recorder.sent;
      assert.equal(get.path, '/api/v1/sessions');
      assert.equal(get.status, 200, describeRequest(get));
    });

  test('tracing into an existing project (created with createProject) uses it', TEST_TIMEOUT,
    async () => {
      const projectName = freshProjectName('existing');
      const recorder = await recordingClient(pharos);
      const created = await recorder.client.createProject({ projectName });
      await traceable(async () => ({ ok: true }),
        { name: 'into_existing', client: recorder.client, project_name: projectName })();
      await flush(recorder);
      assertIngestSucceeded(recorder.sent);
      const runs = await listAll(recorder.client, { projectName });
      assert.deepEqual(names(runs), ['into_existing']);
      assert.equal(runs[0].session_id, created.id);
    });

  testServerLoggedNoErrors(() => pharos);
});

// ------------------------------------------------------------------------------------------------

describe(`langsmith ${langsmithVersion}: bad input`, () => {
  let pharos;
  let client;
  let projectId;
  const projectName = freshProjectName('bad-input');
  before(async () => {
    pharos = await startPharos();
    const recorder = await recordingClient(pharos);
    client = recorder.client;
    projectId = (await client.createProject({ projectName })).id;
  });
  after(async () => {
    await pharos?.stop();
  });

  test('a filter outside the grammar is a 400 naming the position', TEST_TIMEOUT, async () => {
    // Unknown function at byte 19.
    const unknownFunction = await rawJson(pharos, 'POST', '/runs/query', {
      session: [projectId], filter: 'and(eq(name, "x"), frobnicate(name, "y"))',
    });
    assert.equal(unknownFunction.status, 400, unknownFunction.text);
    assert.match(unknownFunction.text, /position 19\b/);
    assert.match(unknownFunction.text, /frobnicate/);
    // A missing comma at byte 8.
    const missingComma = await rawJson(pharos, 'POST', '/runs/query', {
      session: [projectId], filter: 'eq(name "x")',
    });
    assert.equal(missingComma.status, 400, missingComma.text);
    assert.match(missingComma.text, /position 8\b/);
    // An unknown field at byte 3.
    const unknownField = await rawJson(pharos, 'POST', '/runs/query', {
      session: [projectId], filter: 'eq(nmae, "x")',
    });
    assert.equal(unknownField.status, 400, unknownField.text);
    assert.match(unknownField.text, /position 3\b/);
    // The wrong value kind for a field.
    const badTime = await rawJson(pharos, 'POST', '/runs/query', {
      session: [projectId], filter: 'gt(start_time, "yesterday")',
    });
    assert.equal(badTime.status, 400, badTime.text);
    assert.match(badTime.text, /position \d+/);
    // Also in trace_filter and tree_filter.
    for (const key of ['trace_filter', 'tree_filter']) {
      const bad = await rawJson(pharos, 'POST', '/runs/query', {
        session: [projectId], [key]: 'eq(name, "x"',
      });
      assert.equal(bad.status, 400, `${key}: ${bad.text}`);
      assert.match(bad.text, /position \d+/, key);
    }
  });

  test('listRuns with a bad filter throws with the 400', TEST_TIMEOUT, async () => {
    await assert.rejects(listAll(client, { projectName, filter: 'eq(name, "x"' }), (error) => {
      assert.match(error.message, /\[400\]/);
      assert.match(error.message, /position \d+/);
      return true;
    });
  });

  test('a malformed JSON body is a 400', TEST_TIMEOUT, async () => {
    for (const path of ['/runs/query', '/runs', '/runs/batch', '/sessions']) {
      const { status, text } = await rawJson(pharos, 'POST', path, '{"session": [');
      assert.equal(status, 400, `POST ${path}: ${text}`);
    }
    const patch = await rawJson(pharos, 'PATCH', `/runs/${randomUUID()}`, '{not json');
    assert.equal(patch.status, 400, `PATCH /runs/{id}: ${patch.text}`);
  });

  test('a non-UUID run or project id is a 4xx', TEST_TIMEOUT, async () => {
    const cases = [
      ['GET', '/runs/not-a-uuid', undefined],
      ['PATCH', '/runs/not-a-uuid', { end_time: Date.now() }],
      ['GET', '/sessions/not-a-uuid', undefined],
      ['PATCH', '/sessions/not-a-uuid', { description: 'x' }],
      ['POST', '/runs', { id: 'not-a-uuid', name: 'x', run_type: 'chain', session_name: 'x',
        start_time: new Date().toISOString() }],
    ];
    for (const [method, path, body] of cases) {
      const { status, text } = await rawJson(pharos, method, path, body);
      assert.ok(status >= 400 && status < 500, `${method} ${path}: ${status} ${text}`);
    }
  });

  test('GET /runs/{id} of an unknown UUID is a 404', TEST_TIMEOUT, async () => {
    const { status, text } = await rawJson(pharos, 'GET', `/runs/${randomUUID()}`);
    assert.equal(status, 404, text);
  });

  test('listRuns on an unknown project throws', TEST_TIMEOUT, async () => {
    const recorder = await recordingClient(pharos);
    await assert.rejects(listAll(recorder.client, { projectName: freshProjectName('nope') }),
      /not found/i);
    // The name lookup answered an empty array (spec §7); no query was posted.
    assert.deepEqual(recorder.sent.map((r) => `${r.method} ${r.path} ${r.status}`),
      ['GET /api/v1/sessions 200']);
  });

  testServerLoggedNoErrors(() => pharos);
});

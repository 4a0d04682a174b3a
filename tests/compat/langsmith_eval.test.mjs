// Evaluation with the real `langsmith` client, the seed's flow: a dataset `qa-evaluation` of
// {question} -> {answer} examples, evaluate(target, {data, evaluators, experimentPrefix}) as v1.0
// and again as v1.1, then the experiments compared example by example. Every call the client
// makes is recorded (it swallows ingest failures), and the stored feedback is checked against
// exactly what the evaluators returned. Bad input: examples that break the dataset's schema,
// targets that throw or time out, evaluators that throw.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isolateLangSmithEnvironment, requireInstalled, startPharos } from './harness.mjs';
import {
  collect,
  describeRequest,
  listAll,
  rawJson,
  recordingClient,
  testServerLoggedNoErrors,
} from './langsmith_helpers.mjs';

requireInstalled();
isolateLangSmithEnvironment();
const { evaluate } = await import('langsmith/evaluation');

const TEST_TIMEOUT = { timeout: 90_000 };
const QUESTIONS = ['What is AI?', 'What is ML?', 'What is 2+2?'];
const ANSWERS = {
  'What is AI?': 'Artificial intelligence',
  'What is ML?': 'Machine learning',
  'What is 2+2?': '4',
};

// Every request of `sent` (what evaluate() sent: the tests' own refused calls come before) 2xx.
function assertAllSucceeded(sent) {
  const failed = sent.filter((r) => !(r.status >= 200 && r.status < 300));
  assert.deepEqual(failed.map(describeRequest), [], 'every request the client made must be 2xx');
}

const listFeedback = (client, params) => collect(client.listFeedback(params));

// The evaluate() output quietly logs evaluator errors to the console; keep test output readable.
async function quietly(fn) {
  const original = console.error;
  const logged = [];
  console.error = (...args) => logged.push(args.join(' '));
  try {
    return { result: await fn(), logged };
  } finally {
    console.error = original;
  }
}

describe('the seed flow: qa-evaluation, v1.0 then v1.1, compared', () => {
  let pharos;
  let recorder;
  let client;
  let dataset;
  let examples;
  const experiments = {};
  const returned = { 'v1.0': [], 'v1.1': [] };

  before(async () => {
    pharos = await startPharos();
    recorder = await recordingClient(pharos);
    client = recorder.client;
  });
  after(async () => {
    await pharos?.stop();
  });

  test('createDataset returns the dataset, and a second one with the name conflicts', TEST_TIMEOUT, async () => {
    dataset = await client.createDataset('qa-evaluation', {
      description: 'Question answering, from the seed',
    });
    assert.match(dataset.id, /^[0-9a-f-]{36}$/);
    assert.equal(dataset.name, 'qa-evaluation');
    assert.equal(dataset.description, 'Question answering, from the seed');
    await assert.rejects(client.createDataset('qa-evaluation'), (error) => {
      assert.match(String(error), /409|already exists|conflict/i);
      return true;
    });
  });

  test('createExamples uploads {question} -> {answer} through the multipart endpoint', TEST_TIMEOUT, async () => {
    const created = await client.createExamples({
      inputs: QUESTIONS.map((question) => ({ question })),
      outputs: QUESTIONS.map((question) => ({ answer: ANSWERS[question] })),
      datasetId: dataset.id,
    });
    assert.equal(created.length, 3);
    const upload = recorder.sent.find((r) => r.method === 'POST' &&
      r.path === `/api/v1/platform/datasets/${dataset.id}/examples`);
    assert.ok(upload, 'the client used the multipart examples endpoint');
    assert.ok(upload.status >= 200 && upload.status < 300, describeRequest(upload));
    for (const example of created) {
      assert.equal(example.dataset_id, dataset.id);
      assert.equal(example.outputs.answer, ANSWERS[example.inputs.question]);
      assert.ok(example.created_at && example.modified_at, 'times are set');
    }
    assert.deepEqual(created.map((e) => e.inputs.question).sort(), [...QUESTIONS].sort());
    examples = created;
  });

  test('listExamples and readExample give back what was stored', TEST_TIMEOUT, async () => {
    const listed = [];
    for await (const example of client.listExamples({ datasetId: dataset.id })) listed.push(example);
    assert.equal(listed.length, 3);
    for (const example of listed) {
      const read = await client.readExample(example.id);
      assert.equal(read.id, example.id);
      assert.deepEqual(read.inputs, example.inputs);
      assert.deepEqual(read.outputs, example.outputs);
      assert.equal(read.dataset_id, dataset.id);
    }
    const byName = await client.readDataset({ datasetName: 'qa-evaluation' });
    assert.equal(byName.id, dataset.id);
    assert.equal(byName.example_count, 3);
  });

  async function runExperiment(prefix, rightAnswers) {
    const target = async ({ question }) => ({
      answer: rightAnswers.includes(question) ? ANSWERS[question] : 'I do not know',
    });
    const correctness = (run, example) => {
      const result = {
        key: 'correctness',
        score: run.outputs?.answer === example.outputs.answer ? 1 : 0,
      };
      returned[prefix].push({ example: example.id, ...result });
      return result;
    };
    const sentBefore = recorder.sent.length;
    const results = await evaluate(target, {
      data: 'qa-evaluation',
      evaluators: [correctness],
      experimentPrefix: prefix,
      client,
    });
    await client.awaitPendingTraceBatches();
    await recorder.idle();
    assertAllSucceeded(recorder.sent.slice(sentBefore));
    assert.ok(results.experimentName.startsWith(`${prefix}-`), results.experimentName);
    return results.experimentName;
  }

  test('evaluate(v1.0) stores the experiment, one run per example and their feedback', TEST_TIMEOUT, async () => {
    const name = await runExperiment('v1.0', ['What is AI?', 'What is 2+2?']);
    const project = await client.readProject({ projectName: name });
    experiments['v1.0'] = project;
    assert.equal(project.reference_dataset_id, dataset.id);
    assert.ok(project.extra?.metadata?.dataset_version, 'the dataset version evaluate() set');

    const runs = await listAll(client, { projectName: name, isRoot: true });
    assert.equal(runs.length, 3);
    assert.deepEqual(runs.map((r) => r.reference_example_id).sort(),
      examples.map((e) => e.id).sort());
    for (const run of runs) {
      const example = examples.find((e) => e.id === run.reference_example_id);
      const expected = ['What is AI?', 'What is 2+2?'].includes(example.inputs.question)
        ? ANSWERS[example.inputs.question] : 'I do not know';
      assert.equal(run.outputs.answer, expected);
    }

    const feedback = await listFeedback(client, { runIds: runs.map((r) => r.id) });
    assert.equal(feedback.length, 3);
    const evaluatorRuns = await listAll(client, { projectName: 'evaluators' });
    for (const row of feedback) {
      const run = runs.find((r) => r.id === row.run_id);
      const sent = returned['v1.0'].find((r) => r.example === run.reference_example_id);
      assert.deepEqual({ key: row.key, score: row.score }, { key: sent.key, score: sent.score });
      assert.equal(row.feedback_source.type, 'model');
      assert.equal(row.session_id, project.id);
      const evaluatorRunId = row.feedback_source.metadata?.__run?.run_id;
      assert.ok(evaluatorRuns.some((r) => r.id === evaluatorRunId),
        'the feedback points at its evaluator run in project "evaluators"');
    }
    const filtered = await listFeedback(client, {
      feedbackKeys: ['correctness'], feedbackSourceTypes: ['model'],
    });
    assert.equal(filtered.length, 3);
    assert.equal((await listFeedback(client, { feedbackKeys: ['helpfulness'] })).length, 0);
  });

  test('evaluate(v1.1) and the comparison against v1.0, example by example', TEST_TIMEOUT, async () => {
    const name = await runExperiment('v1.1', QUESTIONS);
    experiments['v1.1'] = await client.readProject({ projectName: name });
    const ids = [experiments['v1.0'].id, experiments['v1.1'].id];
    const compare = await rawJson(pharos, 'GET',
      `/datasets/${dataset.id}/compare?experiments=${ids.join(',')}`);
    assert.equal(compare.status, 200, compare.text);
    const body = compare.json;
    assert.deepEqual(body.experiments.map((e) => e.id), ids);
    assert.deepEqual(body.feedback_keys, ['correctness']);
    const [v10, v11] = body.experiments.map((e) => e.stats);
    assert.ok(Math.abs(v10.feedback.correctness.mean - 2 / 3) < 1e-3, JSON.stringify(v10));
    assert.equal(v11.feedback.correctness.mean, 1);
    assert.equal(v10.feedback.correctness.n, 3);
    for (const stats of [v10, v11]) {
      assert.equal(stats.error_rate, 0);
      assert.equal(stats.example_count, 3);
      assert.equal(stats.complete, true);
      assert.equal(typeof stats.latency_p50, 'number');
    }
    assert.equal(body.examples.length, 3);
    assert.equal(body.total, 3);
    for (const row of body.examples) {
      assert.equal(row.results.length, 2);
      for (const [i, prefix] of ['v1.0', 'v1.1'].entries()) {
        const cell = row.results[i];
        assert.equal(cell.runs.length, 1);
        const sent = returned[prefix].find((r) => r.example === row.id);
        assert.equal(cell.runs[0].feedback.correctness.score, sent.score);
        assert.equal(cell.runs[0].status, 'success');
      }
    }

    const projects = [];
    for await (const p of client.listProjects({ referenceDatasetId: dataset.id })) projects.push(p);
    assert.deepEqual(projects.map((p) => p.id).sort(), [...ids].sort());
    const sessions = await rawJson(pharos, 'GET',
      `/sessions?reference_dataset=${dataset.id}&include_stats=true`);
    assert.equal(sessions.status, 200, sessions.text);
    const v10Session = sessions.json.find((s) => s.id === ids[0]);
    assert.equal(v10Session.feedback_stats.correctness.n, 3);
    assert.ok(Math.abs(v10Session.feedback_stats.correctness.avg - 2 / 3) < 1e-3);
  });

  testServerLoggedNoErrors(() => pharos);
});

describe('bad input: schema violations, failing targets and evaluators', () => {
  let pharos;
  let recorder;
  let client;

  before(async () => {
    pharos = await startPharos();
    recorder = await recordingClient(pharos);
    client = recorder.client;
  });
  after(async () => {
    await pharos?.stop();
  });

  test('examples that break the dataset\'s inputs schema are refused as a batch, naming them', TEST_TIMEOUT, async () => {
    const dataset = await client.createDataset('qa-strict', {
      inputsSchema: {
        type: 'object',
        required: ['question'],
        properties: { question: { type: 'string' } },
      },
    });
    await assert.rejects(client.createExamples({
      inputs: [{ question: 'fine' }, { question: 42 }],
      outputs: [{ answer: 'a' }, { answer: 'b' }],
      datasetId: dataset.id,
    }), (error) => {
      assert.match(String(error), /422/);
      assert.match(String(error), /\/question/);
      return true;
    });
    const none = [];
    for await (const e of client.listExamples({ datasetId: dataset.id })) none.push(e);
    assert.equal(none.length, 0, 'nothing of the refused batch was stored');
    const created = await client.createExamples({
      inputs: [{ question: 'fine' }],
      outputs: [{ answer: 'a' }],
      datasetId: dataset.id,
    });
    assert.equal(created.length, 1);
  });

  test('a throwing target, a timed-out target and a throwing evaluator: the experiment completes', TEST_TIMEOUT, async () => {
    const dataset = await client.createDataset('qa-faults');
    const created = await client.createExamples({
      inputs: [{ question: 'one' }, { question: 'two' }, { question: 'three' }],
      outputs: [{ answer: '1' }, { answer: '2' }, { answer: '3' }],
      datasetId: dataset.id,
    });
    const byQuestion = Object.fromEntries(created.map((e) => [e.inputs.question, e]));
    const target = async ({ question }) => {
      if (question === 'one') throw new Error('target exploded');
      if (question === 'two') {
        await new Promise((resolve) => setTimeout(resolve, 250));
        throw new Error('timeout: no answer within 200ms');
      }
      return { answer: '3' };
    };
    const fragile = (run, example) => {
      if (example.inputs.question === 'three') throw new Error('evaluator broke');
      return { key: 'fragile', score: 1 };
    };
    const steady = (run, example) => ({
      key: 'steady', score: run.outputs?.answer === example.outputs.answer ? 1 : 0,
    });
    const sentBefore = recorder.sent.length;
    const { result } = await quietly(() => evaluate(target, {
      data: 'qa-faults', evaluators: [fragile, steady], experimentPrefix: 'faults', client,
    }));
    await client.awaitPendingTraceBatches();
    await recorder.idle();
    assertAllSucceeded(recorder.sent.slice(sentBefore));
    const project = await client.readProject({ projectName: result.experimentName });

    const compare = await rawJson(pharos, 'GET',
      `/datasets/${dataset.id}/compare?experiments=${project.id}`);
    assert.equal(compare.status, 200, compare.text);
    const stats = compare.json.experiments[0].stats;
    assert.ok(Math.abs(stats.error_rate - 2 / 3) < 1e-9, JSON.stringify(stats));
    assert.equal(stats.evaluator_errors, 1);
    assert.equal(stats.complete, true);
    const cell = (question) => compare.json.examples.find((e) => e.id === byQuestion[question].id)
      .results[0].runs[0];
    assert.equal(cell('one').status, 'error');
    assert.match(cell('one').error, /target exploded/);
    assert.equal(cell('two').status, 'error');
    assert.match(cell('two').error, /timeout/);
    assert.equal(cell('three').status, 'success');
    assert.equal(cell('three').evaluator_errors.length, 1);
    assert.match(cell('three').evaluator_errors[0].error, /evaluator broke/);
    // Nothing else lost: the steady evaluator scored all three, the fragile one the other two.
    assert.equal(cell('three').feedback.steady.score, 1);
    assert.equal(cell('one').feedback.steady.score, 0);
    assert.equal(cell('one').feedback.fragile.score, 1);
    assert.equal(cell('two').feedback.fragile.score, 1);
    assert.equal(stats.feedback.steady.n, 3);
    assert.equal(stats.feedback.fragile.n, 2);
  });

  testServerLoggedNoErrors(() => pharos);
});

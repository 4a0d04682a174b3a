// Datasets and examples: the real `langsmith` client creates a dataset, uploads examples through
// the multipart endpoint, and reads them back (listExamples, readExample, readDataset) from
// Pharos. A dataset with an inputs schema refuses a batch holding one bad example as a whole,
// with an error naming it (docs/plans/evaluation.md §1 rows 1–7, §7).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  isolateLangSmithEnvironment,
  packageVersion,
  requireInstalled,
  startPharos,
} from './harness.mjs';
import { collect, recordingClient, testServerLoggedNoErrors } from './langsmith_helpers.mjs';

requireInstalled();
isolateLangSmithEnvironment();
const langsmithVersion = packageVersion('langsmith');

const TEST_TIMEOUT = { timeout: 60_000 };

const listAll = (client, params) => collect(client.listExamples(params));

const byQuestion = (a, b) => a.inputs.question.localeCompare(b.inputs.question);

describe(`langsmith ${langsmithVersion}: datasets and examples`, () => {
  let pharos;
  let client;
  let sent;
  let dataset;
  let created;
  const name = 'qa-evaluation';
  const inputs = [{ question: 'What is AI?' }, { question: 'What is ML?' }, { question: 'What is 2+2?' }];
  const outputs = [
    { answer: 'Artificial intelligence' },
    { answer: 'Machine learning' },
    { answer: '4' },
  ];

  before(async () => {
    pharos = await startPharos();
    ({ client, sent } = await recordingClient(pharos));
  });
  after(async () => {
    await pharos?.stop();
  });

  test('createDataset returns the dataset; a second one of that name is a conflict', TEST_TIMEOUT, async () => {
    dataset = await client.createDataset(name, { description: 'seed questions' });
    assert.match(dataset.id, /^[0-9a-f-]{36}$/);
    assert.equal(dataset.name, name);
    assert.equal(dataset.description, 'seed questions');
    assert.equal(dataset.data_type, 'kv');
    assert.deepEqual(dataset.extra, { source: 'sdk' });
    await assert.rejects(client.createDataset(name), (error) => {
      assert.equal(error.name, 'LangSmithConflictError', String(error));
      assert.match(error.message, /409/);
      assert.match(error.message, /qa-evaluation/);
      return true;
    });
  });

  test('createExamples uploads three examples (multipart) and reads each back', TEST_TIMEOUT, async () => {
    created = await client.createExamples({ inputs, outputs, datasetId: dataset.id });
    assert.equal(created.length, 3);
    for (const [i, example] of created.entries()) {
      assert.equal(example.dataset_id, dataset.id);
      assert.deepEqual(example.inputs, inputs[i]);
      assert.deepEqual(example.outputs, outputs[i]);
      assert.ok(!Number.isNaN(Date.parse(example.created_at)), example.created_at);
      assert.ok(!Number.isNaN(Date.parse(example.modified_at)), example.modified_at);
    }
    const upload = sent.filter((r) => r.method === 'POST' &&
      r.path === `/api/v1/platform/datasets/${dataset.id}/examples`);
    assert.equal(upload.length, 1, JSON.stringify(sent));
    assert.ok(upload[0].status >= 200 && upload[0].status < 300, JSON.stringify(upload[0]));
    const reads = sent.filter((r) => r.method === 'GET' && /^\/api\/v1\/examples\/[0-9a-f-]{36}$/.test(r.path));
    assert.equal(reads.length, 3);
  });

  test('listExamples returns the three with their inputs and outputs', TEST_TIMEOUT, async () => {
    const listed = await listAll(client, { datasetId: dataset.id });
    assert.equal(listed.length, 3);
    assert.deepEqual(listed.map((e) => e.id).sort(), created.map((e) => e.id).sort());
    const sorted = [...listed].sort(byQuestion);
    const expected = inputs.map((input, i) => ({ inputs: input, outputs: outputs[i] })).sort(
      (a, b) => a.inputs.question.localeCompare(b.inputs.question));
    assert.deepEqual(sorted.map((e) => ({ inputs: e.inputs, outputs: e.outputs })), expected);
    for (const example of listed) assert.match(example.modified_at, /T/);
    // By name too (readDataset by name, then the examples).
    assert.equal((await listAll(client, { datasetName: name })).length, 3);
  });

  test('readExample deep-equals the created example', TEST_TIMEOUT, async () => {
    for (const example of created) {
      assert.deepEqual(await client.readExample(example.id), example);
    }
  });

  test('readDataset by name and by id counts the examples', TEST_TIMEOUT, async () => {
    const byName = await client.readDataset({ datasetName: name });
    assert.equal(byName.id, dataset.id);
    assert.equal(byName.example_count, 3);
    const byId = await client.readDataset({ datasetId: dataset.id });
    assert.equal(byId.name, name);
    assert.equal(byId.example_count, 3);
    await assert.rejects(client.readDataset({ datasetName: 'no-such-dataset' }));
  });

  test('every request the client made was answered 2xx, except the conflict', TEST_TIMEOUT, () => {
    const failed = sent.filter((r) => !(r.status >= 200 && r.status < 300));
    assert.deepEqual(failed.map((r) => `${r.method} ${r.path} ${r.status}`), [
      'POST /api/v1/datasets 409',
    ]);
  });

  testServerLoggedNoErrors(() => pharos);
});

describe(`langsmith ${langsmithVersion}: examples that break the dataset's schema`, () => {
  let pharos;
  let client;
  let dataset;
  const inputsSchema = {
    type: 'object',
    required: ['question'],
    properties: { question: { type: 'string' } },
  };

  before(async () => {
    pharos = await startPharos();
    ({ client } = await recordingClient(pharos));
    dataset = await client.createDataset(`strict-${randomUUID().slice(0, 8)}`, { inputsSchema });
  });
  after(async () => {
    await pharos?.stop();
  });

  test('the dataset keeps its schema', TEST_TIMEOUT, async () => {
    assert.deepEqual(dataset.inputs_schema_definition, inputsSchema);
    const read = await client.readDataset({ datasetId: dataset.id });
    assert.deepEqual(read.inputs_schema_definition, inputsSchema);
  });

  test('a batch with one bad example throws naming it, and stores none of the batch', TEST_TIMEOUT, async () => {
    const badId = randomUUID();
    const examples = [
      { dataset_id: dataset.id, id: randomUUID(), inputs: { question: 'fine' } },
      { dataset_id: dataset.id, id: badId, inputs: { question: 42 } },
      { dataset_id: dataset.id, id: randomUUID(), inputs: { question: 'also fine' } },
    ];
    await assert.rejects(client.createExamples(examples), (error) => {
      assert.match(error.message, /422/);
      assert.ok(error.message.includes(badId), error.message);
      assert.match(error.message, /\/question/);
      assert.match(error.message, /nothing was stored/);
      return true;
    });
    assert.deepEqual(await listAll(client, { datasetId: dataset.id }), []);
    assert.equal((await client.readDataset({ datasetId: dataset.id })).example_count, 0);
  });

  test('a batch missing a required member is refused the same way', TEST_TIMEOUT, async () => {
    await assert.rejects(
      client.createExamples({ inputs: [{ query: 'no question' }], datasetId: dataset.id }),
      /422[\s\S]*breaks the dataset's inputs schema/);
    assert.equal((await listAll(client, { datasetId: dataset.id })).length, 0);
  });

  test('a clean batch then works', TEST_TIMEOUT, async () => {
    const created = await client.createExamples({
      inputs: [{ question: 'What is AI?' }, { question: 'What is ML?' }],
      outputs: [{ answer: 'AI' }, { answer: 'ML' }],
      datasetId: dataset.id,
    });
    assert.equal(created.length, 2);
    const listed = await listAll(client, { datasetId: dataset.id });
    assert.deepEqual(listed.map((e) => e.inputs.question).sort(), ['What is AI?', 'What is ML?']);
  });

  testServerLoggedNoErrors(() => pharos);
});

describe(`langsmith ${langsmithVersion}: updating and deleting datasets and examples`, () => {
  let pharos;
  let client;

  before(async () => {
    pharos = await startPharos();
    ({ client } = await recordingClient(pharos));
  });
  after(async () => {
    await pharos?.stop();
  });

  test('updateExample makes a new revision; the old one is still readable as of before', TEST_TIMEOUT, async () => {
    const dataset = await client.createDataset('qa-history');
    const [example] = await client.createExamples({
      inputs: [{ question: 'What is AI?' }], outputs: [{ answer: 'AI' }], datasetId: dataset.id,
    });
    const before = new Date(Date.parse(example.modified_at) + 1).toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await client.updateExample(example.id, { outputs: { answer: 'Artificial intelligence' } });
    const now = await client.readExample(example.id);
    assert.deepEqual(now.outputs, { answer: 'Artificial intelligence' });
    assert.deepEqual(now.inputs, { question: 'What is AI?' });
    const then = await listAll(client, { datasetId: dataset.id, asOf: before });
    assert.deepEqual(then.map((e) => e.outputs), [{ answer: 'AI' }]);
  });

  test('deleteExample and deleteExamples remove examples from the current version', TEST_TIMEOUT, async () => {
    const dataset = await client.createDataset('qa-deletes');
    const created = await client.createExamples({
      inputs: [{ question: 'a' }, { question: 'b' }, { question: 'c' }],
      outputs: [{ answer: '1' }, { answer: '2' }, { answer: '3' }],
      datasetId: dataset.id,
    });
    const id = (q) => created.find((e) => e.inputs.question === q).id;
    await client.deleteExample(id('a'));
    await client.deleteExamples([id('b')]);
    const left = await listAll(client, { datasetId: dataset.id });
    assert.deepEqual(left.map((e) => e.inputs.question), ['c']);
    await assert.rejects(client.readExample(id('a')), /404|not found/i);
  });

  test('one request writes at most 10,000 examples, and says so', TEST_TIMEOUT, async () => {
    const dataset = await client.createDataset('qa-bulk');
    const body = Array.from({ length: 10_001 }, (_, i) => ({
      dataset_id: dataset.id, inputs: { question: `q${i}` },
    }));
    const response = await fetch(`${pharos.baseUrl}/api/v1/examples/bulk`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const text = await response.text();
    assert.equal(response.status, 400, text);
    assert.match(text, /10001 examples in one request; send at most 10000/);
    assert.equal((await listAll(client, { datasetId: dataset.id })).length, 0);
  });

  test('listDatasets, updateDataset and deleteDataset', TEST_TIMEOUT, async () => {
    const dataset = await client.createDataset('qa-lifecycle', { description: 'first' });
    const listed = await collect(client.listDatasets({ datasetNameContains: 'lifecycle' }));
    assert.deepEqual(listed.map((d) => d.id), [dataset.id]);
    const updated = await client.updateDataset({ datasetId: dataset.id, description: 'second' });
    assert.equal(updated.description, 'second');
    assert.equal((await client.readDataset({ datasetId: dataset.id })).description, 'second');
    await client.deleteDataset({ datasetId: dataset.id });
    await assert.rejects(client.readDataset({ datasetId: dataset.id }), /404|not found/i);
    assert.deepEqual(await collect(client.listDatasets({ datasetNameContains: 'lifecycle' })), []);
  });

  testServerLoggedNoErrors(() => pharos);
});

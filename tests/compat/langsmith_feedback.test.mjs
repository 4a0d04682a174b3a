// Feedback: the real `langsmith` client's createFeedback / listFeedback / readFeedback /
// updateFeedback / deleteFeedback against Pharos, plus the raw shapes evaluate() and the Python
// SDK send (session-only feedback, epoch-ms start_time, feedbackConfig) and the bad-input answers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  isolateLangSmithEnvironment,
  packageVersion,
  requireInstalled,
  startPharos,
} from './harness.mjs';
import { collect, rawJson, testServerLoggedNoErrors } from './langsmith_helpers.mjs';

requireInstalled();
isolateLangSmithEnvironment();
const { Client, RunTree } = await import('langsmith');
const langsmithVersion = packageVersion('langsmith');

const TEST_TIMEOUT = { timeout: 60_000 };

const isoMicros = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe(`langsmith ${langsmithVersion}: feedback`, () => {
  let pharos;
  let client;
  let projectName;
  let projectId;
  let run;
  before(async () => {
    pharos = await startPharos();
    client = new Client({
      apiUrl: `${pharos.baseUrl}/api/v1`,
      autoBatchTracing: false,
      callerOptions: { maxRetries: 0 },
    });
    projectName = `compat-feedback-${randomUUID().slice(0, 8)}`;
    run = new RunTree({
      name: 'answer', run_type: 'chain', client, project_name: projectName,
      inputs: { question: 'What is 2+2?' },
    });
    await run.postRun();
    await run.end({ answer: '4' });
    await run.patchRun();
    projectId = (await client.readProject({ projectName })).id;
  });
  after(async () => {
    await pharos?.stop();
  });

  let modelFeedbackId;
  const evaluatorRunId = randomUUID();

  test('createFeedback then listFeedback({runIds}) returns it, joined to the run', TEST_TIMEOUT,
    async () => {
      const created = await client.createFeedback(run.id, 'correctness', {
        score: 1,
        value: 'right',
        comment: 'matches the reference',
        correction: { answer: '4' },
        sourceRunId: evaluatorRunId,
        feedbackSourceType: 'model',
        feedbackConfig: { type: 'continuous', min: 0, max: 1 },
      });
      modelFeedbackId = created.id;
      const listed = await collect(client.listFeedback({ runIds: [run.id] }));
      assert.equal(listed.length, 1);
      const [f] = listed;
      assert.match(f.created_at, isoMicros);
      assert.match(f.modified_at, isoMicros);
      assert.ok(Math.abs(Date.parse(f.created_at) - Date.now()) < 60_000, f.created_at);
      assert.deepEqual({ ...f, created_at: undefined, modified_at: undefined }, {
        id: created.id,
        run_id: run.id,
        trace_id: run.trace_id,
        session_id: projectId, // from the run's project: the client sent none
        key: 'correctness',
        score: 1,
        value: 'right',
        comment: 'matches the reference',
        correction: { answer: '4' },
        feedback_source: { type: 'model', metadata: { __run: { run_id: evaluatorRunId } } },
        extra: null,
        feedback_config: { type: 'continuous', min: 0, max: 1 },
        created_at: undefined,
        modified_at: undefined,
      });
      assert.deepEqual(await client.readFeedback(created.id), f);
    });

  test('a boolean score is stored as 1 or 0', TEST_TIMEOUT, async () => {
    await client.createFeedback(run.id, 'thumbs_up', { score: true });
    await client.createFeedback(run.id, 'thumbs_down', { score: false });
    const listed = await collect(client.listFeedback({ feedbackKeys: ['thumbs_up', 'thumbs_down'] }));
    assert.deepEqual(listed.map((f) => [f.key, f.score, f.feedback_source.type]),
      [['thumbs_up', 1, 'api'], ['thumbs_down', 0, 'api']]);
  });

  test('listFeedback filters by source type and key', TEST_TIMEOUT, async () => {
    const model = await collect(client.listFeedback({ feedbackSourceTypes: ['model'] }));
    assert.deepEqual(model.map((f) => f.id), [modelFeedbackId]);
    const api = await collect(client.listFeedback({
      runIds: [run.id], feedbackKeys: ['correctness'], feedbackSourceTypes: ['api'],
    }));
    assert.deepEqual(api, []);
  });

  test('a feedback without a key is refused, naming the key', TEST_TIMEOUT, async () => {
    await assert.rejects(client.createFeedback(run.id, undefined, { score: 1 }),
      (error) => /key/.test(String(error?.message)) && /400/.test(String(error?.message)));
  });

  test('updateFeedback changes only what it sends; deleteFeedback removes it', TEST_TIMEOUT,
    async () => {
      const before = await client.readFeedback(modelFeedbackId);
      await client.updateFeedback(modelFeedbackId, { score: 0.5, comment: 'half right' });
      const after = await client.readFeedback(modelFeedbackId);
      assert.equal(after.score, 0.5);
      assert.equal(after.comment, 'half right');
      assert.equal(after.value, 'right');
      assert.deepEqual(after.correction, { answer: '4' });
      assert.equal(after.created_at, before.created_at);
      assert.ok(after.modified_at > before.modified_at, `${after.modified_at} > ${before.modified_at}`);
      await client.deleteFeedback(modelFeedbackId);
      await assert.rejects(client.readFeedback(modelFeedbackId), /404/);
      const { status } = await rawJson(pharos, 'DELETE', `/feedback/${modelFeedbackId}`);
      assert.equal(status, 404);
    });

  test('evaluate()-shaped feedback: session_id, epoch-ms start_time; GET ?session=', TEST_TIMEOUT,
    async () => {
      const id = randomUUID();
      const laterRun = randomUUID(); // a run that has not arrived
      const startMs = Date.parse('2026-01-02T03:04:05.678Z');
      const posted = await rawJson(pharos, 'POST', '/feedback', {
        id, run_id: laterRun, trace_id: laterRun, key: 'correctness', score: 0.6667,
        feedback_source: { type: 'model', metadata: { __run: { run_id: evaluatorRunId } } },
        session_id: projectId, start_time: startMs, surprise: 1,
      });
      assert.equal(posted.status, 200, posted.text);
      assert.equal(posted.json.id, id);
      assert.equal(posted.json.start_time, '2026-01-02T03:04:05.678000Z');
      assert.deepEqual(posted.json.warnings, ['unknown field ignored: surprise']);

      const bySession = await rawJson(pharos, 'GET', `/feedback?session=${projectId}&limit=500`);
      assert.equal(bySession.status, 200, bySession.text);
      // The run's own feedback (joined by its project) and the one naming the project.
      assert.deepEqual(bySession.json.map((f) => f.key).sort(),
        ['correctness', 'thumbs_down', 'thumbs_up']);
      const scored = await rawJson(pharos, 'GET', `/feedback?session=${projectId}&has_score=true&key=correctness`);
      assert.deepEqual(scored.json.map((f) => [f.id, f.score, f.session_id]), [[id, 0.6667, projectId]]);

      const again = await rawJson(pharos, 'POST', '/feedback', { id, session_id: projectId, key: 'x' });
      assert.equal(again.status, 409, again.text);
    });

  test('bad input is a 400 naming the member', TEST_TIMEOUT, async () => {
    const cases = [
      [{ key: 'k' }, /run_id/],
      [{ run_id: run.id, key: 'k', score: 'high' }, /score/],
      [{ run_id: 'not-a-uuid', key: 'k' }, /run_id/],
      [{ run_id: run.id, key: 'k', feedback_source: 'model' }, /feedback_source/],
      [{ run_id: run.id, key: 'k', extra: [1] }, /extra/],
      [{ run_id: run.id, key: 'k', start_time: 'yesterday' }, /start_time/],
      [{ run_id: run.id, key: 'k'.repeat(257) }, /key/],
      [{ run_id: run.id, key: 'k', feedback_source: { type: 'model', metadata: { __run: { run_id: 'x' } } } },
        /feedback_source\.metadata\.__run\.run_id/],
    ];
    for (const [body, pattern] of cases) {
      const { status, text, json } = await rawJson(pharos, 'POST', '/feedback', body);
      assert.equal(status, 400, `${JSON.stringify(body)} -> ${text}`);
      assert.match(json.error.message, pattern, text);
    }
    const badQuery = await rawJson(pharos, 'GET', '/feedback?run=nope');
    assert.equal(badQuery.status, 400);
    assert.match(badQuery.json.error.message, /run/);
  });

  testServerLoggedNoErrors(() => pharos);
});

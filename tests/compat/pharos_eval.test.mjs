// `pharos eval` and `pharos datasets` against the real binary: a Pharos server whose gateway sends
// the evaluated model, the judge and the embeddings to three scripted fake upstreams. Checked:
// import/export round trips (JSONL and CSV, idempotent ids), every evaluator's scores (in the
// CLI's JSON, through the real `langsmith` client and through compare), the gateway's llm runs
// nested under the example runs with tokens and cost, the concurrency bound, the comparison
// table against an earlier experiment, and bad input: a target that times out, a judge that
// answers nonsense, file rows that break the schema or do not parse, --fail-under, no server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import {
  isolateLangSmithEnvironment,
  pharosBin,
  requireInstalled,
  runPharos,
  startPharos,
} from './harness.mjs';
import { listAll, rawJson, recordingClient } from './langsmith_helpers.mjs';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';

requireInstalled();
isolateLangSmithEnvironment();

const TEST_TIMEOUT = { timeout: 60_000 };
const TARGET_ANSWER = 'Hello from gpt-4o';  // what the fake answers unless scripted

// Five questions; two references equal the fake's default answer, no other is part of it.
const ROWS = [
  { inputs: { question: 'Say hello' }, outputs: { answer: TARGET_ANSWER } },
  { inputs: { question: 'Greet me' }, outputs: { answer: TARGET_ANSWER } },
  { inputs: { question: 'Capital of France?' }, outputs: { answer: 'Paris' } },
  { inputs: { question: 'What is 2+2?' }, outputs: { answer: 'Four' } },
  { inputs: { question: 'Colour of the sky?' }, outputs: { answer: 'Blue' } },
];
const JUDGE_VERDICT = JSON.stringify({ score: 4, reasoning: 'fine' });

const jsonl = (rows) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const close = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);

function configToml(target, judge, embed) {
  return `
[gateway.providers.target]
base_url = "${target.url}"

[gateway.providers.judge]
base_url = "${judge.url}"

[gateway.providers.embed]
base_url = "${embed.url}"

[gateway.models."gpt-4o"]
targets = ["target/gpt-4o"]
retry = { attempts = 1 }

[gateway.models.judge]
targets = ["judge/judge-model"]
retry = { attempts = 1 }

[gateway.models."text-embedding-3-small"]
targets = ["embed/text-embedding-3-small"]
retry = { attempts = 1 }
`;
}

describe('pharos eval and pharos datasets against a running Pharos', () => {
  let target;
  let judge;
  let embed;
  let pharos;
  let dir;
  let client;
  const file = (name) => path.join(dir, name);
  const pharosCli = (args, options = {}) =>
    runPharos([...args, '--url', pharos.baseUrl], { cwd: dir, timeoutMs: 45_000, ...options });

  before(async () => {
    target = await startFakeUpstream();
    judge = await startFakeUpstream();
    embed = await startFakeUpstream();
    dir = await mkdtemp(path.join(tmpdir(), 'pharos-eval-'));
    await writeFile(file('pharos.toml'), configToml(target, judge, embed));
    pharos = await startPharos({ args: ['--config', file('pharos.toml')] });
    client = (await recordingClient(pharos)).client;
    await writeFile(file('qa.jsonl'), jsonl(ROWS));
    await writeFile(file('rubric.md'), 'Is the response a correct, polite answer to the input?');
    await writeFile(file('answer.schema.json'), JSON.stringify({
      type: 'object', required: ['answer'], properties: { answer: { type: 'string' } },
    }));
  });
  after(async () => {
    await pharos?.stop();
    await Promise.all([target?.close(), judge?.close(), embed?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('datasets import is idempotent, and export -> CSV -> import -> export round-trips', TEST_TIMEOUT, async () => {
    const first = await pharosCli(['datasets', 'import', '--file', file('qa.jsonl'), '--dataset', 'qa-file']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /created dataset qa-file: 5 example\(s\) imported \(5 new\)/);
    const again = await pharosCli(['datasets', 'import', '--file', file('qa.jsonl'), '--dataset', 'qa-file']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /5 example\(s\) imported \(0 new\)/);

    const exported = await pharosCli(['datasets', 'export', '--dataset', 'qa-file']);
    assert.equal(exported.code, 0, exported.stderr);
    const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 5);
    const content = (rows) => rows.map((r) => JSON.stringify({ inputs: r.inputs, outputs: r.outputs })).sort();
    assert.deepEqual(content(lines), content(ROWS));

    const csv = await pharosCli(['datasets', 'export', '--dataset', 'qa-file', '--format', 'csv',
      '-o', file('qa.csv')]);
    assert.equal(csv.code, 0, csv.stderr);
    const csvText = await readFile(file('qa.csv'), 'utf8');
    assert.match(csvText.split('\r\n')[0], /^id,inputs\.question,outputs\.answer/);
    const imported = await pharosCli(['datasets', 'import', '--file', file('qa.csv'), '--dataset', 'qa-csv']);
    assert.equal(imported.code, 0, imported.stderr);
    const back = await pharosCli(['datasets', 'export', '--dataset', 'qa-csv']);
    assert.deepEqual(content(back.stdout.trim().split('\n').map((l) => JSON.parse(l))), content(ROWS));

    const list = await pharosCli(['datasets', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const names = list.stdout.trim().split('\n').map((l) => JSON.parse(l).name).sort();
    assert.deepEqual(names, ['qa-csv', 'qa-file']);
  });

  let firstExperiment;
  test('pharos eval with every evaluator: scores in its output, in the feedback and in compare', TEST_TIMEOUT, async () => {
    target.reset();
    judge.reset();
    embed.reset();
    // Each target answer takes a while, so concurrent calls overlap and the bound shows.
    target.script(ROWS.map(() => ({ delay_ms: 150 })));
    judge.script(ROWS.map(() => ({ content: JUDGE_VERDICT })));
    const run = await pharosCli(['eval', '--dataset', 'qa-file', '--model', 'gpt-4o',
      '--evaluator', 'exact_match', '--evaluator', 'contains', '--evaluator', 'regex:pattern=^Hello',
      '--evaluator', `json_schema:schema=@${file('answer.schema.json')}`,
      '--evaluator', 'embedding_similarity:model=text-embedding-3-small',
      '--evaluator', `judge:model=judge,rubric=@${file('rubric.md')},scale=1-5`,
      '--experiment-prefix', 'v1.0', '--concurrency', '3', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /progress: 5\/5/);
    const result = JSON.parse(run.stdout);
    firstExperiment = result.experiment;
    assert.match(firstExperiment.name, /^v1\.0-[0-9a-f]{8}$/);
    const feedback = result.summary.feedback;
    close(feedback.exact_match.mean, 0.4, 'exact_match');
    close(feedback.contains.mean, 0.4, 'contains');
    close(feedback.regex.mean, 1, 'regex');
    close(feedback.json_schema.mean, 0, 'json_schema (the answers are not JSON)');
    close(feedback.judge.mean, 0.75, 'judge: 4 on 1-5');
    assert.equal(feedback.embedding_similarity.n, 5);
    assert.equal(feedback.embedding_similarity.max, 1, 'identical texts embed identically');
    assert.ok(feedback.embedding_similarity.min < 1);
    assert.equal(result.summary.error_rate, 0);
    assert.deepEqual(result.errors, []);

    // Never more than 3 target calls at once, and more than one at some point.
    const calls = target.stats().log.filter((l) => l.path === '/v1/chat/completions');
    assert.equal(calls.length, 5);
    const overlap = Math.max(...calls.map((c) => calls.filter((o) =>
      o.started_at_ms <= c.started_at_ms && o.ended_at_ms > c.started_at_ms).length));
    assert.ok(overlap >= 2 && overlap <= 3, `at most 3 in flight, saw ${overlap}`);

    // The same numbers through the LangSmith client: one feedback row per evaluator and example.
    const roots = await listAll(client, { projectName: firstExperiment.name, isRoot: true });
    assert.equal(roots.length, 5);
    const rows = [];
    for await (const row of client.listFeedback({ runIds: roots.map((r) => r.id) })) rows.push(row);
    assert.equal(rows.length, 30);
    const mean = (key) => {
      const scores = rows.filter((r) => r.key === key).map((r) => r.score);
      return scores.reduce((a, b) => a + b, 0) / scores.length;
    };
    close(mean('exact_match'), 0.4, 'exact_match via listFeedback');
    close(mean('judge'), 0.75, 'judge via listFeedback');

    // The gateway's llm calls are children of the example runs, with tokens and cost.
    const waitForChildren = async () => {
      for (let i = 0; i < 100; i += 1) {
        const children = await listAll(client, { projectName: firstExperiment.name, isRoot: false });
        const llm = children.filter((r) => r.run_type === 'llm');
        if (llm.length === 5) return llm;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.fail('the gateway recorded 5 llm runs in the experiment');
    };
    const llm = await waitForChildren();
    const rootIds = new Set(roots.map((r) => r.id));
    for (const child of llm) {
      assert.ok(rootIds.has(child.parent_run_id), 'an llm run hangs under an example run');
      assert.ok(child.total_tokens > 0);
      assert.ok(child.total_cost > 0);
    }
  });

  test('a second experiment with --compare prints the table against the first', TEST_TIMEOUT, async () => {
    // The examples in the order the runner takes them (the dataset's order), with one worker.
    const exported = await pharosCli(['datasets', 'export', '--dataset', 'qa-file']);
    const order = exported.stdout.trim().split('\n').map((l) => JSON.parse(l));
    target.reset();
    target.script(order.map((e) => ({ content: e.outputs.answer })));
    const run = await pharosCli(['eval', '--dataset', 'qa-file', '--model', 'gpt-4o',
      '--evaluator', 'exact_match', '--experiment-prefix', 'v1.1', '--concurrency', '1',
      '--compare', '--no-progress']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /progress:/);
    assert.ok(run.stdout.includes(firstExperiment.name), run.stdout);
    assert.match(run.stdout, /v1\.1-[0-9a-f]{8}/);
    assert.match(run.stdout, /exact_match\s+0\.400 \(5\)\s+1\.000 \(5\)\s+\+0\.600/);
    assert.match(run.stdout, /examples: 3 improved, 0 regressed on exact_match/);

    const compare = await pharosCli(['eval', 'compare', '--dataset', 'qa-file', '--last', '2']);
    assert.equal(compare.code, 0, compare.stderr);
    assert.match(compare.stdout, /exact_match\s+0\.400 \(5\)\s+1\.000 \(5\)\s+\+0\.600/);
  });

  test('an OpenAI-compatible endpoint outside the gateway as the target, with its key', TEST_TIMEOUT, async () => {
    target.reset();
    const run = await pharosCli(['eval', '--dataset', 'qa-file', '--model', 'gpt-4o',
      '--endpoint', target.url, '--endpoint-key-env', 'TARGET_KEY', '--evaluator', 'exact_match',
      '--experiment-prefix', 'direct', '--json'], { env: { TARGET_KEY: 'sk-direct-123' } });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    close(result.summary.feedback.exact_match.mean, 0.4, 'exact_match');
    const calls = target.stats().log.filter((l) => l.path === '/v1/chat/completions');
    assert.equal(calls.length, 5);
    assert.ok(calls.every((c) => c.headers.authorization === 'Bearer sk-direct-123'));
    // Not through the gateway: the runner records each llm call itself, under its example run.
    const children = await listAll(client, { projectName: result.experiment.name, isRoot: false });
    const llm = children.filter((r) => r.run_type === 'llm');
    assert.equal(llm.length, 5);
    assert.ok(llm.every((r) => r.total_tokens > 0), 'usage from the endpoint\'s answers');
  });

  test('a target that times out errors its example only; the experiment completes', TEST_TIMEOUT, async () => {
    target.reset();
    judge.reset();
    target.script([{ delay_ms: 3000 }]);
    judge.script([{ content: 'not json' }, { content: JUDGE_VERDICT }, { content: JUDGE_VERDICT },
      { content: JUDGE_VERDICT }]);
    const run = await pharosCli(['eval', '--dataset', 'qa-file', '--model', 'gpt-4o',
      '--evaluator', 'exact_match', '--evaluator', `judge:model=judge,rubric=@${file('rubric.md')}`,
      '--timeout', '1s', '--concurrency', '1', '--experiment-prefix', 'slow', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    close(result.summary.error_rate, 0.2, 'one of five timed out');
    const timedOut = result.errors.filter((e) => /timeout/.test(e.message));
    assert.equal(timedOut.length, 1, JSON.stringify(result.errors));
    assert.equal(result.summary.feedback.exact_match.n, 4, 'the other four were scored');
    // The judge's nonsense is an error feedback on its example, the others are intact.
    assert.equal(result.summary.feedback.judge.errors, 1);
    assert.equal(result.summary.feedback.judge.n, 3);
    const session = await client.readProject({ projectId: result.experiment.id });
    assert.ok(session.end_time, 'the experiment was closed');
    const rows = [];
    for await (const row of client.listFeedback({ feedbackKeys: ['judge'] })) rows.push(row);
    const failed = rows.filter((r) => r.extra?.error === true);
    assert.equal(failed.length, 1);
    assert.equal(failed[0].score, null);
    assert.match(failed[0].comment, /not json|score/i);
  });

  test('Ctrl-C: examples in flight finish and are stored, the experiment is closed as interrupted', TEST_TIMEOUT, async () => {
    target.reset();
    target.script(ROWS.map(() => ({ delay_ms: 400 })));
    const child = spawn(pharosBin, ['eval', '--dataset', 'qa-file', '--model', 'gpt-4o',
      '--evaluator', 'exact_match', '--concurrency', '1', '--experiment-prefix', 'stopped', '--json',
      '--url', pharos.baseUrl], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    // Interrupt while the second example's call is in flight.
    for (let i = 0; i < 200 && (target.stats().by_path['/v1/chat/completions'] ?? 0) < 2; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr, /interrupted after 2 of 5 examples/);
    assert.equal(target.stats().by_path['/v1/chat/completions'], 2, 'no example started after Ctrl-C');
    const result = JSON.parse(stdout);
    const session = await client.readProject({ projectId: result.experiment.id });
    assert.equal(session.extra.metadata.pharos_eval.interrupted, true);
    assert.ok(session.end_time);
    const roots = await listAll(client, { projectName: result.experiment.name, isRoot: true });
    assert.equal(roots.length, 2, 'the finished examples are stored');
  });

  test('file rows that break the schema or do not parse are recorded as errors; --fail-under', TEST_TIMEOUT, async () => {
    target.reset();
    await writeFile(file('questions.schema.json'), JSON.stringify({
      type: 'object', required: ['question'], properties: { question: { type: 'string' } },
    }));
    await writeFile(file('bad.jsonl'), [
      JSON.stringify(ROWS[0]),
      JSON.stringify({ inputs: { question: 42 }, outputs: { answer: 'x' } }),
      '{"inputs": {"question": "unterminated"',
      JSON.stringify(ROWS[1]),
      JSON.stringify(ROWS[2]),
    ].join('\n') + '\n');
    const run = await pharosCli(['eval', '--file', file('bad.jsonl'), '--dataset', 'qa-bad',
      '--inputs-schema', file('questions.schema.json'), '--model', 'gpt-4o',
      '--evaluator', 'exact_match', '--fail-under', 'exact_match=0.9', '--json']);
    assert.equal(run.code, 3, `exit 3 for a threshold not met\n${run.stderr}`);
    assert.match(run.stderr, /--fail-under exact_match: mean 0\.6667 is below 0\.9/);
    const result = JSON.parse(run.stdout);
    assert.equal(result.summary.feedback.exact_match.n, 3);
    const lines = result.errors.map((e) => e.line).sort();
    assert.deepEqual(lines, [2, 3]);
    assert.match(result.errors.find((e) => e.line === 2).message, /line 2: .*inputs schema.*\/question/);
    assert.match(result.errors.find((e) => e.line === 3).message, /line 3/);
    assert.equal(target.stats().by_path['/v1/chat/completions'], 3, 'bad rows never reach the model');

    const dataset = await client.readDataset({ datasetName: 'qa-bad' });
    assert.equal(dataset.example_count, 3, 'only the good rows became examples');
    const compare = await rawJson(pharos, 'GET',
      `/datasets/${dataset.id}/compare?experiments=${result.experiment.id}`);
    assert.equal(compare.status, 200, compare.text);
    assert.equal(compare.json.orphans.length, 2, 'the bad rows are listed, not hidden');
  });

  test('usage errors exit 2 and an unreachable server exits 1, each saying why', TEST_TIMEOUT, async () => {
    const badSpec = await pharosCli(['eval', '--dataset', 'qa-file', '--model', 'gpt-4o',
      '--evaluator', 'regex:pattern=(']);
    assert.equal(badSpec.code, 2, badSpec.stderr);
    assert.match(badSpec.stderr, /regex/);
    const duplicate = await pharosCli(['eval', '--dataset', 'qa-file', '--model', 'gpt-4o',
      '--evaluator', 'exact_match', '--evaluator', 'exact_match']);
    assert.equal(duplicate.code, 2);
    assert.match(duplicate.stderr, /key "exact_match"/);
    const missing = await pharosCli(['eval', '--dataset', 'no-such-dataset', '--model', 'gpt-4o']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no-such-dataset/);
    const unreachable = await runPharos(['eval', '--dataset', 'qa-file', '--model', 'gpt-4o',
      '--url', 'http://127.0.0.1:9']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /127\.0\.0\.1:9/);
  });

  test('Pharos logged no error and answered no 5xx but the one gateway timeout', TEST_TIMEOUT, () => {
    const errors = pharos.logLines().filter((l) => l.level === 'error' || l.level === 'fatal');
    assert.deepEqual(errors, [], 'error lines in Pharos\'s log');
    const failed = pharos.accessLog().filter((l) => l.status >= 500);
    // The timed-out example: the gateway gives up at the runner's deadline
    // (x-pharos-total-timeout-ms) with a 504, unless the runner's own deadline closed the call
    // first (a slower, sanitized build).
    const answers = failed.map((l) => `${l.status} ${l.path}`);
    assert.ok(answers.length <= 1 && answers.every((a) => a === '504 /v1/chat/completions'),
      JSON.stringify(answers));
  });
});

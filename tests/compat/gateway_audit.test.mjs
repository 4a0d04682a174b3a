// The audit log of gateway calls through the real binary: the `openai` SDK makes calls with
// audit.enabled, `pharos audit verify` accepts the file, and fails it, naming the line, once one
// line is edited. The query itself appears only as its SHA-256.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requireInstalled, runPharos, startPharos } from './harness.mjs';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';

requireInstalled();
const { default: OpenAI } = await import('openai');

describe('the gateway\'s audit log', () => {
  let upstream;
  let pharos;
  let dir;

  before(async () => {
    upstream = await startFakeUpstream();
    dir = await mkdtemp(path.join(tmpdir(), 'pharos-audit-'));
    const config = path.join(dir, 'pharos.toml');
    await writeFile(config, `
[audit]
enabled = true
dir = "${path.join(dir, 'audit')}"

[gateway.providers.primary]
base_url = "${upstream.url}"

[gateway.models."gpt-4o"]
targets = ["primary/gpt-4o"]
retry = { attempts = 1 }
`);
    pharos = await startPharos({ args: ['--config', config] });
  });

  after(async () => {
    await pharos?.stop();
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('calls are chained lines that verify, until one is edited', { timeout: 30_000 }, async () => {
    const openai = new OpenAI({ baseURL: `${pharos.baseUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
    const secret = `the secret question ${randomUUID()}`;
    const body = { model: 'gpt-4o', user: 'user-42', messages: [{ role: 'user', content: secret }] };
    await openai.chat.completions.create(body);
    upstream.script([{ status: 503 }]);
    await assert.rejects(openai.chat.completions.create(body));
    await pharos.stop();  // the log is flushed and closed on shutdown
    pharos = undefined;

    const file = path.join(dir, 'audit', 'audit.jsonl');
    const text = await readFile(file, 'utf8');
    const lines = text.trimEnd().split('\n');
    const events = lines.map((line) => JSON.parse(line));
    assert.deepEqual(events.map((e) => e.event),
      ['query_received', 'query_completed', 'query_received', 'query_failed']);
    assert.ok(!text.includes(secret), 'the query text is not in the log');
    for (const e of events) {
      assert.equal(e.user_id, 'user-42');
      assert.equal(e.model, 'gpt-4o');
      assert.equal(e.query_sha256.length, 64);
    }
    assert.equal(events[1].prompt_tokens > 0, true);
    // Priced at gpt-4o's list price; no cache is configured.
    const expectedCost = (events[1].prompt_tokens * 2.5 + events[1].completion_tokens * 10) / 1e6;
    assert.ok(Math.abs(events[1].cost_usd - expectedCost) < 1e-12, `${events[1].cost_usd} vs ${expectedCost}`);
    assert.equal(events[1].cache_status, 'none');
    assert.equal(events[3].cost_usd, null);
    assert.equal(events[3].error_type, 'server_error');
    // Each line carries the hash of the one before.
    for (let i = 1; i < lines.length; i++) {
      assert.equal(events[i].prev, createHash('sha256').update(lines[i - 1]).digest('hex'));
    }

    const ok = await runPharos(['audit', 'verify', file]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /intact, 4 lines/);
    const wholeDirectory = await runPharos(['audit', 'verify', path.join(dir, 'audit')]);
    assert.equal(wholeDirectory.code, 0, wholeDirectory.stderr);
    assert.match(wholeDirectory.stdout, /intact, 4 lines/);

    const edited = lines.slice();
    edited[1] = edited[1].replace('"user_id":"user-42"', '"user_id":"someone-else"');
    await writeFile(file, `${edited.join('\n')}\n`);
    const broken = await runPharos(['audit', 'verify', file]);
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /BROKEN at line 3 of 4/);
  });
});

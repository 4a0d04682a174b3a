// The `openai` SDK through the gateway with API keys required: the SDK's apiKey is a Pharos key
// (sent as Authorization: Bearer); a wrong key is a 401 the SDK raises as AuthenticationError,
// and the upstream is never called; the call's run lands in the key's workspace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { requireInstalled, runPharos, startPharos } from './harness.mjs';
import { startFakeUpstream } from '../fakes/fake_upstream.mjs';

requireInstalled();
const { default: OpenAI, AuthenticationError } = await import('openai');

describe('the gateway with API keys required (auth.mode=required)', () => {
  let upstream;
  let pharos;
  let dir;
  let key;

  before(async () => {
    upstream = await startFakeUpstream();
    dir = await mkdtemp(path.join(tmpdir(), 'pharos-gateway-auth-'));
    const config = path.join(dir, 'pharos.toml');
    await writeFile(config, `
[gateway.providers.primary]
base_url = "${upstream.url}"

[gateway.models."gpt-4o"]
targets = ["primary/gpt-4o"]
`);
    pharos = await startPharos({ args: ['--config', config, '--set', 'auth.mode=required'] });
    const created = await runPharos(['keys', 'create', '--workspace', 'llm-team', '--data',
      pharos.dataDir]);
    assert.equal(created.code, 0, created.stderr);
    key = /\bphk_[A-Za-z0-9]+_[A-Za-z0-9]+\b/.exec(created.stdout)?.[0];
    assert.ok(key, created.stdout);
  });

  after(async () => {
    await pharos?.stop();
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a wrong key is AuthenticationError and never reaches the upstream', async () => {
    const before = upstream.stats().requests;
    const client = new OpenAI({ baseURL: `${pharos.baseUrl}/v1`, apiKey: 'sk-not-a-pharos-key', maxRetries: 0 });
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
      (error) => error instanceof AuthenticationError && error.status === 401);
    assert.equal(upstream.stats().requests, before);
  });

  test('a Pharos key works as the SDK\'s apiKey; the run is in the key\'s workspace', async () => {
    const client = new OpenAI({ baseURL: `${pharos.baseUrl}/v1`, apiKey: key, maxRetries: 0 });
    const answer = await client.chat.completions.create(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] },
      { headers: { 'x-pharos-project': 'keyed-calls' } });
    assert.equal(answer.choices[0].message.content, 'Hello from gpt-4o');
    // The Pharos key is not forwarded upstream.
    assert.notEqual(upstream.stats().last_request.headers.authorization, `Bearer ${key}`);

    const deadline = Date.now() + 10_000;
    let sessions = [];
    while (Date.now() < deadline) {
      const response = await fetch(`${pharos.baseUrl}/api/v1/sessions?name=keyed-calls`,
        { headers: { 'x-api-key': key } });
      sessions = await response.json();
      if (sessions.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(sessions.length, 1, 'the project exists in the key\'s workspace');
    const runs = await (await fetch(`${pharos.baseUrl}/api/v1/runs/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ session: [sessions[0].id] }),
    })).json();
    assert.equal(runs.runs.length, 1);
    assert.equal(runs.runs[0].run_type, 'llm');
  });
});

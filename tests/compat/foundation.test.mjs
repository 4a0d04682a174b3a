// Foundation: a real Pharos answers the operations endpoints, and the real LangSmith JS client
// gets through Pharos's authentication the way its users will configure it: with no key when
// keys are optional, and with a key from `pharos keys create` when they are required.
//
// The client reads a project that does not exist: Pharos answers `GET /sessions?name=` with an
// empty list and the client throws "not found". Which workspace the request was given is read
// from Pharos's access log (JSON lines on stderr: msg "request", path, status, workspace).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isolateLangSmithEnvironment,
  packageVersion,
  requireInstalled,
  runPharos,
  startPharos,
} from './harness.mjs';

requireInstalled();
isolateLangSmithEnvironment();
const { Client } = await import('langsmith');
const langsmithVersion = packageVersion('langsmith');

// A LangSmith client against Pharos, recording the headers of every request it sends.
function langsmithClient(baseUrl, config = {}) {
  const sent = [];
  const client = new Client({
    apiUrl: `${baseUrl}/api/v1`,
    fetchImplementation: (input, init) => {
      sent.push({ url: String(input), headers: new Headers(init?.headers) });
      return fetch(input, init);
    },
    ...config,
  });
  return { client, sent };
}

async function getJson(url, headers = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, body: await response.json() };
}

// The contract these tests hold Pharos to: outside the public routes, a request is authenticated
// before anything else is answered, a 404 for an unknown path included.
const AUTH_BEFORE_404 =
  'Pharos must authenticate a non-public request before answering 404/405 for an unknown path, ' +
  'so that a 404 means the key check passed and auth.mode=required refuses unknown paths too ' +
  '("every request except /healthz, /readyz and /metrics needs a valid key")';

const notFound = (error) => {
  assert.match(String(error?.message), /not found/, `expected "not found", got: ${error}`);
  return true;
};

describe('operations endpoints', () => {
  let pharos;
  before(async () => {
    pharos = await startPharos();
  });
  after(async () => {
    await pharos?.stop();
  });

  test('/healthz answers 200 {"status":"ok"}', async () => {
    const { status, body } = await getJson(`${pharos.baseUrl}/healthz`);
    assert.equal(status, 200);
    assert.deepEqual(body, { status: 'ok' });
  });

  test('/readyz answers 200 with status "ready" on a fresh data directory', async () => {
    const { status, body } = await getJson(`${pharos.baseUrl}/readyz`);
    assert.equal(status, 200);
    assert.equal(body.status, 'ready');
  });

  test('the server stops cleanly on SIGTERM', async () => {
    const { code, signal } = await pharos.stop();
    assert.equal(signal, null);
    assert.equal(code, 0, `exit code ${code}; stderr:\n${pharos.stderr()}`);
  });
});

describe(`langsmith ${langsmithVersion}, keys optional (loopback, auth.mode=auto)`, () => {
  let pharos;
  before(async () => {
    pharos = await startPharos();
  });
  after(async () => {
    await pharos?.stop();
  });

  test('a client without an API key is served as the default workspace, not refused', async () => {
    const { client, sent } = langsmithClient(pharos.baseUrl);
    await assert.rejects(client.readProject({ projectName: 'x' }), notFound);

    assert.equal(sent.length, 1);
    assert.match(sent[0].url, /\/api\/v1\/sessions\?name=x/);
    assert.match(sent[0].headers.get('user-agent') ?? '', /^langsmith-js\//);
    // What this client version sends for "no key": recorded so a change shows up here.
    const apiKeyHeader = sent[0].headers.get('x-api-key');
    assert.ok(apiKeyHeader === null || apiKeyHeader === 'undefined',
      `unexpected x-api-key header ${apiKeyHeader}`);

    const line = await pharos.waitForAccessLog((l) => l.path === '/api/v1/sessions');
    assert.equal(line.status, 200);
    assert.equal(line.method, 'GET');
    assert.ok(!pharos.accessLog().some((l) => l.status === 401), 'no request was refused');
    assert.equal(line.workspace, 'default');

    // An unknown path: the 404 comes after the key check, so the line names the workspace.
    const response = await fetch(`${pharos.baseUrl}/api/v1/no-such-route`);
    assert.equal(response.status, 404);
    const unknown = await pharos.waitForAccessLog((l) => l.path === '/api/v1/no-such-route');
    assert.equal(unknown.workspace, 'default', AUTH_BEFORE_404);
  });

  test('the literal "x-api-key: undefined" of older clients is the default workspace', async () => {
    // The same header through the real client (caller-supplied headers pass through as sent)...
    const { client, sent } = langsmithClient(pharos.baseUrl, {
      headers: { 'x-api-key': 'undefined' },
    });
    await assert.rejects(client.readProject({ projectName: 'y' }), notFound);
    assert.equal(sent[0].headers.get('x-api-key'), 'undefined');

    // ...and on a route that exists and authenticates: whoami says who Pharos thinks it is.
    const { status, body } = await getJson(`${pharos.baseUrl}/api/v1/auth/whoami`, {
      'x-api-key': 'undefined',
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.workspace, 'default');
    assert.equal(body.authenticated, false);
    const line = await pharos.waitForAccessLog((l) => l.path === '/api/v1/auth/whoami');
    assert.equal(line.status, 200);
    assert.equal(line.workspace, 'default');
  });
});

describe(`langsmith ${langsmithVersion}, keys required (auth.mode=required)`, () => {
  let pharos;
  let key;
  before(async () => {
    pharos = await startPharos({ args: ['--set', 'auth.mode=required'] });
    // Created while the server runs, as an operator would, in the server's data directory.
    const created = await runPharos(['keys', 'create', '--workspace', 'compat', '--label',
      'compat tests', '--data', pharos.dataDir]);
    assert.equal(created.code, 0, `keys create failed:\n${created.stdout}\n${created.stderr}`);
    key = /\bphk_[A-Za-z0-9]+_[A-Za-z0-9]+\b/.exec(created.stdout)?.[0];
    assert.ok(key, `no key in the output of keys create:\n${created.stdout}`);
  });
  after(async () => {
    await pharos?.stop();
  });

  test('a client without an API key is refused with 401', async () => {
    const since = pharos.mark();
    const { client } = langsmithClient(pharos.baseUrl);
    await assert.rejects(client.readProject({ projectName: 'x' }), (error) => {
      assert.match(String(error?.message), /401/, `${AUTH_BEFORE_404}; got: ${error}`);
      return true;
    });
    const line = await pharos.waitForAccessLog((l) => l.path === '/api/v1/sessions', { since });
    assert.equal(line.status, 401, AUTH_BEFORE_404);
  });

  test('whoami without a key, or with "undefined", is 401 with WWW-Authenticate', async () => {
    for (const headers of [{}, { 'x-api-key': 'undefined' }]) {
      const response = await fetch(`${pharos.baseUrl}/api/v1/auth/whoami`, { headers });
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
      const body = await response.json();
      assert.equal(body.error?.type, 'unauthorized');
    }
  });

  test('a client with a key from `pharos keys create` is served as its workspace', async () => {
    const since = pharos.mark();
    const { client, sent } = langsmithClient(pharos.baseUrl, { apiKey: key });
    await assert.rejects(client.readProject({ projectName: 'x' }), notFound);
    assert.equal(sent[0].headers.get('x-api-key'), key);
    const line = await pharos.waitForAccessLog((l) => l.path === '/api/v1/sessions', { since });
    assert.equal(line.status, 200);
    assert.equal(line.workspace, 'compat');

    // Authenticated before the 404 of an unknown path: attributed to the key's workspace.
    const response = await fetch(`${pharos.baseUrl}/api/v1/no-such-route`, {
      headers: { 'x-api-key': key },
    });
    assert.equal(response.status, 404);
    const unknown = await pharos.waitForAccessLog((l) => l.path === '/api/v1/no-such-route',
      { since });
    assert.equal(unknown.workspace, 'compat', AUTH_BEFORE_404);
  });

  test('GET /api/v1/auth/whoami with the key names workspace "compat"', async () => {
    for (const headers of [{ 'x-api-key': key }, { authorization: `Bearer ${key}` }]) {
      const { status, body } = await getJson(`${pharos.baseUrl}/api/v1/auth/whoami`, headers);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.workspace, 'compat');
      assert.equal(body.authenticated, true);
      assert.match(key, new RegExp(`^phk_${body.key_id}_`));
    }
  });

  test('a well-formed but unknown key is refused', async () => {
    const bogus = key.replace(/_[A-Za-z0-9]+$/, (secret) => `_${'x'.repeat(secret.length - 1)}`);
    const response = await fetch(`${pharos.baseUrl}/api/v1/auth/whoami`, {
      headers: { 'x-api-key': bogus },
    });
    assert.equal(response.status, 401);
  });
});

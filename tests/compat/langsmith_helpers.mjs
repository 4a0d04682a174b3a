// Helpers shared by the tests that drive Pharos with the real `langsmith` client: a client that
// records its own traffic (the client swallows ingest failures, so tests assert on what it sent
// and what Pharos answered), raw JSON calls, and the closing check on Pharos's own log.
import { test } from 'node:test';
import assert from 'node:assert/strict';

// A request body as text when it is a string or bytes (JSON bodies); undefined for a stream.
function bodyText(body) {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array || body instanceof ArrayBuffer) {
    return new TextDecoder().decode(body);
  }
  return undefined;
}

// A fetch that records {method, url, path, headers, body?, status, responseText?} of every call.
export function recordingFetch() {
  const sent = [];
  let inflight = 0;
  const fetchImpl = async (input, init = {}) => {
    const url = String(input);
    const entry = {
      method: (init.method ?? 'GET').toUpperCase(),
      url,
      path: new URL(url).pathname,
      headers: new Headers(init.headers),
      body: bodyText(init.body),
    };
    sent.push(entry);
    inflight += 1;
    try {
      const response = await fetch(input, init);
      entry.status = response.status;
      if (!response.ok) entry.responseText = await response.clone().text();
      return response;
    } catch (error) {
      entry.error = String(error);
      throw error;
    } finally {
      inflight -= 1;
    }
  };
  // Resolves once no request has been in flight for 100 ms (direct POST/PATCH /runs calls of
  // traceable are not awaited by awaitPendingTraceBatches).
  async function idle(timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    let quietSince = Date.now();
    for (;;) {
      if (inflight > 0) quietSince = Date.now();
      if (inflight === 0 && Date.now() - quietSince >= 100) return;
      if (Date.now() > deadline) throw new Error(`${inflight} request(s) still in flight`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return { sent, fetchImpl, idle };
}

// A LangSmith client against Pharos that records its traffic. Ingest uploads are not retried
// (callerOptions applies to the ingest caller), so a failure shows at once.
export async function recordingClient(pharos, config = {}) {
  // Imported here, not at the top: a test file sets up the LangSmith environment before the
  // client is first loaded.
  const { Client } = await import('langsmith');
  const recorder = recordingFetch();
  const client = new Client({
    apiUrl: `${pharos.baseUrl}/api/v1`,
    fetchImplementation: recorder.fetchImpl,
    callerOptions: { maxRetries: 0 },
    ...config,
  });
  return { client, ...recorder };
}

export function describeRequest(r) {
  return `${r.method} ${r.path} -> ${r.status ?? r.error}` +
    (r.responseText ? ` ${r.responseText.slice(0, 500)}` : '');
}

// Everything an async iterable (a client's paginated list) yields.
export async function collect(iterable) {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
}

export async function listAll(client, params) {
  const runs = [];
  for await (const run of client.listRuns(params)) runs.push(run);
  return runs;
}

export async function rawJson(pharos, method, path, body, headers = {}) {
  const response = await fetch(`${pharos.baseUrl}/api/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

// The last test of each describe: what the client could not see went wrong on the server either.
export function testServerLoggedNoErrors(getPharos) {
  test('Pharos logged no error and answered no 5xx', { timeout: 60_000 }, () => {
    const pharos = getPharos();
    const lines = pharos.logLines();
    const errors = lines.filter((l) => l.level === 'error' || l.level === 'fatal');
    assert.deepEqual(errors, [], 'error lines in Pharos\'s log');
    const failed = pharos.accessLog().filter((l) => l.status >= 500);
    assert.deepEqual(failed, [], '5xx answers');
  });
}


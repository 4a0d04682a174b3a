// A scriptable fake OpenAI-compatible upstream (node:http only, no dependencies) for testing the
// gateway against misbehaving providers.
//
// As a module:
//   const fake = await startFakeUpstream();          // port 0 picks a free port
//   fake.url                                          // http://127.0.0.1:PORT/v1
//   fake.script([{ status: 429, retry_after: 1 }, {}]); // queued; each /v1 request takes one
//   fake.stats(); fake.reset(); await fake.close();
//
// As a program (serves until killed):
//   node tests/fakes/fake_upstream.mjs --port 18001
//   -> fake upstream listening on http://127.0.0.1:18001
//
// Control over HTTP (for tests in any language):
//   POST /_fake/script   body: a JSON array of behaviours (or one behaviour), appended to the queue
//   GET  /_fake/stats    the stats below
//   POST /_fake/reset    empties the queue, zeroes the stats and the id counter
//
// Upstream endpoints: POST /v1/chat/completions (JSON, or SSE when body.stream === true),
// POST /v1/embeddings, GET /v1/models. Every request under /v1/ takes the next behaviour from the
// queue (none queued: a normal success). Answers are deterministic given the request and the
// number of requests since the last reset: content "Hello from <model>", ids chatcmpl-fake-<n>,
// a fixed `created`, usage counted from words, the request's model echoed back.
//
// Behaviour fields (all optional, combinable):
//   status         answer this HTTP status with an OpenAI-shaped error body
//                  {"error":{"message","type","param","code"}} (or `body` when given)
//   retry_after    seconds: sets Retry-After
//   headers        extra response headers
//   delay_ms       wait this long before the response head
//   hang           never answer; keep the socket open
//   reset          reset the connection (TCP RST) without answering
//   malformed      200 with the invalid JSON body {"id": "x", "choices": [
//   cut_after      stream: send the role chunk and this many content chunks, then drop the
//                  connection without a finish chunk or [DONE]; non-stream: send the head and
//                  half of the body, then drop the connection
//   first_chunk_delay_ms  stream: wait this long after the head before the first chunk
//   chunk_delay_ms stream: wait this long between chunks
//   chunks         number of content chunks (default 3)
//   content        the assistant's text (default "Hello from <model>")
//   usage_in_final_choice_chunk  stream: put `usage` in the finish chunk (whose choices are
//                  non-empty), as some vLLM / Anthropic-compatible servers do, and send no
//                  separate usage chunk
//   body           send this (an object: as JSON; a string: as is) as the response body
//   embedding      embeddings: this vector (an array of numbers) for every input, instead of
//                  the deterministic one made from the text
//
// Stats: { requests, by_path, cancelled, completed, queued, last_request: {method, path, headers,
// body}, log: [{ path, method, model, stream, headers, behaviour, started_at_ms, ended_at_ms,
// status, outcome, response }] }. `cancelled` counts requests whose client closed the connection
// before the response was complete; `completed` those whose response was sent in full. `outcome`
// is one of ok, error (a scripted status), malformed, body, reset, cut, cancelled, pending
// (still being answered, e.g. hang), bad_request, not_found. `response` is the body text sent
// (the whole SSE text for a stream), so a test can compare what a client got with it.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CREATED = 1_700_000_000;
const DEFAULT_MODELS = ['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small'];

const ERROR_KINDS = {
  400: ['invalid_request_error', 'invalid_request'],
  401: ['invalid_request_error', 'invalid_api_key'],
  403: ['invalid_request_error', 'forbidden'],
  404: ['invalid_request_error', 'model_not_found'],
  408: ['timeout', 'timeout'],
  409: ['invalid_request_error', 'conflict'],
  422: ['invalid_request_error', 'unprocessable_entity'],
  429: ['requests', 'rate_limit_exceeded'],
  500: ['server_error', 'internal_error'],
  502: ['server_error', 'bad_gateway'],
  503: ['server_error', 'service_unavailable'],
  504: ['server_error', 'gateway_timeout'],
};

function errorBody(status) {
  const [type, code] = ERROR_KINDS[status] ??
    (status >= 500 ? ['server_error', 'server_error'] : ['invalid_request_error', `http_${status}`]);
  return {
    error: {
      message: `fake upstream: scripted ${status} ${http.STATUS_CODES[status] ?? ''}`.trim(),
      type,
      param: null,
      code,
    },
  };
}

function words(text) {
  return String(text).split(/\s+/).filter(Boolean).length;
}

function messageText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => (typeof part?.text === 'string' ? part.text : '')).join(' ');
  }
  return '';
}

function promptTokens(body) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  return messages.reduce((sum, m) => sum + 1 + words(messageText(m?.content)), 0);
}

// `text` in `n` consecutive pieces (some empty when the text is shorter than n).
export function splitContent(text, n) {
  const count = Math.max(1, Math.floor(n));
  const pieces = [];
  for (let i = 0; i < count; i += 1) {
    pieces.push(text.slice(Math.floor((i * text.length) / count),
      Math.floor(((i + 1) * text.length) / count)));
  }
  return pieces;
}

// FNV-1a, then mulberry32: a deterministic embedding for a text.
function embed(text, dimensions) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let state = h;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const v = Array.from({ length: dimensions }, () => next() * 2 - 1);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  // Rounded through float32 so the float and base64 encodings carry the same numbers.
  return Array.from(new Float32Array(v.map((x) => x / norm)));
}

function embeddingInputs(input) {
  if (typeof input === 'string') return [{ text: input, tokens: words(input) || 1 }];
  if (Array.isArray(input)) {
    if (input.every((x) => typeof x === 'number')) {
      return [{ text: JSON.stringify(input), tokens: input.length }];
    }
    return input.map((x) => (typeof x === 'string'
      ? { text: x, tokens: words(x) || 1 }
      : { text: JSON.stringify(x), tokens: Array.isArray(x) ? x.length : 1 }));
  }
  return [{ text: JSON.stringify(input ?? ''), tokens: 1 }];
}

/**
 * Starts the fake on 127.0.0.1:`port` (0: a free port). `models` is what GET /v1/models lists.
 */
export async function startFakeUpstream({ port = 0, models = DEFAULT_MODELS } = {}) {
  let queue = [];
  let counter = 0;
  let stats;
  const sockets = new Set();

  function freshStats() {
    return { requests: 0, by_path: {}, cancelled: 0, completed: 0, last_request: null, log: [] };
  }
  stats = freshStats();

  function sendJson(res, status, value, extraHeaders = {}) {
    const text = JSON.stringify(value);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...extraHeaders,
    });
    res.end(text);
    return text;
  }

  async function readBody(req) {
    const parts = [];
    for await (const part of req) parts.push(part);
    return Buffer.concat(parts).toString('utf8');
  }

  // ---- control API --------------------------------------------------------------------------

  function script(behaviours) {
    const list = Array.isArray(behaviours) ? behaviours : [behaviours];
    for (const b of list) {
      if (b === null || typeof b !== 'object' || Array.isArray(b)) {
        throw new TypeError(`a behaviour is an object, got ${JSON.stringify(b)}`);
      }
    }
    queue.push(...list.map((b) => structuredClone(b)));
    return queue.length;
  }

  function snapshot() {
    return structuredClone({ ...stats, queued: queue.length });
  }

  function reset() {
    queue = [];
    counter = 0;
    stats = freshStats();
  }

  async function control(req, res, url) {
    const text = await readBody(req);
    if (req.method === 'POST' && url.pathname === '/_fake/script') {
      let parsed;
      try {
        parsed = JSON.parse(text);
        const queued = script(parsed);
        sendJson(res, 200, { queued });
      } catch (error) {
        sendJson(res, 400, { error: { message: String(error.message ?? error), type: 'invalid_request_error', param: null, code: 'bad_script' } });
      }
      return;
    }
    if (req.method === 'GET' && url.pathname === '/_fake/stats') {
      sendJson(res, 200, snapshot());
      return;
    }
    if (req.method === 'POST' && url.pathname === '/_fake/reset') {
      reset();
      sendJson(res, 200, { ok: true });
      return;
    }
    sendJson(res, 404, { error: { message: `no control route ${req.method} ${url.pathname}`, type: 'invalid_request_error', param: null, code: 'not_found' } });
  }

  // ---- upstream ------------------------------------------------------------------------------

  function chatResponse(body, b, id) {
    const model = body.model ?? 'fake-model';
    const content = b.content ?? `Hello from ${model}`;
    const n = Number.isInteger(body.n) && body.n > 0 ? body.n : 1;
    const prompt = promptTokens(body);
    const completion = Math.max(1, words(content)) * n;
    return {
      id,
      object: 'chat.completion',
      created: CREATED,
      model,
      system_fingerprint: 'fp_fake',
      choices: Array.from({ length: n }, (_, index) => ({
        index,
        message: { role: 'assistant', content, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      })),
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    };
  }

  async function handleUpstream(req, res, url, entry, ctx) {
    const text = await readBody(req);
    let body = {};
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        stats.last_request = { method: req.method, path: url.pathname, headers: { ...req.headers }, body: text };
        entry.outcome = 'bad_request';
        entry.status = 400;
        entry.response = sendJson(res, 400, { error: { message: 'fake upstream: the request body is not JSON', type: 'invalid_request_error', param: null, code: 'invalid_json' } });
        return;
      }
    }
    stats.last_request = { method: req.method, path: url.pathname, headers: { ...req.headers }, body };
    entry.model = body?.model ?? null;
    entry.stream = body?.stream === true;
    const b = queue.length > 0 ? queue.shift() : {};
    entry.behaviour = b;

    const headers = { 'x-request-id': `req_fake_${stats.requests}`, ...(b.headers ?? {}) };
    if (b.retry_after !== undefined) headers['retry-after'] = String(b.retry_after);

    if (b.hang) {
      entry.outcome = 'pending';
      return; // the socket stays open until the client gives up (or close())
    }
    if (b.delay_ms > 0) {
      await ctx.sleep(b.delay_ms);
      if (ctx.closed) return;
    }
    if (b.reset) {
      entry.outcome = 'reset';
      ctx.selfClosed = true;
      if (typeof req.socket.resetAndDestroy === 'function') req.socket.resetAndDestroy();
      else req.socket.destroy();
      return;
    }
    if (b.status !== undefined) {
      entry.outcome = 'error';
      entry.status = b.status;
      if (b.body !== undefined) {
        entry.response = sendRaw(res, b.status, b.body, headers);
      } else {
        entry.response = sendJson(res, b.status, errorBody(b.status), headers);
      }
      return;
    }
    if (b.malformed) {
      entry.outcome = 'malformed';
      entry.status = 200;
      entry.response = sendRaw(res, 200, '{"id": "x", "choices": [', headers);
      return;
    }
    if (b.body !== undefined) {
      entry.outcome = 'body';
      entry.status = 200;
      entry.response = sendRaw(res, 200, b.body, headers);
      return;
    }

    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /v1/chat/completions') {
      counter += 1;
      const id = `chatcmpl-fake-${counter}`;
      if (entry.stream) {
        await streamChat(res, body, b, id, headers, entry, ctx);
        return;
      }
      const response = chatResponse(body, b, id);
      entry.status = 200;
      if (b.cut_after !== undefined) {
        const full = JSON.stringify(response);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(full), ...headers });
        const half = full.slice(0, Math.floor(full.length / 2));
        res.write(half);
        entry.response = half;
        entry.outcome = 'cut';
        ctx.selfClosed = true;
        setImmediate(() => res.destroy());
        return;
      }
      entry.outcome = 'ok';
      entry.response = sendJson(res, 200, response, headers);
      return;
    }
    if (route === 'POST /v1/embeddings') {
      counter += 1;
      const model = body.model ?? 'fake-embedding';
      const dimensions = Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : 8;
      const inputs = embeddingInputs(body.input);
      const tokens = inputs.reduce((s, x) => s + x.tokens, 0);
      const base64 = body.encoding_format === 'base64';
      const response = {
        object: 'list',
        data: inputs.map((x, index) => {
          const v = Array.isArray(b.embedding) ? b.embedding : embed(x.text, dimensions);
          return {
            object: 'embedding',
            index,
            embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
          };
        }),
        model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      };
      entry.outcome = 'ok';
      entry.status = 200;
      entry.response = sendJson(res, 200, response, headers);
      return;
    }
    if (route === 'GET /v1/models') {
      entry.outcome = 'ok';
      entry.status = 200;
      entry.response = sendJson(res, 200, {
        object: 'list',
        data: models.map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'fake-upstream' })),
      }, headers);
      return;
    }
    entry.outcome = 'not_found';
    entry.status = 404;
    entry.response = sendJson(res, 404, { error: { message: `fake upstream: no route ${route}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } }, headers);
  }

  function sendRaw(res, status, body, headers) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
    return text;
  }

  async function streamChat(res, body, b, id, headers, entry, ctx) {
    const model = body.model ?? 'fake-model';
    const content = b.content ?? `Hello from ${model}`;
    const n = Number.isInteger(body.n) && body.n > 0 ? body.n : 1;
    const pieces = splitContent(content, b.chunks ?? 3);
    const includeUsage = body.stream_options?.include_usage === true;
    const prompt = promptTokens(body);
    const completion = Math.max(1, words(content)) * n;
    const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    const chunk = (choices, extra = {}) => ({
      id,
      object: 'chat.completion.chunk',
      created: CREATED,
      model,
      system_fingerprint: 'fp_fake',
      choices,
      ...(includeUsage ? { usage: null } : {}),
      ...extra,
    });
    const perChoice = (make) => Array.from({ length: n }, (_, index) => make(index));

    entry.status = 200;
    entry.response = '';
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...headers,
    });
    res.flushHeaders(); // the head goes now, not with the first chunk
    const send = (data) => {
      const text = `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
      entry.response += text;
      res.write(text);
    };
    let sent = 0;
    const pause = async (ms) => {
      if (ms > 0) await ctx.sleep(ms);
      return !ctx.closed;
    };

    if (!(await pause(b.first_chunk_delay_ms ?? 0))) return;
    send(chunk(perChoice((index) => ({
      index, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null,
    }))));
    for (const piece of pieces) {
      if (b.cut_after !== undefined && sent >= b.cut_after) break;
      if (!(await pause(b.chunk_delay_ms ?? 0))) return;
      send(chunk(perChoice((index) => ({
        index, delta: { content: piece }, logprobs: null, finish_reason: null,
      }))));
      sent += 1;
    }
    if (b.cut_after !== undefined) {
      entry.outcome = 'cut';
      ctx.selfClosed = true;
      // Let the written chunks leave before the connection drops.
      setTimeout(() => res.destroy(), 20);
      return;
    }
    if (!(await pause(b.chunk_delay_ms ?? 0))) return;
    if (b.usage_in_final_choice_chunk) {
      send(chunk(perChoice((index) => ({ index, delta: {}, logprobs: null, finish_reason: 'stop' })), { usage }));
    } else {
      send(chunk(perChoice((index) => ({ index, delta: {}, logprobs: null, finish_reason: 'stop' }))));
      if (includeUsage) {
        if (!(await pause(b.chunk_delay_ms ?? 0))) return;
        send(chunk([], { usage }));
      }
    }
    send('[DONE]');
    entry.outcome = 'ok';
    res.end();
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname.startsWith('/_fake/')) {
      await control(req, res, url);
      return;
    }
    stats.requests += 1;
    stats.by_path[url.pathname] = (stats.by_path[url.pathname] ?? 0) + 1;
    const entry = {
      path: url.pathname,
      method: req.method,
      model: null,
      stream: false,
      headers: { ...req.headers },
      behaviour: null,
      started_at_ms: Date.now(),
      ended_at_ms: null,
      status: null,
      outcome: 'pending',
      response: null,
    };
    stats.log.push(entry);
    const currentStats = stats;
    const timers = new Set();
    const ctx = {
      closed: false,
      selfClosed: false,
      sleep: (ms) => new Promise((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, ms);
        timers.add(timer);
        ctx.wake = resolve;
      }),
    };
    res.on('close', () => {
      ctx.closed = true;
      for (const timer of timers) clearTimeout(timer);
      ctx.wake?.();
      entry.ended_at_ms = Date.now();
      if (res.writableFinished) {
        currentStats.completed += 1;
      } else if (!ctx.selfClosed) {
        currentStats.cancelled += 1;
        entry.outcome = 'cancelled';
      }
    });
    try {
      await handleUpstream(req, res, url, entry, ctx);
    } catch (error) {
      // A client that went away mid-body, for example.
      if (!res.headersSent && !ctx.closed) {
        sendJson(res, 500, { error: { message: `fake upstream: ${error}`, type: 'server_error', param: null, code: 'fake_error' } });
      } else {
        res.destroy();
      }
    }
  });
  server.keepAliveTimeout = 5_000;
  server.requestTimeout = 0; // `hang` means hang
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = server.address().port;

  async function close() {
    await new Promise((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  }

  return {
    url: `http://127.0.0.1:${actualPort}/v1`,
    origin: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    script,
    stats: snapshot,
    reset,
    close,
  };
}

// ---- command line --------------------------------------------------------------------------

const invokedDirectly =
  process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);

if (invokedDirectly) {
  const args = process.argv.slice(2);
  let port = 0;
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === '--port' && i + 1 < args.length) {
      port = Number(args[++i]);
    } else if (args[i].startsWith('--port=')) {
      port = Number(args[i].slice('--port='.length));
    } else {
      console.error(`usage: node ${path.basename(process.argv[1])} [--port N]`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`fake upstream: bad port ${port}`);
    process.exit(2);
  }
  const fake = await startFakeUpstream({ port });
  console.log(`fake upstream listening on http://127.0.0.1:${fake.port}`);
  const stop = async () => {
    await fake.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

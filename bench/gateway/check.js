#!/usr/bin/env node
// Correctness check before the gateway benchmark: one plain and one streamed chat completion
// through BASE_URL must carry the mock upstream's answer unchanged (content, usage, finish
// reason; for the stream: the content deltas joined, a usage chunk and `data: [DONE]`).
// Usage: node check.js BASE_URL ["Name: value|Name2: value2"]. Prints "ok ..." or the problem and
// exits 1.
'use strict';
const [base, headerText = ''] = process.argv.slice(2);
const CONTENT = 'Hello! This is a fixed reply from the mock upstream.';  // mock-server.js
const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-mock-key' };
for (const item of headerText.split('|')) {
  const m = /^\s*([^:]+):\s*(.*?)\s*$/.exec(item);
  if (m) headers[m[1]] = m[2];
}
const body = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'system', content: 'You are a helpful assistant.' },
             { role: 'user', content: 'Say hello in one short sentence.' }],
  max_tokens: 32, temperature: 0,
};

async function main() {
  const problems = [];
  const extra = [];
  let r = await fetch(base + '/v1/chat/completions', { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await r.text();
  let j = null;
  try { j = JSON.parse(text); } catch (e) { problems.push(`json: not JSON: ${text.slice(0, 200)}`); }
  if (r.status !== 200) problems.push(`json: HTTP ${r.status}`);
  if (j) {
    if (j.object !== 'chat.completion') problems.push(`json: object ${j.object}`);
    if (j.choices?.[0]?.message?.content !== CONTENT) problems.push('json: content differs');
    if (j.choices?.[0]?.finish_reason !== 'stop') problems.push('json: finish_reason differs');
    if (j.usage?.total_tokens !== 23) problems.push('json: usage differs');
  }
  const overhead = r.headers.get('x-pharos-overhead-ms');
  if (overhead !== null) extra.push(`x-pharos-overhead-ms ${overhead}`);

  r = await fetch(base + '/v1/chat/completions', {
    method: 'POST', headers,
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  });
  const sse = await r.text();
  if (r.status !== 200) problems.push(`stream: HTTP ${r.status}`);
  if (!(r.headers.get('content-type') || '').startsWith('text/event-stream')) {
    problems.push(`stream: content-type ${r.headers.get('content-type')}`);
  }
  const events = sse.split(/\r?\n\r?\n/).filter((e) => e.trim()).map((e) => e.replace(/^data: ?/, ''));
  if (events[events.length - 1] !== '[DONE]') problems.push('stream: does not end with [DONE]');
  let joined = '', usage = null, finish = null, bad = 0;
  for (const e of events.slice(0, -1)) {
    let c;
    try { c = JSON.parse(e); } catch (err) { bad++; continue; }
    for (const ch of c.choices || []) {
      if (ch.delta?.content) joined += ch.delta.content;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
    if (c.usage) usage = c.usage;
  }
  if (bad) problems.push(`stream: ${bad} events are not JSON`);
  if (joined !== CONTENT) problems.push(`stream: content differs: ${JSON.stringify(joined)}`);
  if (finish !== 'stop') problems.push('stream: no finish_reason stop');
  if (usage?.total_tokens !== 23) problems.push('stream: no usage chunk');
  if (problems.length) {
    console.log('FAILED: ' + problems.join('; '));
    process.exit(1);
  }
  console.log(`ok (json and stream: content, usage, finish; ${events.length} events${extra.length ? '; ' + extra.join(', ') : ''})`);
}
main().catch((e) => { console.log('FAILED: ' + e.message); process.exit(1); });

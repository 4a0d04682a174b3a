#!/usr/bin/env node
// Summary of bench/gateway/run.sh: capacity ratios, added latency at one connection, time to first
// byte, RSS, CPU per request, and the issue's targets.
// Usage: node summary.js results.jsonl resources.jsonl curl.txt RSS_JSON CONNECTIONS
'use strict';
const fs = require('fs');
const [wrkFile, resFile, curlFile, rssJson, conns] = process.argv.slice(2);
const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim());
// Cells are labelled "c64-json-pharos#2" (round 2); rounds are merged: medians of requests/s and
// of each latency percentile, sums of requests, errors and CPU time, the highest RSS.
const median = (xs) => {
  const a = [...xs].sort((m, n) => m - n);
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};
const group = (rows) => {
  const g = {};
  for (const r of rows) (g[r.label.split('#')[0]] ||= []).push(r);
  return g;
};
const wrk = {};
for (const [label, rs] of Object.entries(group(lines(wrkFile).map(JSON.parse)))) {
  const lat = {};
  for (const k of Object.keys(rs[0].latency_us)) lat[k] = median(rs.map((r) => r.latency_us[k]));
  const errors = {};
  for (const k of Object.keys(rs[0].errors)) errors[k] = rs.reduce((a, r) => a + r.errors[k], 0);
  wrk[label] = {
    label, rps: median(rs.map((r) => r.rps)), rounds: rs.map((r) => r.rps),
    requests: rs.reduce((a, r) => a + r.requests, 0), bytes: rs.reduce((a, r) => a + r.bytes, 0),
    latency_us: lat, errors,
  };
}
const res = {};
for (const [label, rs] of Object.entries(group(lines(resFile).map(JSON.parse)))) {
  const sum = (k) => rs.reduce((a, r) => a + r[k], 0);
  res[label] = { label, secs: sum('secs'), gw_cpu: sum('gw_cpu'), mock_cpu: sum('mock_cpu'),
                 machine_cpu: sum('machine_cpu'), non2xx: sum('non2xx'),
                 rss_peak_kb: Math.max(...rs.map((r) => r.rss_peak_kb)) };
}
const rss = JSON.parse(rssJson);
const targets = [...new Set(Object.keys(wrk).map((l) => l.split('-').slice(2).join('-')))];
const gateways = targets.filter((t) => t !== 'direct');
const pharosVariants = gateways.filter((t) => t.startsWith('pharos'));

const f0 = (x) => (x === undefined || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const f2 = (x) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(2));
const f3 = (x) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(3));
const pct = (a, b) => (a && b ? (100 * a / b).toFixed(1) + '%' : '–');
const ms = (us) => us / 1000;
const sign = (x) => (x === undefined || Number.isNaN(x) ? '–' : (x >= 0 ? '+' : '') + x.toFixed(3));

let out = '';
const p = (s = '') => { out += s + '\n'; };

// ---- capacity
p(`== capacity: wrk -c${conns}, requests/s (share of direct) ==`);
p('| target | json req/s | json of direct | stream req/s | stream of direct | json p99 ms | stream p99 ms | gateway cores (json / stream) | gateway CPU µs/req (json / stream) | mock cores (json) | machine busy (json) | errors | req/s per round (json; stream) |');
p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|');
const cap = (sc, t) => wrk[`c${conns}-${sc}-${t}`];
const capRes = (sc, t) => res[`c${conns}-${sc}-${t}`];
for (const t of targets) {
  const j = cap('json', t), s = cap('stream', t), jr = capRes('json', t), sr = capRes('stream', t);
  const cores = (r) => (r ? r.gw_cpu / r.secs : undefined);
  const usPer = (r, w) => (r && w && t !== 'direct' ? (r.gw_cpu * 1e6) / w.requests : undefined);
  const errs = [j, s].filter(Boolean).map((w) => {
    const e = w.errors; const n = e.connect + e.read + e.write + e.status + e.timeout;
    return n ? `${n} (c/r/w/status/t ${e.connect}/${e.read}/${e.write}/${e.status}/${e.timeout})` : '0';
  }).join(' / ');
  p(`| ${t} | ${f0(j?.rps)} | ${pct(j?.rps, cap('json', 'direct')?.rps)} | ${f0(s?.rps)} | ${pct(s?.rps, cap('stream', 'direct')?.rps)} | ` +
    `${j ? f2(ms(j.latency_us.p99)) : '–'} | ${s ? f2(ms(s.latency_us.p99)) : '–'} | ` +
    `${t === 'direct' ? '–' : f2(cores(jr)) + ' / ' + f2(cores(sr))} | ${t === 'direct' ? '–' : f0(usPer(jr, j)) + ' / ' + f0(usPer(sr, s))} | ` +
    `${jr ? f2(jr.mock_cpu / jr.secs) : '–'} | ${jr ? f2(jr.machine_cpu / jr.secs) : '–'} | ${errs} | ` +
    `${[j, s].map((w) => (w ? w.rounds.map(f0).join(', ') : '–')).join('; ')} |`);
}
p();
p('bytes per response as wrk received them, headers included (json / stream): ' + targets.map((t) => {
  const b = (sc) => { const w = cap(sc, t); return w ? f0(w.bytes / w.requests) : '–'; };
  return `${t} ${b('json')} / ${b('stream')}`;
}).join('; '));
p();
for (const v of pharosVariants) {
  for (const sc of ['json', 'stream']) {
    const a = cap(sc, v), d = cap(sc, 'direct'), k = cap(sc, 'portkey');
    if (!a) continue;
    p(`${v} ${sc}: ${pct(a.rps, d?.rps)} of direct` + (k ? `, ${(a.rps / k.rps).toFixed(1)}× Portkey (Portkey: ${pct(k.rps, d?.rps)} of direct)` : ''));
  }
}

// ---- one connection (wrk)
p();
p('== one connection: wrk -t1 -c1, latency ms (added = via gateway − direct) ==');
p('| target | json p50 | json p99 | added p50 | added p99 | stream p50 | stream p99 | added p50 | added p99 | json req/s |');
p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const t of targets) {
  const j = wrk[`c1-json-${t}`], s = wrk[`c1-stream-${t}`];
  const dj = wrk['c1-json-direct'], ds = wrk['c1-stream-direct'];
  const add = (a, d, q) => (a && d && t !== 'direct' ? sign(ms(a.latency_us[q] - d.latency_us[q])) : '–');
  p(`| ${t} | ${j ? f3(ms(j.latency_us.p50)) : '–'} | ${j ? f3(ms(j.latency_us.p99)) : '–'} | ${add(j, dj, 'p50')} | ${add(j, dj, 'p99')} | ` +
    `${s ? f3(ms(s.latency_us.p50)) : '–'} | ${s ? f3(ms(s.latency_us.p99)) : '–'} | ${add(s, ds, 'p50')} | ${add(s, ds, 'p99')} | ${f0(j?.rps)} |`);
}

// ---- curl samples
const samples = {};
for (const l of lines(curlFile)) {
  // "target mode seconds [x-pharos-overhead-ms] http_code num_connects"
  const f = l.trim().split(/\s+/);
  const [t, mode, secs] = f;
  const overhead = f.length === 6 ? parseFloat(f[3]) : NaN;
  const code = f[f.length - 2];
  const k = `${t} ${mode}`;
  (samples[k] ||= { s: [], o: [], bad: 0 });
  if (code !== '200') samples[k].bad++;
  samples[k].s.push(parseFloat(secs) * 1000);
  if (!Number.isNaN(overhead)) samples[k].o.push(overhead);
}
const q = (arr, x) => {
  if (!arr.length) return NaN;
  const a = [...arr].sort((m, n) => m - n);
  return a[Math.min(a.length - 1, Math.max(0, Math.ceil(x * a.length) - 1))];
};
p();
p('== curl, one keep-alive connection: stream time to first byte, json total time, ms ==');
p('| target | samples | stream TTFB p50 | p99 | added p50 | added p99 | json p50 | p99 | added p50 | added p99 | x-pharos-overhead-ms p50 / p99 (stream; json) |');
p('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const t of targets) {
  const st = samples[`${t} stream`], js = samples[`${t} json`];
  const ds = samples['direct stream'], dj = samples['direct json'];
  if (!st || !js) continue;
  const add = (a, d, x) => (t === 'direct' ? '–' : sign(q(a.s, x) - q(d.s, x)));
  const ov = st.o.length ? `${f3(q(st.o, 0.5))} / ${f3(q(st.o, 0.99))}; ${f3(q(js.o, 0.5))} / ${f3(q(js.o, 0.99))}` : '';
  p(`| ${t} | ${st.s.length} + ${js.s.length}${st.bad + js.bad ? ` (${st.bad + js.bad} non-200)` : ''} | ${f3(q(st.s, 0.5))} | ${f3(q(st.s, 0.99))} | ${add(st, ds, 0.5)} | ${add(st, ds, 0.99)} | ` +
    `${f3(q(js.s, 0.5))} | ${f3(q(js.s, 0.99))} | ${add(js, dj, 0.5)} | ${add(js, dj, 0.99)} | ${ov} |`);
}

// ---- RSS
p();
p('== RSS, MiB ==');
p('| gateway | idle (after the checks) | peak during the load cells (sampled every 100 ms) | VmHWM at the end | at the end: anonymous / file-backed |');
p('|---|---:|---:|---:|---|');
for (const t of gateways) {
  const peaks = Object.values(res).filter((r) => r.label.endsWith(`-${t}`) && r.label.split('-').slice(2).join('-') === t).map((r) => r.rss_peak_kb);
  p(`| ${t} | ${rss[t] ? f2(rss[t].idle_kb / 1024) : '–'} | ${f2(Math.max(...peaks) / 1024)} | ${rss[t] ? f2(rss[t].hwm_kb / 1024) : '–'} | ${rss[t] ? f2(rss[t].anon_kb / 1024) + ' / ' + f2(rss[t].file_kb / 1024) : '–'} |`);
}

// ---- targets
p();
p('== targets (issue 5) ==');
for (const v of pharosVariants) {
  const jr = cap('json', v)?.rps / cap('json', 'direct')?.rps, sr = cap('stream', v)?.rps / cap('stream', 'direct')?.rps;
  const j1 = wrk[`c1-json-${v}`], d1 = wrk['c1-json-direct'];
  const addP99 = j1 && d1 ? ms(j1.latency_us.p99 - d1.latency_us.p99) : NaN;
  const st = samples[`${v} stream`], ds = samples['direct stream'];
  const ttfb50 = st && ds ? q(st.s, 0.5) - q(ds.s, 0.5) : NaN;
  const ttfb99 = st && ds ? q(st.s, 0.99) - q(ds.s, 0.99) : NaN;
  const hwm = rss[v] ? rss[v].hwm_kb / 1024 : NaN;
  const ok = (b) => (b ? 'met' : 'NOT met');
  p(`${v}: throughput ≥ 40% of direct: json ${pct(jr, 1)}, stream ${pct(sr, 1)} -> ${ok(jr >= 0.4 && sr >= 0.4)}; ` +
    `added p99 at 1 connection < 1 ms: ${sign(addP99)} ms -> ${ok(addP99 < 1)}; ` +
    `added TTFB < 1 ms: p50 ${sign(ttfb50)}, p99 ${sign(ttfb99)} ms -> ${ok(ttfb50 < 1)} (p50), ${ok(ttfb99 < 1)} (p99); ` +
    `RSS < 100 MB: ${f2(hwm)} MiB -> ${ok(hwm * 1.048576 < 100)}`);
}
process.stdout.write(out);

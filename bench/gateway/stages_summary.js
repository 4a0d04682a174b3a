// Summarizes bench/gateway/stages.sh: medians over rounds, the stages' cost, cache-hit latency.
const fs = require('node:fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const pick = (prefix, field) => median(rows.filter((r) => r.label.startsWith(prefix + '-r')).map((r) => r[field]));
const errors = rows.reduce((s, r) => s + r.errors, 0);
for (const mode of ['json', 'stream']) {
  const off = pick(`minimal-${mode}`, 'rps');
  const on = pick(`stages-${mode}`, 'rps');
  console.log(`  ${mode.padEnd(6)} minimal ${off.toFixed(0)} req/s, all stages ${on.toFixed(0)} req/s: the stages cost ${((1 - on / off) * 100).toFixed(1)}% (target < 20%)`);
}
const ms = (us) => (us / 1000).toFixed(3);
const hit = (t) => `p50 ${ms(pick(`${t}-hit`, 'p50_us'))} ms, p99 ${ms(pick(`${t}-hit`, 'p99_us'))} ms, ${pick(`${t}-hit`, 'rps').toFixed(0)} req/s`;
console.log(`  one connection, the same request: direct to the mock ${hit('direct')}`);
console.log(`                                    minimal Pharos (upstream each time) ${hit('minimal')}`);
console.log(`                                    exact-cache hit through the stages ${hit('stages')}`);
console.log(`  wrk errors (non-2xx, timeouts): ${errors}`);

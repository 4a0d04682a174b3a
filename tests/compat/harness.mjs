// Starts and stops a real Pharos for the compatibility tests.
//
//   const pharos = await startPharos({ args: ['--set', 'auth.mode=required'] });
//   await fetch(`${pharos.baseUrl}/healthz`);
//   const line = await pharos.waitForAccessLog((l) => l.path === '/healthz');
//   await pharos.stop();
//
// The binary is $PHAROS_BIN (ctest sets it), else build/release/src/app/pharos of this checkout.
// Every server gets a fresh data directory and runs in it, so no ./pharos.toml or ./.env of the
// developer's is picked up; inherited PHAROS_* variables are dropped for the same reason.
import { spawn, execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const pharosBin =
  process.env.PHAROS_BIN || path.resolve(here, '../../build/release/src/app/pharos');

const BANNER = /^Pharos \S+ listening on http:\/\/127\.0\.0\.1:(\d+) /m;
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 15_000; // the server's default shutdown grace is 10 s

// Throws a clear error when `npm ci` has not been run here (scripts/setup.sh runs it).
export function requireInstalled() {
  const manifest = JSON.parse(readFileSync(path.join(here, 'package.json'), 'utf8'));
  const missing = Object.keys(manifest.devDependencies ?? {}).filter(
    (name) => !existsSync(path.join(here, 'node_modules', name, 'package.json')),
  );
  if (missing.length > 0) {
    throw new Error(
      `tests/compat/node_modules lacks ${missing.join(', ')}: run scripts/setup.sh ` +
        '(or `npm ci` in tests/compat) first',
    );
  }
}

function requireBinary() {
  if (!existsSync(pharosBin)) {
    throw new Error(
      `Pharos binary not found at ${pharosBin}: build it (cmake --build --preset release) ` +
        'or point PHAROS_BIN at one',
    );
  }
}

// The environment for a Pharos process: ours without PHAROS_* (except what `env` sets).
function childEnv(env) {
  const out = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('PHAROS_')) out[name] = value;
  }
  return { ...out, ...env };
}

// Servers still running when the test process exits are killed, so none outlives a failed test.
const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function parseJsonLines(text) {
  const lines = [];
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(raw));
    } catch {
      // a partial line still being written
    }
  }
  return lines;
}

/**
 * Starts `pharos serve --listen 127.0.0.1:0 --otlp-grpc-listen 127.0.0.1:0 --data <dir> ...args`;
 * the result carries both ports (grpcPort for OTLP/gRPC).
 * options.args: extra arguments; options.env: extra environment; options.dataDir: use this data
 * directory (kept on stop) instead of a fresh temporary one (removed on stop).
 */
export async function startPharos({ args = [], env = {}, dataDir } = {}) {
  requireBinary();
  const ownsDataDir = dataDir === undefined;
  const dir = dataDir ?? (await mkdtemp(path.join(tmpdir(), 'pharos-compat-')));
  const child = spawn(pharosBin, ['serve', '--listen', '127.0.0.1:0', '--otlp-grpc-listen', '127.0.0.1:0',
                                   '--data', dir, ...args], {
    cwd: dir,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });

  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no banner within ${START_TIMEOUT_MS} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = BANNER.exec(stdout);
      // The banner is one write, but a pipe may split it: wait for its last line.
      if (match && stdout.includes('Operations:')) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`pharos exited (code ${code}, signal ${signal}) before listening\n` +
                       `stdout:\n${stdout}\nstderr:\n${stderr}`));
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });

  const baseUrl = `http://127.0.0.1:${port}`;
  const logLines = () => parseJsonLines(stderr);
  const accessLog = () => logLines().filter((line) => line.msg === 'request');

  // Log lines are written by a background thread: wait for the one we expect to appear.
  // `since` (from mark()) skips the lines logged before it.
  async function waitForLog(predicate,
                            { timeoutMs = 5_000, what = 'a matching log line', since = 0 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = logLines().slice(since).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`${what} did not appear in Pharos's log within ${timeoutMs} ms; ` +
                        `stderr so far:\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  // OTLP exports are acknowledged once durable in the span log and stored as runs just behind:
  // waits until every span acknowledged so far has been stored (or dropped, with a log line).
  async function otlpMaterialized({ timeoutMs = 10_000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const page = await (await fetch(`${baseUrl}/metrics`)).text();
      const sample = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(page)?.[1] ?? NaN);
      const accepted = sample('pharos_otlp_spans_accepted_total');
      const done = sample('pharos_otlp_spans_materialized_total') +
        sample('pharos_otlp_spans_dropped_total');
      if (done >= accepted) return;
      if (Date.now() > deadline) {
        throw new Error(`accepted OTLP spans not stored as runs within ${timeoutMs} ms:\n${page}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  let stopping;
  async function stop() {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const result = await exited;
      clearTimeout(timer);
      if (ownsDataDir) await rm(dir, { recursive: true, force: true });
      return result;
    })();
    return stopping;
  }

  const grpcMatch = /gRPC on http:\/\/[^ ]+:(\d+)/.exec(stdout);
  return {
    baseUrl,
    port,
    grpcPort: grpcMatch ? Number(grpcMatch[1]) : undefined,
    otlpMaterialized,
    dataDir: dir,
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    logLines,
    accessLog,
    // The number of log lines so far: pass as `since` to wait only for later ones.
    mark: () => logLines().length,
    waitForLog,
    waitForAccessLog: (predicate, options = {}) =>
      waitForLog((line) => line.msg === 'request' && predicate(line), {
        what: 'the access-log line',
        ...options,
      }),
    stop,
    exited,
  };
}

/**
 * Runs a one-shot command (`pharos keys create ...`) and resolves to {code, stdout, stderr};
 * never rejects on a non-zero exit, so tests can assert on failures too.
 */
export async function runPharos(args, { env = {}, cwd, timeoutMs = 30_000 } = {}) {
  requireBinary();
  const workDir = cwd ?? (await mkdtemp(path.join(tmpdir(), 'pharos-cli-')));
  try {
    return await new Promise((resolve, reject) => {
      execFile(pharosBin, args, { cwd: workDir, env: childEnv(env), timeout: timeoutMs },
        (error, stdout, stderr) => {
          if (error && typeof error.code !== 'number') {
            reject(new Error(`${pharosBin} ${args.join(' ')}: ${error.message}\n${stderr}`));
            return;
          }
          resolve({ code: error ? error.code : 0, stdout, stderr });
        });
    });
  } finally {
    if (cwd === undefined) await rm(workDir, { recursive: true, force: true });
  }
}

// The installed version of an npm package of this project, e.g. packageVersion('langsmith').
export function packageVersion(name) {
  const file = path.join(here, 'node_modules', name, 'package.json');
  return JSON.parse(readFileSync(file, 'utf8')).version;
}

// Makes LangSmith clients built afterwards see none of the developer's LangSmith settings
// (API key, endpoint, workspace, profile file): each test passes what it means explicitly.
export function isolateLangSmithEnvironment() {
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('LANGSMITH_') || name.startsWith('LANGCHAIN_')) delete process.env[name];
  }
  process.env.LANGSMITH_CONFIG_FILE = path.join(tmpdir(), 'pharos-compat-no-such-langsmith-config.json');
  process.env.LANGSMITH_TRACING = 'false';
}

// A real redis-server for the compatibility tests: /usr/bin/redis-server (Debian's package) on a
// free 127.0.0.1 port, nothing saved to disk, killed when the test process exits.
//
//   const redis = await startRedis();                 // resolves once it answers PING
//   redis.url                                          // redis://127.0.0.1:PORT (for Pharos)
//   await redis.command('GET', 'pharos:...')           // a RESP reply: string | number | null |
//                                                      //   array; an error reply throws
//   await redis.stop();
//
// startRedis({ args: ['--requirepass', 'pw'] }) passes extra redis-server arguments.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';

export const redisBin = process.env.REDIS_SERVER_BIN || '/usr/bin/redis-server';
const START_TIMEOUT_MS = 10_000;

// Servers still running when the test process exits are killed, so none outlives a failed test.
const live = new Set();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function encode(args) {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const bytes = Buffer.from(String(arg));
    out += `$${bytes.length}\r\n${bytes.toString('binary')}\r\n`;
  }
  return Buffer.from(out, 'binary');
}

// Parses one RESP2 reply from `buffer` at `offset`: { value, next } or null while incomplete.
// Error replies come back as { error: message }.
function parse(buffer, offset = 0) {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return null;
  const type = String.fromCharCode(buffer[offset]);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+': return { value: line, next };
    case '-': return { value: { error: line }, next };
    case ':': return { value: Number(line), next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next };
      if (buffer.length < next + length + 2) return null;
      return { value: buffer.toString('utf8', next, next + length), next: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next };
      const items = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, at);
        if (!item) return null;
        items.push(item.value);
        at = item.next;
      }
      return { value: items, next: at };
    }
    default:
      throw new Error(`redis sent an unknown reply type ${JSON.stringify(type)}`);
  }
}

// One command on a fresh connection (AUTH first when `password` is set).
function sendCommand(port, password, args, timeoutMs = 2_000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const commands = password ? [['AUTH', password], args] : [args];
    let buffer = Buffer.alloc(0);
    const replies = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`redis on port ${port} did not answer ${args[0]} within ${timeoutMs} ms`));
    });
    socket.on('error', reject);
    socket.on('connect', () => socket.write(Buffer.concat(commands.map(encode))));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const reply = parse(buffer);
        if (!reply) break;
        replies.push(reply.value);
        buffer = buffer.subarray(reply.next);
      }
      if (replies.length < commands.length) return;
      socket.end();
      const value = replies[replies.length - 1];
      const failed = replies.find((r) => r && typeof r === 'object' && 'error' in r);
      if (failed) reject(new Error(`redis answered ${args[0]} with: ${failed.error}`));
      else resolve(value);
    });
  });
}

async function answersPing(port) {
  try {
    return (await sendCommand(port, undefined, ['PING'], 500)) === 'PONG';
  } catch (error) {
    return /NOAUTH/.test(String(error.message)); // up, and wants a password
  }
}

/** Starts redis-server; resolves to { url, host, port, command(...args), stop() }. */
export async function startRedis({ args = [] } = {}) {
  if (!existsSync(redisBin)) {
    throw new Error(`${redisBin} is missing: install redis-server (scripts/setup.sh)`);
  }
  const port = await freePort();
  const child = spawn(redisBin, [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--daemonize', 'no', '--loglevel', 'warning', ...args,
  ], { stdio: ['ignore', 'ignore', 'pipe'], cwd: '/tmp' });
  live.add(child);
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });

  const passwordIndex = args.indexOf('--requirepass');
  const password = passwordIndex >= 0 ? args[passwordIndex + 1] : undefined;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited before answering PING (port ${port}): ${stderr}`);
    }
    if (await answersPing(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on port ${port} within ${START_TIMEOUT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  let stopping;
  return {
    host: '127.0.0.1',
    port,
    url: password
      ? `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`
      : `redis://127.0.0.1:${port}`,
    pid: child.pid,
    command: (...commandArgs) => sendCommand(port, password, commandArgs),
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      })();
      return stopping;
    },
  };
}

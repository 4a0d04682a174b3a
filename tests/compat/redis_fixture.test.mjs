// Self-check of the redis-server fixture (tests/fakes/redis_server.mjs) that the gateway's
// shared-state compatibility tests start: it answers, keeps data, takes a password, gets distinct
// ports, and is gone after stop(). Needs no Pharos and no npm packages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startRedis } from '../fakes/redis_server.mjs';

function refuses(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('connect', () => { socket.destroy(); resolve(false); });
    socket.on('error', (error) => resolve(error.code === 'ECONNREFUSED'));
  });
}

test('startRedis answers commands and stops', async () => {
  const redis = await startRedis();
  try {
    assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await redis.command('PING'), 'PONG');
    assert.equal(await redis.command('SET', 'k', 'vé'), 'OK');
    assert.equal(await redis.command('GET', 'k'), 'vé');
    assert.equal(await redis.command('GET', 'missing'), null);
    assert.equal(await redis.command('INCRBY', 'n', 5), 5);
    assert.deepEqual(await redis.command('MGET', 'k', 'missing'), ['vé', null]);
    await assert.rejects(redis.command('INCR', 'k'), /not an integer/);
    // Nothing is written to disk.
    assert.deepEqual(await redis.command('CONFIG', 'GET', 'save'), ['save', '']);
  } finally {
    await redis.stop();
  }
  assert.ok(await refuses(redis.port), 'the port still answers after stop()');
  await redis.stop(); // idempotent
});

test('startRedis with a password, and two servers side by side', async () => {
  const [a, b] = await Promise.all([startRedis({ args: ['--requirepass', 'p@ss'] }), startRedis()]);
  try {
    assert.notEqual(a.port, b.port);
    assert.equal(a.url, `redis://:p%40ss@127.0.0.1:${a.port}`);
    assert.equal(await a.command('SET', 'k', 'a'), 'OK');
    assert.equal(await b.command('GET', 'k'), null);
    assert.equal(await a.command('GET', 'k'), 'a');
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

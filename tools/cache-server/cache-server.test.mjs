// Self-check for the test cache server: node --test tools/cache-server/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { startCacheServer } from './index.mjs';

const here = dirname(fileURLToPath(import.meta.url));

test('speaks the Nx self-hosted cache protocol and counts what happened', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nxdd-cache-'));
  const server = await startCacheServer({ dir, token: 's3cret' });
  t.after(async () => { await server.stop(); rmSync(dir, { recursive: true, force: true }); });
  const auth = { authorization: 'Bearer s3cret' };
  const body = Buffer.from([0x1f, 0x8b, 0, 1, 2, 3, 255]);
  const at = (p) => `${server.url}${p}`;

  assert.equal((await fetch(at('/v1/cache/abc'))).status, 401);
  assert.equal((await fetch(at('/v1/cache/abc'), { headers: { authorization: 'Bearer wrong' } })).status, 401);
  assert.equal((await fetch(at('/v1/cache/abc'), { headers: auth })).status, 404);
  const put = (h) => fetch(at(`/v1/cache/${h}`), { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body });
  assert.equal((await put('abc')).status, 200);
  assert.equal((await put('abc')).status, 409);
  const got = await fetch(at('/v1/cache/abc'), { headers: auth });
  assert.equal(got.status, 200);
  assert.deepEqual(Buffer.from(await got.arrayBuffer()), body);
  assert.deepEqual(readFileSync(join(dir, 'abc')), body);
  assert.equal((await fetch(at('/v1/cache/..%2Fescape'), { headers: auth })).status, 404);

  const stats = await (await fetch(at('/stats'), { headers: auth })).json();
  assert.deepEqual(stats, { hits: 1, misses: 1, puts: 1, conflicts: 1, unauthorized: 2, entries: 1 });
  assert.deepEqual(server.stats(), stats);
});

test('CLI prints its URL first and serves without a token when none is given', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nxdd-cache-'));
  const child = spawn(process.execPath, [join(here, 'server.mjs'), '--port', '0', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { child.kill(); rmSync(dir, { recursive: true, force: true }); });
  const [first] = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value]);
  const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(first);
  assert.ok(m, `unexpected first line: ${first}`);
  assert.equal((await fetch(`${m[1]}/v1/cache/nope`)).status, 404);
  assert.equal((await fetch(`${m[1]}/v1/cache/yes`, { method: 'PUT', body: 'x' })).status, 200);
  assert.equal(await (await fetch(`${m[1]}/v1/cache/yes`)).text(), 'x');
});

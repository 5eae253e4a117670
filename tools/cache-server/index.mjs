// A self-hosted Nx remote cache server for tests (no dependencies).
// Protocol (what Nx 23 speaks with NX_SELF_HOSTED_REMOTE_CACHE_SERVER):
//   GET  /v1/cache/{hash} -> 200 body | 404
//   PUT  /v1/cache/{hash} -> 200 stored | 409 already stored (Nx accepts 409 silently)
//   Authorization: Bearer <token> -> 401 on mismatch (when a token is configured)
//   GET  /stats           -> {hits, misses, puts, conflicts, unauthorized, entries}
// Entries are opaque bytes (Nx sends gzip tars); the server never looks inside.
import { createServer } from 'node:http';
import { createReadStream, createWriteStream, mkdirSync, readdirSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { timingSafeEqual, randomBytes } from 'node:crypto';

const HASH = /^[A-Za-z0-9._-]{1,200}$/;

function tokenMatches(header, token) {
  const got = Buffer.from(String(header ?? ''));
  const want = Buffer.from(`Bearer ${token}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * Start a cache server.
 * @param {object} options
 * @param {string} options.dir   Where entries are stored (created if missing).
 * @param {string} [options.token]  Bearer token required on every request; no auth when empty.
 * @param {number} [options.port]   0 (default) picks a free port.
 * @param {string} [options.host]   Default 127.0.0.1.
 * @returns {Promise<{url: string, port: number, stats(): object, resetStats(): void, stop(): Promise<void>}>}
 */
export async function startCacheServer({ dir, token = '', port = 0, host = '127.0.0.1' }) {
  if (!dir) throw new Error('startCacheServer needs { dir }: the folder where cache entries are stored.');
  mkdirSync(dir, { recursive: true });
  const counters = { hits: 0, misses: 0, puts: 0, conflicts: 0, unauthorized: 0 };
  const stats = () => ({
    ...counters,
    entries: readdirSync(dir).filter((f) => !f.startsWith('.')).length,
  });

  const send = (res, status, body = '', type = 'text/plain') => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://x');
      if (token && !tokenMatches(req.headers.authorization, token)) {
        counters.unauthorized++;
        req.resume();
        return send(res, 401, 'unauthorized');
      }
      if (req.method === 'GET' && url.pathname === '/stats') {
        return send(res, 200, JSON.stringify(stats()), 'application/json');
      }
      const m = /^\/v1\/cache\/([^/]+)$/.exec(url.pathname);
      if (!m || !HASH.test(m[1])) { req.resume(); return send(res, 404, 'not found'); }
      const file = join(dir, m[1]);
      if (req.method === 'GET') {
        if (!existsSync(file)) { counters.misses++; return send(res, 404, 'not found'); }
        counters.hits++;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(file).size });
        return void (await pipeline(createReadStream(file), res));
      }
      if (req.method === 'PUT') {
        if (existsSync(file)) { counters.conflicts++; req.resume(); return send(res, 409, 'exists'); }
        // Write to a temp name and rename, so a concurrent GET never sees half an entry.
        const tmp = join(dir, `.${m[1]}.${randomBytes(4).toString('hex')}.partial`);
        try {
          await pipeline(req, createWriteStream(tmp));
          renameSync(tmp, file);
        } catch (e) {
          rmSync(tmp, { force: true });
          throw e;
        }
        counters.puts++;
        return send(res, 200, 'ok');
      }
      req.resume();
      return send(res, 405, 'method not allowed');
    } catch (e) {
      if (!res.headersSent) send(res, 500, String(e?.message ?? e));
      else res.destroy();
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    stats,
    resetStats: () => { for (const k of Object.keys(counters)) counters[k] = 0; },
    stop: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

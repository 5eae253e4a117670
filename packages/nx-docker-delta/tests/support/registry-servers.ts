/**
 * Real registry setups for tests/docker/registries.spec.ts: Debian's `docker-registry`
 * (distribution 2.8) with htpasswd + TLS from a test CA, or behind token auth; a token server
 * (node:http, RS256 JWTs with `access` claims, signed by a test key whose certificate the
 * registry trusts); an HTTP proxy (CONNECT tunnels + absolute-URI forwarding) that counts
 * what went through it; a credential helper script that speaks the docker-credential protocol.
 * Every process started here is stopped by the handle it returns (by pid / server close).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { IncomingMessage, Server, createServer, request as httpRequest } from 'node:http';
import { Socket, connect } from 'node:net';
import { join } from 'node:path';

export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** A CA that signed nothing here: trusting it must not make the registry trusted. */
  otherCaCert: string;
  tokenCert: string;
  tokenKey: string;
}

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
}

/** A test CA, a server certificate for localhost / 127.0.0.1 signed by it, another CA, a token-signing key. */
export function makeTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const selfSigned = (name: string, cn: string) =>
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`], dir);
  selfSigned('ca', 'nxdd test CA');
  selfSigned('other-ca', 'nxdd other CA');
  selfSigned('token', 'nxdd token issuer');
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext'],
    dir
  );
  const p = (f: string) => join(dir, f);
  return {
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    otherCaCert: p('other-ca.crt'),
    tokenCert: p('token.crt'),
    tokenKey: p('token.key'),
  };
}

/** `htpasswd -Bbn` (bcrypt, what distribution accepts). */
export function htpasswdFile(path: string, user: string, password: string): string {
  const result = spawnSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`htpasswd failed (${result.stderr || result.error}) — install apache2-utils (tools/docker-env/ensure-registry-tools.sh).`);
  writeFileSync(path, result.stdout);
  return path;
}

export interface RunningRegistry {
  addr: string;
  stop(): Promise<void>;
}

/** Runs `docker-registry serve` with `auth` (YAML lines under `auth:`) and optional TLS; waits until it answers. */
export async function startDistribution(options: { dir: string; port: number; tls?: { cert: string; key: string }; auth: string[] }): Promise<RunningRegistry> {
  const addr = `127.0.0.1:${options.port}`;
  mkdirSync(join(options.dir, 'storage'), { recursive: true });
  const config = [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(options.dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${addr}`,
    ...(options.tls ? ['  tls:', `    certificate: ${options.tls.cert}`, `    key: ${options.tls.key}`] : []),
    // No auth lines: an open registry (e.g. one a suite counts blob uploads in).
    ...(options.auth.length ? ['auth:', ...options.auth.map((l) => `  ${l}`)] : []),
    '',
  ].join('\n');
  writeFileSync(join(options.dir, 'config.yml'), config);
  const log: string[] = [];
  const child = spawn('docker-registry', ['serve', join(options.dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d) => log.push(String(d)));
  child.stderr?.on('data', (d) => log.push(String(d)));
  let failed = false;
  child.on('error', (error) => {
    failed = true;
    log.push(`${error.message} — install it with tools/docker-env/ensure-registry-tools.sh`);
  });
  const deadline = Date.now() + 20_000;
  while (!(await listening(options.port))) {
    if (failed || child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`docker-registry on ${addr} did not start: ${log.join('').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return { addr, stop: () => stopChild(child) };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** Every token request: how it authenticated and which scopes it asked for. */
  requests: Array<{ method: string; via: 'basic' | 'refresh_token' | 'anonymous' | 'refused'; scopes: string[] }>;
  close(): Promise<void>;
}

/**
 * Distribution's token protocol: `GET realm?service&scope` with Basic auth (password login),
 * `POST realm` form `grant_type=refresh_token` (identity tokens). Grants what it is asked for
 * to the one user, nothing to anonymous callers.
 */
export async function startTokenServer(options: { port: number; key: string; cert: string; user: string; password: string; refreshToken: string }): Promise<TokenServer> {
  const service = 'nxdd-test-registry';
  const issuer = 'nxdd-test-issuer';
  const key = readFileSync(options.key, 'utf8');
  const der = readFileSync(options.cert, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const requests: TokenServer['requests'] = [];
  const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');
  const sign = (subject: string, scopes: string[]) => {
    const access = scopes.flatMap((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = rest.pop() ?? '';
      return subject ? [{ type, name: rest.join(':'), actions: actions.split(',').filter(Boolean) }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [der] }));
    const claims = b64url(JSON.stringify({ iss: issuer, sub: subject, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access }));
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key);
    return `${header}.${claims}.${b64url(signature)}`;
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await readBody(req);
    const answer = (status: number, payload: object) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.method === 'POST') {
      const form = new URLSearchParams(body);
      const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== options.refreshToken) {
        requests.push({ method: 'POST', via: 'refused', scopes });
        return answer(401, { error: 'invalid_grant' });
      }
      requests.push({ method: 'POST', via: 'refresh_token', scopes });
      return answer(200, { access_token: sign(options.user, scopes), expires_in: 300, scope: scopes.join(' ') });
    }
    const scopes = url.searchParams.getAll('scope');
    const auth = req.headers.authorization;
    if (!auth) {
      requests.push({ method: 'GET', via: 'anonymous', scopes });
      return answer(200, { token: sign('', scopes), expires_in: 300 });
    }
    const [user, password] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString('utf8').split(':');
    if (user !== options.user || password !== options.password) {
      requests.push({ method: 'GET', via: 'refused', scopes });
      return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] });
    }
    requests.push({ method: 'GET', via: 'basic', scopes });
    return answer(200, { token: sign(user, scopes), expires_in: 300 });
  });
  await listen(server, options.port);
  return { realm: `http://127.0.0.1:${options.port}/token`, service, issuer, requests, close: () => close(server) };
}

export interface CountingProxy {
  url: string;
  /** `host:port` of every CONNECT tunnel and every forwarded request, in order. */
  seen: string[];
  close(): Promise<void>;
}

/** An HTTP proxy on loopback: CONNECT tunnels and absolute-URI forwarding, counting both. */
export async function startProxy(port: number): Promise<CountingProxy> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const target = new URL(req.url ?? '');
    seen.push(target.host);
    const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push(req.url ?? '');
    const [host, portText] = (req.url ?? '').split(':');
    const upstream = connect(Number(portText), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', drop);
    client.on('error', drop);
  });
  server.on('connection', (socket: Socket) => sockets.add(socket));
  await listen(server, port);
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return close(server);
    },
  };
}

/**
 * `docker-credential-<name>` in `binDir`: answers `get` from `secrets` (server URL → {Username, Secret}),
 * "credentials not found in native keychain" otherwise, and logs each server URL it was asked for.
 */
export function writeCredentialHelper(binDir: string, name: string, secrets: Record<string, { Username: string; Secret: string }>): { log: string } {
  mkdirSync(binDir, { recursive: true });
  const log = join(binDir, `${name}.log`);
  const cases = Object.entries(secrets)
    .map(([server, answer]) => `  '${server}') echo '${JSON.stringify({ ServerURL: server, ...answer })}' ;;`)
    .join('\n');
  const script = [
    '#!/bin/sh',
    '[ "$1" = get ] || { echo "only get is supported here" >&2; exit 1; }',
    'read -r server',
    `echo "$server" >> '${log}'`,
    'case "$server" in',
    cases,
    '  *) echo "credentials not found in native keychain"; exit 1 ;;',
    'esac',
    '',
  ].join('\n');
  const path = join(binDir, `docker-credential-${name}`);
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  writeFileSync(log, '');
  return { log };
}

/** A tiny server that plays a registry which redirects blob reads to another host, and omits Docker-Content-Digest. */
export async function startRedirectingRegistry(options: { port: number; user: string; password: string; blob: Buffer; manifest: Buffer }): Promise<{
  /** The Authorization header each path was requested with (`-` when none). */
  seen: Array<{ host: string; path: string; authorization: string }>;
  close(): Promise<void>;
}> {
  const seen: Array<{ host: string; path: string; authorization: string }> = [];
  const expected = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    seen.push({ host: req.headers.host ?? '', path, authorization: req.headers.authorization ?? '-' });
    if (path.startsWith('/storage/')) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': options.blob.length });
      return res.end(options.blob);
    }
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="nxdd"' });
      return res.end();
    }
    if (path === '/v2/') return res.writeHead(200).end('{}');
    if (/\/blobs\/sha256:/.test(path)) {
      res.writeHead(307, { Location: `http://localhost:${options.port}/storage/${path.split('/').pop()}?signature=x` });
      return res.end();
    }
    if (/\/manifests\//.test(path)) {
      // No Docker-Content-Digest on purpose: the client must hash the manifest itself.
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': options.manifest.length });
      return res.end(req.method === 'HEAD' ? undefined : options.manifest);
    }
    return res.writeHead(404).end();
  });
  await listen(server, options.port);
  return { seen, close: () => close(server) };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
  });
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

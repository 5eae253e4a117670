/**
 * Docker suite for the registry client (issue 9): real registries as teams run them.
 *
 * - `localhost:5131`: distribution 2.8 with htpasswd **and TLS** from a test CA, trusted through
 *   a `certs.d/localhost:5131/ca.crt` in a test DOCKER_CONFIG (the daemon reaches it as a
 *   loopback registry: TLS without verification, its default for 127.0.0.0/8).
 * - `127.0.0.1:5132`: distribution behind **token auth**, with a token server on :5137 (node:http,
 *   RS256 JWTs with `access` claims).
 * - credentials from a real `docker login` and from a **credential helper** script; pushes and
 *   checks through an HTTP **proxy** on :5138 that counts what went through it; a registry on
 *   :5133 that redirects blob reads to another host and leaves out Docker-Content-Digest.
 * - end to end: `docker-build` in push mode to the TLS + htpasswd registry; receipt digest ==
 *   registry digest.
 *
 * Needs a Docker daemon, nxdd-test/busybox:1, `docker-registry`, `htpasswd` and `openssl`
 * (tools/docker-env/ensure-registry-tools.sh installs them). Missing → failure.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient, sha256 } from '../../src/engine/registry';
import { DOCKER, docker, dockerSuiteGate, localRefs, removeRefs } from '../support/docker';
import {
  CountingProxy,
  RunningRegistry,
  TestPki,
  TokenServer,
  htpasswdFile,
  makeTestPki,
  startDistribution,
  startProxy,
  startRedirectingRegistry,
  startTokenServer,
  writeCredentialHelper,
} from '../support/registry-servers';
import { NxResult, TestWorkspace, ensurePluginBuilt } from '../support/workspace';

const SUITE = 'registries Docker suite (tests/docker/registries.spec.ts)';
const skipped = dockerSuiteGate(SUITE, { images: ['nxdd-test/busybox:1'] });
const describeDocker = skipped ? describe.skip : describe;

const NS = `nxdd-reg-${Date.now().toString(36)}${process.pid.toString(36)}`;
const PORTS = { tls: 5131, token: 5132, redirect: 5133, tokenServer: 5137, proxy: 5138, closed: 5139 };
const TLS = `localhost:${PORTS.tls}`;
const TOKEN = `127.0.0.1:${PORTS.token}`;
const USER = 'ci';
const PASSWORD = 'nxdd-s3cret';
const REFRESH = 'nxdd-refresh-token';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** A minimal image: a config blob, one layer blob, and the manifest naming both. */
function tinyImage(label: string) {
  const layer = Buffer.from(`nx-docker-delta ${NS} ${label} layer`);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] }, label }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    })
  );
  return { layer, config, manifest };
}

describeDocker('registries: credentials, TLS, token auth, helpers, proxies, redirects', () => {
  let scratch: string;
  let pki: TestPki;
  let tls: RunningRegistry;
  let token: RunningRegistry;
  let tokenServer: TokenServer;
  let proxy: CountingProxy;
  const started = Date.now();
  const measured: string[] = [];

  /** A DOCKER_CONFIG dir: optional certs.d CA and config.json; the env's cli-plugins (buildx) stay visible. */
  function dockerConfig(name: string, options: { ca?: string; config?: object } = {}): string {
    const dir = join(scratch, name);
    mkdirSync(dir, { recursive: true });
    const plugins = join(process.env.DOCKER_CONFIG || join(homedir(), '.docker'), 'cli-plugins');
    if (existsSync(plugins) && !existsSync(join(dir, 'cli-plugins'))) symlinkSync(plugins, join(dir, 'cli-plugins'));
    if (options.ca) {
      mkdirSync(join(dir, 'certs.d', TLS), { recursive: true });
      copyFileSync(options.ca, join(dir, 'certs.d', TLS, 'ca.crt'));
    }
    if (options.config) writeFileSync(join(dir, 'config.json'), JSON.stringify(options.config));
    return dir;
  }

  function client(configDir: string, env: Record<string, string> = {}): RegistryClient {
    return new RegistryClient({
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DOCKER_CONFIG: configDir, ...env },
      daemonJson: join(scratch, 'no-daemon.json'),
      timeoutMs: 10_000,
    });
  }

  async function login(configDir: string, registry: string, password = PASSWORD): Promise<void> {
    const result = await dockerAsync(['login', registry, '-u', USER, '--password-stdin'], configDir, password);
    if (result.status !== 0) throw new Error(`docker login ${registry} failed: ${result.stderr}`);
  }

  /** Not spawnSync: the token server lives in this process and must answer the daemon meanwhile. */
  function dockerAsync(args: string[], configDir: string, input?: string): Promise<{ status: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(DOCKER, args, { env: { ...process.env, DOCKER_CONFIG: configDir } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ status: code ?? 1, stdout, stderr }));
      child.stdin.end(input ?? '');
    });
  }

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'nxdd-registries-'));
    pki = makeTestPki(join(scratch, 'pki'));
    const htpasswd = htpasswdFile(join(scratch, 'htpasswd'), USER, PASSWORD);
    tokenServer = await startTokenServer({ port: PORTS.tokenServer, key: pki.tokenKey, cert: pki.tokenCert, user: USER, password: PASSWORD, refreshToken: REFRESH });
    [tls, token, proxy] = await Promise.all([
      startDistribution({
        dir: join(scratch, 'registry-tls'),
        port: PORTS.tls,
        tls: { cert: pki.serverCert, key: pki.serverKey },
        auth: ['htpasswd:', '  realm: nxdd-test', `  path: ${htpasswd}`],
      }),
      startDistribution({
        dir: join(scratch, 'registry-token'),
        port: PORTS.token,
        auth: ['token:', `  realm: ${tokenServer.realm}`, `  service: ${tokenServer.service}`, `  issuer: ${tokenServer.issuer}`, `  rootcertbundle: ${pki.tokenCert}`],
      }),
      startProxy(PORTS.proxy),
    ]);
  }, 2 * 60_000);

  afterAll(async () => {
    const leftovers = localRefs(NS);
    if (leftovers.length) removeRefs(leftovers);
    await Promise.all([tls?.stop(), token?.stop(), tokenServer?.close(), proxy?.close()]);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    // eslint-disable-next-line no-console
    console.log(`${SUITE}: measured\n  ${measured.join('\n  ')}\n  total ${((Date.now() - started) / 1000).toFixed(0)}s`);
  }, 2 * 60_000);

  it('TLS + htpasswd via certs.d, credentials from a real docker login: blobs, manifest, digest, cross-repo mount', async () => {
    const dc = dockerConfig('dc-login', { ca: pki.caCert });
    await login(dc, TLS);
    const registry = client(dc);
    const name = `${TLS}/${NS}/client`;
    const image = tinyImage('client');

    expect(await registry.headManifest(`${name}:v1`)).toEqual({ state: 'absent' });
    const configDigest = await registry.uploadBlob(name, image.config);
    const layerDigest = await registry.uploadBlob(name, image.layer);
    expect([configDigest, layerDigest]).toEqual([sha256(image.config), sha256(image.layer)]);
    expect(await registry.hasBlob(name, layerDigest)).toBe(true);
    const digest = await registry.putManifest(`${name}:v1`, image.manifest, OCI_MANIFEST);
    expect(digest).toBe(sha256(image.manifest));
    expect(await registry.headManifest(`${name}:v1`)).toEqual({ state: 'present', digest });
    expect(await registry.headManifest(`${name}@${digest}`)).toEqual({ state: 'present', digest });
    expect((await registry.getManifest(`${name}:v1`))?.body.equals(image.manifest)).toBe(true);
    expect((await registry.getBlob(name, layerDigest)).equals(image.layer)).toBe(true);

    const other = `${TLS}/${NS}/other`;
    expect(await registry.hasBlob(other, layerDigest)).toBe(false);
    expect(await registry.mountBlob(other, layerDigest, name)).toBe(true);
    expect(await registry.hasBlob(other, layerDigest)).toBe(true);
    // Loopback without a certs.d CA: TLS without verification, as the daemon does for 127.0.0.0/8.
    expect(await client(dockerConfig('dc-login-no-ca', { config: readConfig(dc) })).headManifest(`${name}:v1`)).toEqual({ state: 'present', digest });
  });

  it('the TLS registry is verified, not just encrypted; missing or wrong credentials are one sentence with the fix', async () => {
    const ref = `${TLS}/${NS}/client:v1`;
    const creds = readConfig(join(scratch, 'dc-login'));
    const wrongCa = dockerConfig('dc-wrong-ca', { ca: pki.otherCaCert, config: creds });
    expect(await client(wrongCa).headManifest(ref)).toEqual({
      state: 'unknown',
      reason: expect.stringMatching(
        new RegExp(`^Registry ${TLS} presented a TLS certificate that is not trusted \\(\\w+\\) at https://${TLS}/v2/ — the CA in ${escape(join(wrongCa, 'certs.d', TLS, 'ca.crt'))} does not sign its certificate — replace that file with the registry's CA\\.$`)
      ),
    });
    const anonymous = dockerConfig('dc-anonymous', { ca: pki.caCert });
    expect(await client(anonymous).headManifest(ref)).toEqual({
      state: 'unknown',
      reason: `Registry ${TLS} needs credentials for reading ${NS}/client and ${join(anonymous, 'config.json')} has none for it — run docker login ${TLS}.`,
    });
    const wrong = dockerConfig('dc-wrong-password', { ca: pki.caCert, config: { auths: { [TLS]: { auth: Buffer.from(`${USER}:nope`).toString('base64') } } } });
    expect(await client(wrong).headManifest(ref)).toEqual({
      state: 'unknown',
      reason: `Registry ${TLS} refused the credentials from ${join(wrong, 'config.json')} (auths["${TLS}"]) for reading ${NS}/client (HTTP 401) — run docker login ${TLS} again.`,
    });
  });

  it('token auth: a password login fetches a token with Basic and the pull scope; the digest docker push reports is what the client sees', async () => {
    const dc = dockerConfig('dc-token');
    await login(dc, TOKEN);
    const ref = `${TOKEN}/${NS}/tiny:1`;
    expect(docker(['tag', 'nxdd-test/busybox:1', ref]).status).toBe(0);
    const pushed = await dockerAsync(['push', ref], dc);
    expect(pushed.stderr).toBe('');
    const pushedDigest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed.stdout)?.[1];
    expect(pushedDigest).toBeDefined();

    const before = tokenServer.requests.length;
    const registry = client(dc);
    expect(await registry.headManifest(ref)).toEqual({ state: 'present', digest: pushedDigest });
    await registry.uploadBlob(`${TOKEN}/${NS}/tiny`, Buffer.from('a pushed blob'));
    expect(tokenServer.requests.slice(before)).toEqual([
      { method: 'GET', via: 'basic', scopes: [`repository:${NS}/tiny:pull`] },
      { method: 'GET', via: 'basic', scopes: [`repository:${NS}/tiny:pull,push`] },
    ]);
    const refused = dockerConfig('dc-token-wrong', { config: { auths: { [TOKEN]: { auth: Buffer.from(`${USER}:nope`).toString('base64') } } } });
    expect(await client(refused).headManifest(ref)).toEqual({
      state: 'unknown',
      reason: `Registry ${TOKEN} refused the credentials from ${join(refused, 'config.json')} (auths["${TOKEN}"]) (token server http://127.0.0.1:${PORTS.tokenServer} answered HTTP 401) — run docker login ${TOKEN} again.`,
    });
  });

  it('a credential helper named by credsStore answers for both registries; a <token> user is an identity token (oauth2 refresh_token)', async () => {
    const bin = join(scratch, 'helper-bin');
    const helper = writeCredentialHelper(bin, 'nxdd-test', {
      [TLS]: { Username: USER, Secret: PASSWORD },
      [TOKEN]: { Username: '<token>', Secret: REFRESH },
    });
    const dc = dockerConfig('dc-helper', { ca: pki.caCert, config: { credsStore: 'nxdd-test' } });
    const registry = client(dc, { PATH: `${bin}:${process.env.PATH}` });
    const before = tokenServer.requests.length;
    expect(await registry.headManifest(`${TLS}/${NS}/client:v1`)).toMatchObject({ state: 'present' });
    expect(await registry.headManifest(`${TOKEN}/${NS}/tiny:1`)).toMatchObject({ state: 'present' });
    expect(await registry.headManifest(`${TOKEN}/${NS}/nothing:1`)).toEqual({ state: 'absent' });
    expect(readLines(helper.log)).toEqual([TLS, TOKEN]);
    expect(tokenServer.requests.slice(before)).toEqual([
      { method: 'POST', via: 'refresh_token', scopes: [`repository:${NS}/tiny:pull`] },
      { method: 'POST', via: 'refresh_token', scopes: [`repository:${NS}/nothing:pull`] },
    ]);

    const missing = dockerConfig('dc-helper-missing', { ca: pki.caCert, config: { credHelpers: { [TLS]: 'not-installed' } } });
    expect(await client(missing).headManifest(`${TLS}/${NS}/client:v1`)).toEqual({
      state: 'unknown',
      reason: `Credential helper docker-credential-not-installed (named in ${join(missing, 'config.json')}) cannot be run (ENOENT) — install it on PATH or remove it from ${join(missing, 'config.json')}.`,
    });
  });

  it('HTTPS_PROXY / HTTP_PROXY carry pushes and checks through the proxy; NO_PROXY bypasses it; a dead proxy is one sentence', async () => {
    const creds = readConfig(join(scratch, 'dc-login'));
    const tokenCreds = readConfig(join(scratch, 'dc-token'));
    const dc = dockerConfig('dc-proxy', { ca: pki.caCert, config: { auths: { ...creds.auths, ...tokenCreds.auths } } });
    const proxied = client(dc, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '' });
    const name = `${TLS}/${NS}/proxied`;
    const image = tinyImage('proxied');
    await proxied.uploadBlob(name, image.config);
    await proxied.uploadBlob(name, image.layer);
    const digest = await proxied.putManifest(`${name}:v1`, image.manifest, OCI_MANIFEST);
    expect(await proxied.headManifest(`${name}:v1`)).toEqual({ state: 'present', digest });
    expect(await proxied.headManifest(`${TOKEN}/${NS}/tiny:1`)).toMatchObject({ state: 'present' });
    // Tunnels (CONNECT) are per connection: which hosts went through, not how many requests.
    expect([...new Set(proxy.seen)].sort()).toEqual([`127.0.0.1:${PORTS.tokenServer}`, TOKEN, TLS].sort());

    const seen = proxy.seen.length;
    const bypassed = client(dc, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' });
    expect(await bypassed.headManifest(`${name}:v1`)).toEqual({ state: 'present', digest });
    expect(await bypassed.headManifest(`${TOKEN}/${NS}/tiny:1`)).toMatchObject({ state: 'present' });
    expect(proxy.seen.length).toBe(seen);

    const dead = client(dc, { HTTPS_PROXY: `http://127.0.0.1:${PORTS.closed}`, NO_PROXY: '' });
    expect(await dead.headManifest(`${name}:v1`)).toEqual({
      state: 'unknown',
      reason: expect.stringMatching(
        new RegExp(`^Registry ${TLS} is not reachable at https://${TLS}/v2/ \\(\\w+\\) — start it, check HTTP\\(S\\)_PROXY / NO_PROXY, .*$`)
      ),
    });
  });

  it('blob reads follow redirects to storage without the registry credentials; a 200 without Docker-Content-Digest is hashed, not trusted', async () => {
    const blob = Buffer.from(`blob in storage ${NS}`);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] }));
    const fake = await startRedirectingRegistry({ port: PORTS.redirect, user: USER, password: PASSWORD, blob, manifest });
    try {
      const host = `127.0.0.1:${PORTS.redirect}`;
      const dc = dockerConfig('dc-redirect', { config: { auths: { [host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } } });
      const registry = client(dc);
      expect((await registry.getBlob(`${host}/acme/api`, sha256(blob))).equals(blob)).toBe(true);
      const storage = fake.seen.filter((s) => s.path.startsWith('/storage/'));
      expect(storage).toEqual([{ host: `localhost:${PORTS.redirect}`, path: `/storage/${sha256(blob)}`, authorization: '-' }]);
      expect(fake.seen.find((s) => s.path.startsWith('/v2/acme/api/blobs/') && s.authorization !== '-')).toBeDefined();
      expect(await registry.headManifest(`${host}/acme/api:v1`)).toEqual({ state: 'present', digest: sha256(manifest) });
    } finally {
      await fake.close();
    }
  });

  it('end to end: docker-build in push mode to the TLS + htpasswd registry; the receipt digest is the registry digest', async () => {
    ensurePluginBuilt();
    const dc = join(scratch, 'dc-login');
    const ws = TestWorkspace.create(
      {
        'package.json': JSON.stringify({ name: 'registries-fixture', version: '0.0.0', private: true }),
        'nx.json': JSON.stringify({ plugins: [{ plugin: 'nx-docker-delta', options: { imagePrefix: `${NS}/` } }], namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] } }),
        '.gitignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n',
        '.dockerignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n.git\napps\n',
        'motd.txt': `registries suite ${NS}\n`,
        'Dockerfile.base': 'FROM nxdd-test/busybox:1\nCOPY motd.txt /etc/motd\n',
        'apps/svc/project.json': JSON.stringify({ name: 'svc' }),
        'apps/svc/main.txt': 'svc v1\n',
        'apps/svc/Dockerfile': 'ARG BASE_IMAGE=workspace-base\nFROM ${BASE_IMAGE}\nCOPY main.txt /app/main.txt\n',
      },
      'nxdd-registries'
    );
    try {
      const r: NxResult = await ws.nx(['run', 'svc:docker-build', '--output-style=stream'], {
        env: { DOCKER_CONFIG: dc, PUSH: 'true', NX_DOCKER_REGISTRY: `${TLS}/${NS}` },
      });
      if (r.code !== 0) throw new Error(`nx run svc:docker-build exited ${r.code}:\n${r.output}`);
      const receipt = ws.readJson('dist/nx-docker-delta/apps/svc/docker-service.json');
      // The client mode the env gives (DOCKER_CONFIG with the buildx plugin → buildx), kept through the test's DOCKER_CONFIG.
      const mode = (await dockerAsync(['buildx', 'version'], dc)).status === 0 ? 'buildx' : 'buildkit';
      expect(receipt).toMatchObject({ builder: mode, pushed: true, image: `${TLS}/${NS}/${NS}/svc`, digest: expect.stringMatching(/^sha256:[a-f0-9]{64}$/) });
      const registry = client(dc);
      expect(await registry.headManifest(receipt.ref)).toEqual({ state: 'present', digest: receipt.digest });
      const base = ws.readJson('dist/nx-docker-delta/bases/workspace.json');
      expect(await registry.headManifest(base.ref)).toEqual({ state: 'present', digest: base.digest });
      measured.push(`docker-build --push (${mode}) to TLS + htpasswd registry: ${(r.durationMs / 1000).toFixed(1)}s`);

      // Logged out: the plugin stops with the client's sentence before building anything.
      const anonymous = dockerConfig('dc-e2e-anonymous', { ca: pki.caCert });
      ws.write({ 'apps/svc/main.txt': 'svc v2\n' });
      const denied = await ws.nx(['run', 'svc:docker-build', '--output-style=stream'], {
        env: { DOCKER_CONFIG: anonymous, PUSH: 'true', NX_DOCKER_REGISTRY: `${TLS}/${NS}` },
      });
      expect(denied.code).not.toBe(0);
      expect(denied.output).toContain(`needs credentials for reading ${NS}/${NS}/workspace-base and ${join(anonymous, 'config.json')} has none for it — run docker login ${TLS}.`);

      // Without push the registry is only a place to pull from: not being able to ask it means building here.
      ws.write({ 'motd.txt': `registries suite ${NS} v2\n` });
      const local = await ws.nx(['run', 'svc:docker-build', '--output-style=stream'], { env: { DOCKER_CONFIG: anonymous, NX_DOCKER_REGISTRY: `${TLS}/${NS}` } });
      if (local.code !== 0) throw new Error(`nx run svc:docker-build (no push) exited ${local.code}:\n${local.output}`);
      expect(local.output).toContain(
        `Registry ${TLS} needs credentials for reading ${NS}/${NS}/workspace-base and ${join(anonymous, 'config.json')} has none for it — run docker login ${TLS}; building base workspace here instead.`
      );
      expect(ws.readJson('dist/nx-docker-delta/apps/svc/docker-service.json')).toMatchObject({ pushed: false, outcome: 'built' });
    } finally {
      ws.dispose();
    }
  });
});

function readConfig(dir: string): { auths: Record<string, object> } {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
}

function readLines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Docker suite: private dependencies and safe build contexts, with real parts.
 *
 * - A Verdaccio that requires authentication serves @private/greet; the generated Dockerfile
 *   installs it with `npm ci` through the workspace's own `.npmrc` (`${NPM_TOKEN}`), which the
 *   build passes as the BuildKit secret `npmrc` on `--network=host`. Then every layer and config
 *   of every image is scanned for the token, and the receipt, the log and the temp folder too.
 * - A `.dockerignore` table: what a real `docker build` sends (an image that lists its context)
 *   equals what the context reader — the one hashing and staging use — reads, row by row.
 * - `kill -9` of a base-lock holder, then a base build that succeeds at once.
 *
 * Runs with the client the environment gives (NX_DOCKER_BIN: classic BuildKit or buildx).
 * Ports: NXDD_PRIVATE_REGISTRY_PORT, else a free one, for the auth Verdaccio — loopback only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { baseLockPath, ensureBase, planBase } from '../../src/builds/base';
import { buildService } from '../../src/builds/service';
import { resolveSettings, targetPlatform } from '../../src/builds/settings';
import { readContextSources, readIgnoreRules } from '../../src/context/reader';
import { DockerEngine, probeDocker } from '../../src/engine/docker';
import { renderNodeDockerfile } from '../../src/generators/dockerfile/lib/node-dockerfile';
import { serviceReceiptPath } from '../../src/planning/targets';
import { hashContextSources } from '../../src/utils/fs';
import { docker, DOCKER, dockerOrThrow, dockerSuiteGate, localRefs, removeRefs } from '../support/docker';
import { startAuthRegistry, type AuthRegistry } from '../support/auth-registry';
import { ensurePluginBuilt, PLUGIN_ROOT } from '../support/workspace';

const NODE = 'node:20-bookworm-slim';
const BUSYBOX = 'nxdd-test/busybox:1';
const RUN = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const PREFIX = `nxdd-h10-${RUN}-`;
/** NXDD_PRIVATE_REGISTRY_PORT, else a port that was free a moment ago (both client modes may run at once). */
function registryPort(): Promise<number> {
  if (process.env.NXDD_PRIVATE_REGISTRY_PORT) return Promise.resolve(Number(process.env.NXDD_PRIVATE_REGISTRY_PORT));
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const skip = dockerSuiteGate('private-deps', { images: [NODE, BUSYBOX] });
const describeDocker = skip ? describe.skip : describe;

let engine: DockerEngine;
const work = mkdtempSync(join(tmpdir(), 'nxdd-private-'));

beforeAll(async () => {
  if (skip) return;
  engine = new DockerEngine(await probeDocker({ bin: DOCKER }));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (!skip) removeRefs(localRefs(PREFIX));
});

function write(root: string, files: Record<string, string>) {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/** Every file inside `docker save` of an image: each layer tar, the config, the manifest. */
function savedFiles(ref: string, dir: string): Array<{ name: string; bytes: Buffer }> {
  mkdirSync(dir, { recursive: true });
  const tar = join(dir, 'image.tar');
  dockerOrThrow(['save', '-o', tar, ref]);
  const out = join(dir, 'x');
  mkdirSync(out);
  const untar = spawnSync('tar', ['-xf', tar, '-C', out], { encoding: 'utf8' });
  if (untar.status !== 0) throw new Error(untar.stderr);
  const files: Array<{ name: string; bytes: Buffer }> = [];
  const visit = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) visit(join(d, e.name), `${rel}${e.name}/`);
      else if (e.isFile()) files.push({ name: `${rel}${e.name}`, bytes: readFileSync(join(d, e.name)) });
    }
  };
  visit(out, '');
  return files;
}

describeDocker('private npm packages through a BuildKit secret', () => {
  let registry: AuthRegistry;
  const ws = join(work, 'ws');
  const log: string[] = [];

  beforeAll(async () => {
    registry = await startAuthRegistry(join(work, 'verdaccio'), await registryPort());
    const userconfig = join(work, 'publisher.npmrc');
    writeFileSync(userconfig, `${registry.url.replace(/^http:/, '')}/:_authToken=${registry.token}\n`, { mode: 0o600 });
    const pkg = join(work, 'greet');
    write(pkg, {
      'package.json': JSON.stringify({ name: '@private/greet', version: '1.0.0', main: 'index.js' }),
      'index.js': "module.exports = () => 'hello from a private package';\n",
    });
    const env = { ...process.env, NPM_CONFIG_USERCONFIG: userconfig };
    const published = spawnSync('npm', ['publish', pkg, '--registry', registry.url, '--ignore-scripts'], { env, encoding: 'utf8' });
    if (published.status !== 0) throw new Error(`npm publish failed: ${published.stderr}`);

    // The workspace as a user has it: a committed .npmrc that names the token by variable.
    write(ws, {
      '.npmrc': `@private:registry=${registry.url}/\n${registry.url.replace(/^http:/, '')}/:_authToken=\${NPM_TOKEN}\n`,
      'package.json': JSON.stringify({ name: 'svc', version: '1.0.0', dependencies: { '@private/greet': '1.0.0' } }, null, 2),
      'dist/main.js': "console.log(require('@private/greet')());\n",
    });
    const locked = spawnSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: ws,
      env: { ...process.env, NPM_TOKEN: registry.token, NPM_CONFIG_USERCONFIG: join(work, 'empty.npmrc') },
      encoding: 'utf8',
    });
    if (locked.status !== 0) throw new Error(`npm install --package-lock-only failed: ${locked.stderr}`);
    writeFileSync(
      join(ws, 'Dockerfile'),
      renderNodeDockerfile({
        projectName: 'svc',
        projectRoot: '.',
        packageManager: 'npm',
        lockfile: 'package-lock.json',
        buildOutputPath: 'dist',
        main: 'main.js',
        compile: 'host',
        runtime: 'debian-slim',
        nodeMajor: '20',
        baseImage: NODE,
        runtimeImage: NODE,
      })
    );
  }, 180_000);

  afterAll(async () => {
    await registry?.stop();
  });

  it('the registry refuses anonymous reads (the token is really needed)', () => {
    const view = (userconfig: string) =>
      spawnSync('npm', ['view', '@private/greet', 'version', '--registry', registry.url], {
        env: { ...process.env, NPM_CONFIG_USERCONFIG: userconfig },
        encoding: 'utf8',
      });
    const anonymous = view(join(work, 'empty.npmrc'));
    expect(anonymous.status).not.toBe(0);
    expect(anonymous.stderr).toMatch(/E401|E403/);
    expect(view(join(work, 'publisher.npmrc')).stdout.trim()).toBe('1.0.0');
  });

  it('npm ci in the generated Dockerfile installs it with the .npmrc secret; no token anywhere in any image', async () => {
    const env = { NPM_TOKEN: registry.token, NX_DOCKER_NETWORK: 'host' };
    const settings = resolveSettings({ imagePrefix: PREFIX, tags: ['latest'] }, env, {}, ws);
    expect(settings.network).toBe('host');
    expect(settings.secrets.map((s) => s.id)).toEqual(['npmrc']);
    const ctx = (target?: string) => ({
      workspaceRoot: ws,
      project: target ? `svc-${target}` : 'svc',
      projectRoot: '.',
      projectGraph: { nodes: {}, dependencies: {} },
      engine,
      settings,
      bases: [],
      inputHash: `h10-${RUN}${target ? `-${target}` : ''}`,
      log: (line: string) => log.push(line),
      git: { sha: 'a'.repeat(40), remote: `https://gitlab-ci-token:${registry.token}@gitlab.example/o/r.git` },
    });
    const receipt = await buildService({ dockerfile: 'Dockerfile', context: '.', base: false }, ctx());
    const deps = await buildService({ dockerfile: 'Dockerfile', context: '.', base: false, target: 'deps' }, ctx('deps'));

    // The private package was installed and runs.
    const ran = docker(['run', '--rm', receipt.ref]);
    expect(ran.stdout.trim()).toBe('hello from a private package');
    expect(log.join('\n')).toContain('Build secrets (values hidden): npmrc');

    // The token is nowhere: not in a layer, a config (labels, history), the receipt or the log.
    const scanned: string[] = [];
    for (const [i, ref] of [receipt.ref, deps.ref].entries()) {
      for (const file of savedFiles(ref, join(work, `save-${i}`))) {
        scanned.push(`${ref} ${file.name}`);
        expect({ file: file.name, leaks: file.bytes.includes(registry.token) }).toEqual({ file: file.name, leaks: false });
        expect({ file: file.name, npmrc: /(^|\/)\.npmrc$/.test(file.name) }).toEqual({ file: file.name, npmrc: false });
      }
    }
    const layers = scanned.filter((s) => s.endsWith('layer.tar'));
    expect(layers.length).toBeGreaterThanOrEqual(4);
    // eslint-disable-next-line no-console
    console.log(`private-deps: scanned ${scanned.length} files (${layers.length} layer tars) of 2 images — token found in none`);
    const labels = JSON.parse(dockerOrThrow(['image', 'inspect', '--format', '{{json .Config.Labels}}', receipt.ref]));
    expect(labels['org.opencontainers.image.source']).toBe('https://gitlab.example/o/r');
    const receiptText = readFileSync(join(ws, serviceReceiptPath('.')), 'utf8');
    expect(receiptText.includes(registry.token)).toBe(false);
    expect(log.join('\n').includes(registry.token)).toBe(false);
    // No .npmrc in the image's file system either (the secret mount leaves nothing behind).
    expect(docker(['run', '--rm', '--entrypoint', 'sh', receipt.ref, '-c', 'ls -A /app']).stdout.split('\n')).not.toContain('.npmrc');
    // The 0600 temp files are gone after the build.
    const leftovers = readdirSync(tmpdir())
      .filter((d) => d.startsWith('nx-docker-delta-'))
      .flatMap((d) => {
        try {
          return readdirSync(join(tmpdir(), d)).map((f) => readFileSync(join(tmpdir(), d, f)));
        } catch {
          return [];
        }
      });
    expect(leftovers.some((b) => b.includes(registry.token))).toBe(false);
  }, 300_000);

  it('without NPM_TOKEN the build stops before docker runs, with one sentence', () => {
    expect(() => resolveSettings({}, {}, {}, ws)).toThrow(
      ".npmrc uses ${NPM_TOKEN}, which is not set in this build's environment — export NPM_TOKEN (in CI, from a secret) or remove that line."
    );
  });
});

describeDocker('.dockerignore: the context reader sends what docker build sends', () => {
  const FILES: Record<string, string> = {
    'app/main.js': '1',
    'app/secrets/key.pem': 'k',
    'app/secrets/public.pem': 'p',
    'app/coverage/lcov.info': 'c',
    'app/src/deep/coverage/x.txt': 'x',
    'app/README.md': 'r',
    'app/docs/a.md': 'a',
    'app/.env': 'E',
    'app/.env.example': 'e',
    'top.txt': 't',
  };
  const LIST = [
    `FROM ${BUSYBOX}`,
    'COPY . /ctx',
    `RUN cd /ctx && { find . -type f | sed 's|^./|f |'; find . -type l | while read l; do echo "l \${l#./} $(readlink "$l")"; done; } | sort > /list`,
    '',
  ].join('\n');

  /** What a real build received: `f path` and `l path target` lines. */
  function dockerSees(context: string, dockerfile: string, tag: string): string[] {
    // The same client mode as the plugin's engine: `buildx build --load`, or classic BuildKit.
    const head = engine.client.mode === 'buildx' ? ['buildx', 'build', '--load'] : ['build'];
    const built = docker([...head, '--progress=plain', '-f', dockerfile, '-t', tag, context], { DOCKER_BUILDKIT: '1' });
    if (built.status !== 0) throw new Error(`docker build failed: ${built.stderr.split('\n').slice(-10).join('\n')}`);
    return dockerOrThrow(['run', '--rm', tag, 'cat', '/list']).split('\n').filter(Boolean);
  }

  function readerSees(context: string, dockerfile: string): string[] {
    const ignore = readIgnoreRules(context, dockerfile);
    const entries = readContextSources({ contextDir: context, sources: ['.'], ignore }).get('.') ?? [];
    const hashed = hashContextSources(context, ['.'], { dockerfilePath: dockerfile }).map((f) => f.path).sort();
    expect(hashed).toEqual(entries.map((e) => e.path).sort());
    return entries.map((e) => (e.kind === 'symlink' ? `l ${e.path} ${e.linkTarget}` : `f ${e.path}`)).sort();
  }

  let rowNumber = 0;
  test.each<[string, { ignore?: string; dockerfileIgnore?: string; links?: Record<string, string> }]>([
    ['no .dockerignore', {}],
    ['ignored folder with a ! exception inside', { ignore: 'app/secrets\n!app/secrets/public.pem' }],
    ['** patterns at any depth', { ignore: '**/coverage\n**/*.md' }],
    ['a pattern without ** is anchored at the root', { ignore: 'coverage\nmain.js' }],
    // Not in the table: a `!folder` exception after a file pattern that matched inside it
    // (`**/*.md` then `!app/docs`): classic docker 20.10 sends app/docs/a.md, buildx 0.13 does not.
    ['later lines win', { ignore: '**/*.md\n!app/README.md\napp/*.md\n!app/docs/a.md' }],
    ['ignore everything but one file', { ignore: '*\n!app/main.js' }],
    ['.env files with an example kept', { ignore: '**/.env*\n!**/.env.example' }],
    ['<Dockerfile>.dockerignore replaces .dockerignore', { ignore: 'app', dockerfileIgnore: 'app/docs\ntop.txt' }],
    ['links inside the context are sent as links (also one to a folder)', { links: { 'app/alias.js': 'main.js', 'app/manual': 'docs' } }],
  ])('%s', (_name, row) => {
    const context = mkdtempSync(join(work, 'ctx-'));
    write(context, FILES);
    const dfDir = mkdtempSync(join(work, 'df-'));
    const dockerfile = join(dfDir, 'list.Dockerfile');
    writeFileSync(dockerfile, LIST);
    if (row.ignore !== undefined) writeFileSync(join(context, '.dockerignore'), `${row.ignore}\n`);
    if (row.dockerfileIgnore !== undefined) writeFileSync(`${dockerfile}.dockerignore`, `${row.dockerfileIgnore}\n`);
    for (const [link, target] of Object.entries(row.links ?? {})) symlinkSync(target, join(context, link));
    const tag = `${PREFIX}ctx:row-${++rowNumber}`;
    expect(readerSees(context, dockerfile)).toEqual(dockerSees(context, dockerfile, tag));
  }, 120_000);
});

describeDocker('ssh agent forwarding (git+ssh dependencies)', () => {
  it('--ssh reaches a RUN --mount=type=ssh step as a socket, and nothing of it stays in the image', async () => {
    if (spawnSync('ssh-agent', ['-h']).error) throw new Error('ssh-agent is missing — install openssh-client (apt-get install openssh-client).');
    const sock = join(work, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(sock)).toBe(true);
      const dir = join(work, 'ssh-ctx');
      write(dir, {
        Dockerfile: `FROM ${BUSYBOX}\nRUN --mount=type=ssh,required=false if test -S "$SSH_AUTH_SOCK"; then echo forwarded; else echo absent; fi > /ssh\n`,
      });
      const settings = resolveSettings({ ssh: [`default=${sock}`] }, {}, {}, dir);
      expect(settings.ssh).toEqual([`default=${sock}`]);
      const build = (ssh: string[], tag: string) =>
        engine.build(
          { dockerfile: join(dir, 'Dockerfile'), context: dir, tags: [tag], buildArgs: {}, labels: {}, cacheFrom: [], push: false, noCache: true, ssh },
          { what: 'ssh probe' }
        );
      await build(settings.ssh, `${PREFIX}ssh:with`);
      await build([], `${PREFIX}ssh:without`);
      expect(dockerOrThrow(['run', '--rm', `${PREFIX}ssh:with`, 'cat', '/ssh']).trim()).toBe('forwarded');
      expect(dockerOrThrow(['run', '--rm', `${PREFIX}ssh:without`, 'cat', '/ssh']).trim()).toBe('absent');
      expect(dockerOrThrow(['run', '--rm', `${PREFIX}ssh:with`, 'sh', '-c', 'ls -A /run/buildkit 2>/dev/null | wc -l']).trim()).toBe('0');
    } finally {
      agent.kill('SIGTERM');
    }
  }, 120_000);
});

describeDocker('base lock after kill -9', () => {
  it('a base build succeeds at once after its lock holder was killed', async () => {
    ensurePluginBuilt();
    const ws = join(work, 'lock-ws');
    write(ws, { 'Dockerfile.base': `FROM ${BUSYBOX}\nCOPY tools/hello.sh /usr/local/bin/hello\nRUN echo ${RUN} > /run-id\n`, 'tools/hello.sh': 'echo hi\n' });
    const settings = resolveSettings({ imagePrefix: PREFIX }, {}, {}, ws);
    const spec = { name: 'lock', dockerfile: 'Dockerfile.base', context: '.' };
    // The same plan ensureBase makes: the content tag holds the daemon's platform.
    const plan = planBase(spec, { workspaceRoot: ws, settings, platform: targetPlatform(settings, engine) });
    const lock = baseLockPath(plan.ref);
    const script = `require(${JSON.stringify(join(PLUGIN_ROOT, 'dist/builds/lock.js'))}).withLock(${JSON.stringify(lock)}, () => { process.stdout.write('held\\n'); setInterval(() => {}, 1000); return new Promise(() => {}); })`;
    const holder = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      holder.once('exit', (code) => reject(new Error(`holder exited (${code})`)));
    });
    expect(existsSync(lock)).toBe(true);
    const exited = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGKILL');
    await exited;
    expect(existsSync(lock)).toBe(true); // the dead holder left it behind

    const started = Date.now();
    const lines: string[] = [];
    const receipt = await ensureBase(spec, { workspaceRoot: ws, project: 'lock', engine, settings, log: (l) => lines.push(l) });
    expect(receipt.outcome).toBe('built');
    expect(lines.join('\n')).not.toContain('Waiting for base');
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(dockerOrThrow(['run', '--rm', receipt.ref, 'cat', '/run-id']).trim()).toBe(RUN);
    expect(existsSync(lock)).toBe(false);
  }, 180_000);
});

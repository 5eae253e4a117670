/**
 * Docker suite: private dependencies and safe build contexts, with real parts.
 *
 * - A Verdaccio that requires authentication (htpasswd) serves @private/greet; generated
 *   Dockerfiles install it with npm ci, pnpm (a pnpm workspace on the generated pnpm base), yarn
 *   classic and yarn berry (`.yarnrc.yml` with `npmAuthToken: "${NPM_TOKEN}"`), the workspace's own rc file
 *   passed as a BuildKit secret on `--network=host`.
 * - A real sshd on 127.0.0.1 (key-only) serves a git repository; a `git+ssh://` dependency installs
 *   in the deps step through the forwarded ssh-agent (NX_DOCKER_SSH=default).
 * - Then the token and the private key are searched for in every file of `docker save` of every
 *   image built (layer tars, configs with inline cache metadata), the daemon's whole data root (a
 *   superset of what a registry cache export could upload), the workspaces, receipts, staged
 *   contexts, temp folders and the log.
 * - A `.dockerignore` table: what a real `docker build` sends (an image that lists its context)
 *   equals what the context reader — the one hashing and staging use — reads, row by row; links
 *   that escape or are broken are one sentence before docker runs.
 * - `kill -9` of a base-lock holder, then a base build that succeeds at once.
 *
 * Runs with the client the environment gives (NX_DOCKER_BIN: classic BuildKit or buildx).
 * Ports (loopback only): NXDD_PRIVATE_REGISTRY_PORT / NXDD_PRIVATE_SSH_PORT, else free ones.
 * Packages from the npm registry: pnpm, yarn and yarn berry for the bases (npm install -g) and the
 * host-side lockfiles (npx).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { baseLockPath, ensureBase, planBase } from '../../src/builds/base';
import { buildService, type ServiceContext } from '../../src/builds/service';
import { resolveSettings, targetPlatform, type ImageSettings } from '../../src/builds/settings';
import { readContextSources, readIgnoreRules } from '../../src/context/reader';
import { DockerEngine, probeDocker } from '../../src/engine/docker';
import { renderNodeDockerfile } from '../../src/generators/dockerfile/lib/node-dockerfile';
import { renderNodeBase } from '../../src/generators/init/lib/base-dockerfile';
import type { NodePackageManager } from '../../src/generators/utils/toolchain';
import type { ImageReceipt } from '../../src/planning/receipt';
import { hashContextSources } from '../../src/utils/fs';
import { docker, DOCKER, dockerOrThrow, dockerSuiteGate, localRefs, removeRefs } from '../support/docker';
import { startAuthRegistry, type AuthRegistry } from '../support/auth-registry';
import { mib, scanDataRoot, scanFolders, scanImages, type Needle } from '../support/leak-scan';
import { startSshGitServer, type SshGitServer } from '../support/ssh-git';
import { ensurePluginBuilt, PLUGIN_ROOT } from '../support/workspace';

const NODE = 'node:20-bookworm-slim';
const BUSYBOX = 'nxdd-test/busybox:1';
const RUN = `${process.pid.toString(36)}${Date.now().toString(36)}`;
const PREFIX = `nxdd-h10-${RUN}-`;
/** The port the environment names (NXDD_PRIVATE_REGISTRY_PORT, NXDD_PRIVATE_SSH_PORT), else one that was free a moment ago (both client modes may run at once). */
function freePort(variable: string): Promise<number> {
  if (process.env[variable]) return Promise.resolve(Number(process.env[variable]));
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

describeDocker('private packages: npm, pnpm, yarn classic and yarn berry through a BuildKit secret, git+ssh through --ssh', () => {
  let registry: AuthRegistry;
  let git: SshGitServer;
  const log: string[] = [];
  /** Every image the builds below made (services, their deps images, bases): all are scanned. */
  const built = new Set<string>();
  const workspaces: string[] = [];
  const emptyUserconfig = join(work, 'empty.npmrc');

  beforeAll(async () => {
    writeFileSync(emptyUserconfig, '');
    registry = await startAuthRegistry(join(work, 'verdaccio'), await freePort('NXDD_PRIVATE_REGISTRY_PORT'));
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
    git = await startSshGitServer(join(work, 'git-ssh'), await freePort('NXDD_PRIVATE_SSH_PORT'), {
      name: 'ssh-greet',
      files: {
        'package.json': JSON.stringify({ name: 'ssh-greet', version: '1.0.0', main: 'index.js' }),
        'index.js': "module.exports = () => 'hello from a git+ssh package';\n",
      },
    });
  }, 180_000);

  afterAll(async () => {
    await git?.stop();
    await registry?.stop();
  });

  /** The `.npmrc` a user commits: the registry of the scope and the token by variable. */
  const npmrc = () => `@private:registry=${registry.url}/\n${registry.url.replace(/^http:/, '')}/:_authToken=\${NPM_TOKEN}\n`;

  function ctx(ws: string, project: string, settings: ImageSettings, bases: ServiceContext['bases'] = []): ServiceContext {
    return {
      workspaceRoot: ws,
      project,
      projectRoot: '.',
      projectGraph: { nodes: {}, dependencies: {} },
      engine,
      settings,
      bases,
      inputHash: `h10-${RUN}-${project}`,
      log: (line: string) => log.push(line),
      git: { sha: 'a'.repeat(40), remote: `https://gitlab-ci-token:${registry.token}@gitlab.example/o/r.git` },
    };
  }

  /**
   * A workspace with the generated Dockerfile.base (init's renderer) and service Dockerfile,
   * built like docker-build does: the base, the shared dependency image (deps stage, where the
   * secret and the agent are used), then the service on both.
   */
  async function buildOnBase(
    ws: string,
    project: string,
    pm: NodePackageManager,
    lockfile: string,
    env: NodeJS.ProcessEnv,
    options: { version?: string; osBuildDeps?: string } = {}
  ): Promise<ImageReceipt> {
    let base = renderNodeBase({ kind: 'node', packageManager: pm, version: options.version, lockfile, nodeMajor: '20' }, 'debian', { needed: false, packages: [] });
    if (options.osBuildDeps) base = base.replace('ARG OS_BUILD_DEPS=""', `ARG OS_BUILD_DEPS="${options.osBuildDeps}"`);
    writeFileSync(join(ws, 'Dockerfile.base'), base);
    writeFileSync(
      join(ws, 'Dockerfile'),
      renderNodeDockerfile({
        projectName: project,
        projectRoot: '.',
        packageManager: pm,
        lockfile,
        buildOutputPath: 'out',
        main: 'main.js',
        compile: 'host',
        runtime: 'debian-slim',
        nodeMajor: '20',
        baseImage: `${project}-base`,
        runtimeImage: NODE,
      })
    );
    const settings = resolveSettings({ imagePrefix: PREFIX, tags: ['latest'] }, env, {}, ws);
    const spec = { name: project, dockerfile: 'Dockerfile.base', context: '.' };
    const receipt = await buildService({ dockerfile: 'Dockerfile', context: '.', base: project }, ctx(ws, project, settings, [{ spec, project }]));
    workspaces.push(ws);
    for (const ref of [receipt.ref, receipt.deps?.ref, receipt.base?.ref]) if (ref) built.add(ref);
    return receipt;
  }

  /** What the image prints when run: the private package's greeting. */
  const runs = (ref: string) => docker(['run', '--rm', ref]).stdout.trim();

  it('the registry refuses anonymous reads (the token is really needed)', () => {
    const view = (userconfig: string) =>
      spawnSync('npm', ['view', '@private/greet', 'version', '--registry', registry.url], {
        env: { ...process.env, NPM_CONFIG_USERCONFIG: userconfig },
        encoding: 'utf8',
      });
    const anonymous = view(emptyUserconfig);
    expect(anonymous.status).not.toBe(0);
    expect(anonymous.stderr).toMatch(/E401|E403/);
    expect(view(join(work, 'publisher.npmrc')).stdout.trim()).toBe('1.0.0');
  });

  it('npm ci in the generated Dockerfile installs it with the .npmrc secret', async () => {
    const ws = join(work, 'ws-npm');
    write(ws, {
      '.npmrc': npmrc(),
      'package.json': JSON.stringify({ name: 'svc', version: '1.0.0', dependencies: { '@private/greet': '1.0.0' } }, null, 2),
      'dist/main.js': "console.log(require('@private/greet')());\n",
    });
    const locked = spawnSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: ws,
      env: { ...process.env, NPM_TOKEN: registry.token, NPM_CONFIG_USERCONFIG: emptyUserconfig },
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
    const env = { NPM_TOKEN: registry.token, NX_DOCKER_NETWORK: 'host' };
    const settings = resolveSettings({ imagePrefix: PREFIX, tags: ['latest'] }, env, {}, ws);
    expect(settings.network).toBe('host');
    expect(settings.secrets.map((s) => s.id)).toEqual(['npmrc']);
    const receipt = await buildService({ dockerfile: 'Dockerfile', context: '.', base: false }, { ...ctx(ws, 'svc', settings), inputHash: `h10-${RUN}` });
    const deps = await buildService({ dockerfile: 'Dockerfile', context: '.', base: false, target: 'deps' }, { ...ctx(ws, 'svc-deps', settings), inputHash: `h10-${RUN}-deps` });
    workspaces.push(ws);
    built.add(receipt.ref);
    built.add(deps.ref);

    expect(runs(receipt.ref)).toBe('hello from a private package');
    expect(log.join('\n')).toContain('Build secrets (values hidden): npmrc');
    const labels = JSON.parse(dockerOrThrow(['image', 'inspect', '--format', '{{json .Config.Labels}}', receipt.ref]));
    expect(labels['org.opencontainers.image.source']).toBe('https://gitlab.example/o/r');
    // No .npmrc in the image's file system (the secret mount leaves nothing behind).
    expect(docker(['run', '--rm', '--entrypoint', 'sh', receipt.ref, '-c', 'ls -A /app']).stdout.split('\n')).not.toContain('.npmrc');
  }, 300_000);

  it('pnpm: a pnpm workspace (pnpm-lock.yaml) on the generated pnpm base installs it with the .npmrc secret', async () => {
    const ws = join(work, 'ws-pnpm');
    write(ws, {
      '.npmrc': npmrc(),
      'package.json': JSON.stringify({ name: 'svc-pnpm', version: '1.0.0', packageManager: 'pnpm@9.15.9', dependencies: { '@private/greet': '1.0.0' } }, null, 2),
      'pnpm-workspace.yaml': 'packages:\n  - "libs/*"\n',
      'out/main.js': "console.log(require('@private/greet')());\n",
    });
    const locked = spawnSync('npx', ['-y', 'pnpm@9.15.9', 'install', '--lockfile-only', '--ignore-scripts'], {
      cwd: ws,
      env: { ...process.env, NPM_TOKEN: registry.token, NPM_CONFIG_YES: 'true' },
      encoding: 'utf8',
    });
    if (locked.status !== 0) throw new Error(`pnpm install --lockfile-only failed: ${locked.stdout}\n${locked.stderr}`);
    expect(readFileSync(join(ws, 'pnpm-lock.yaml'), 'utf8')).toContain('@private/greet');
    const receipt = await buildOnBase(ws, 'svc-pnpm', 'pnpm', 'pnpm-lock.yaml', { NPM_TOKEN: registry.token, NX_DOCKER_NETWORK: 'host' }, { version: '9.15.9' });
    expect(receipt.deps?.ref).toBeDefined();
    expect(runs(receipt.ref)).toBe('hello from a private package');
    expect(docker(['run', '--rm', receipt.ref, 'node', '-e', "console.log(require('fs').realpathSync('node_modules/@private/greet'))"]).stdout).toMatch(/\.pnpm\/@private\+greet@1\.0\.0/);
  }, 300_000);

  it('yarn berry: .yarnrc.yml with npmAuthToken "${NPM_TOKEN}" is the yarnrc secret, never copied', async () => {
    const ws = join(work, 'ws-berry');
    write(ws, {
      '.yarnrc.yml': [
        `npmRegistryServer: "${registry.url}"`,
        'npmAuthToken: "${NPM_TOKEN}"',
        'npmAlwaysAuth: true',
        'unsafeHttpWhitelist:',
        '  - "127.0.0.1"',
        '',
      ].join('\n'),
      'package.json': JSON.stringify({ name: 'svc-berry', version: '1.0.0', packageManager: 'yarn@4.5.3', dependencies: { '@private/greet': '1.0.0' } }, null, 2),
      'out/main.js': "console.log(require('@private/greet')());\n",
    });
    const locked = spawnSync('npx', ['-y', '-p', '@yarnpkg/cli-dist@4.5.3', 'yarn', 'install', '--mode=update-lockfile'], {
      cwd: ws,
      env: {
        ...process.env,
        NPM_TOKEN: registry.token,
        NPM_CONFIG_YES: 'true',
        YARN_GLOBAL_FOLDER: join(work, 'yarn-global'),
        YARN_ENABLE_TELEMETRY: '0',
        YARN_ENABLE_GLOBAL_CACHE: 'true',
      },
      encoding: 'utf8',
    });
    if (locked.status !== 0) throw new Error(`yarn install --mode=update-lockfile failed: ${locked.stdout}\n${locked.stderr}`);
    expect(readFileSync(join(ws, 'yarn.lock'), 'utf8')).toContain('@private/greet@npm:1.0.0');
    const env = { NPM_TOKEN: registry.token, NX_DOCKER_NETWORK: 'host' };
    expect(resolveSettings({}, env, {}, ws).secrets.map((s) => s.id)).toEqual(['yarnrc']);
    const receipt = await buildOnBase(ws, 'svc-berry', 'yarn-berry', 'yarn.lock', env, { version: '4.5.3' });
    expect(readFileSync(join(ws, 'Dockerfile'), 'utf8')).not.toMatch(/COPY[^\n]*yarnrc/);
    expect(runs(receipt.ref)).toBe('hello from a private package');
    expect(docker(['run', '--rm', '--entrypoint', 'sh', receipt.ref, '-c', 'ls -A /app']).stdout.split('\n')).not.toContain('.yarnrc.yml');
  }, 300_000);

  it('yarn classic: the .npmrc secret serves yarn 1 too', async () => {
    const ws = join(work, 'ws-yarn');
    write(ws, {
      '.npmrc': npmrc(),
      'package.json': JSON.stringify({ name: 'svc-yarn', version: '1.0.0', packageManager: 'yarn@1.22.22', dependencies: { '@private/greet': '1.0.0' } }, null, 2),
      'out/main.js': "console.log(require('@private/greet')());\n",
    });
    const locked = spawnSync('npx', ['-y', 'yarn@1.22.22', 'install', '--ignore-scripts', '--non-interactive', '--no-progress'], {
      cwd: ws,
      env: { ...process.env, NPM_TOKEN: registry.token, NPM_CONFIG_YES: 'true', YARN_CACHE_FOLDER: join(work, 'yarn1-cache') },
      encoding: 'utf8',
    });
    if (locked.status !== 0) throw new Error(`yarn install failed: ${locked.stdout}\n${locked.stderr}`);
    rmSync(join(ws, 'node_modules'), { recursive: true, force: true });
    expect(readFileSync(join(ws, 'yarn.lock'), 'utf8')).toContain('"@private/greet@1.0.0"');
    const receipt = await buildOnBase(ws, 'svc-yarn', 'yarn', 'yarn.lock', { NPM_TOKEN: registry.token, NX_DOCKER_NETWORK: 'host' }, { version: '1.22.22' });
    expect(runs(receipt.ref)).toBe('hello from a private package');
  }, 300_000);

  it('git+ssh: a dependency on a key-only git server installs through the forwarded agent (NX_DOCKER_SSH=default)', async () => {
    const ws = join(work, 'ws-ssh');
    write(ws, {
      'package.json': JSON.stringify({ name: 'svc-ssh', version: '1.0.0', dependencies: { 'ssh-greet': git.dependencyUrl } }, null, 2),
      'out/main.js': "console.log(require('ssh-greet')());\n",
    });
    // Without the agent the server refuses: the key is really needed.
    const hostGit = (sock?: string) =>
      spawnSync('git', ['ls-remote', git.dependencyUrl.replace(/^git\+/, '')], {
        env: { ...process.env, SSH_AUTH_SOCK: sock ?? '', GIT_SSH_COMMAND: `${git.gitSshCommand} -o BatchMode=yes -o IdentityFile=/dev/null` },
        encoding: 'utf8',
      });
    expect(hostGit().status).not.toBe(0);
    expect(hostGit(git.agentSocket).stdout).toMatch(/^[0-9a-f]{40}\tHEAD$/m);
    const locked = spawnSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: ws,
      env: { ...process.env, SSH_AUTH_SOCK: git.agentSocket, GIT_SSH_COMMAND: git.gitSshCommand, NPM_CONFIG_USERCONFIG: emptyUserconfig },
      encoding: 'utf8',
    });
    if (locked.status !== 0) throw new Error(`npm install --package-lock-only failed: ${locked.stderr}`);
    expect(readFileSync(join(ws, 'package-lock.json'), 'utf8')).toContain(`"resolved": "${git.dependencyUrl}#`);

    // `eval $(ssh-agent)` as a user or CI does: the docker client forwards $SSH_AUTH_SOCK for `--ssh default`.
    const before = process.env.SSH_AUTH_SOCK;
    process.env.SSH_AUTH_SOCK = git.agentSocket;
    try {
      const env = { NX_DOCKER_SSH: 'default', NX_DOCKER_NETWORK: 'host' };
      expect(resolveSettings({}, env, {}, ws).ssh).toEqual(['default']);
      // The base needs git and an ssh client: the generated base's OS_BUILD_DEPS, extended as the README says.
      const receipt = await buildOnBase(ws, 'svc-ssh', 'npm', 'package-lock.json', env, { osBuildDeps: 'git openssh-client' });
      expect(runs(receipt.ref)).toBe('hello from a git+ssh package');
      expect(docker(['run', '--rm', '--entrypoint', 'sh', receipt.deps?.ref ?? receipt.ref, '-c', 'ls -A /run/buildkit 2>/dev/null | wc -l']).stdout.trim()).toBe('0');
    } finally {
      if (before === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = before;
    }
  }, 400_000);

  it('the token and the ssh key are nowhere: every layer and config, the data root, receipts, log, contexts, temp folders', () => {
    expect(built.size).toBeGreaterThanOrEqual(12);
    const needles: Needle[] = [
      { name: 'registry token', value: registry.token },
      { name: 'ssh private key', value: git.privateKeyLine },
    ];
    // Control: this run's image prefix is in every saved manifest and in the daemon's repositories.json,
    // so a scan that reads nothing cannot pass; and the publisher's own .npmrc does hold the token.
    const control: Needle = { name: 'control', value: PREFIX };
    const split = (scan: { hits: string[] }) => {
      const controls = scan.hits.filter((h) => h.startsWith('control in '));
      scan.hits = scan.hits.filter((h) => !h.startsWith('control in '));
      return controls;
    };
    expect(scanFolders('control', [join(work, 'publisher.npmrc')], needles, join(work, 'scan-control')).hits).toEqual([
      `registry token in ${join(work, 'publisher.npmrc')}`,
    ]);
    const images = scanImages([...built], [...needles, control], join(work, 'scan-images'));
    expect(split(images)).toContain('control in manifest.json');
    const folders = scanFolders(
      'workspaces (sources, lockfiles, receipts, staged contexts) and temp folders',
      [...workspaces, ...readdirSync(tmpdir()).filter((d) => d.startsWith('nx-docker-delta-')).map((d) => join(tmpdir(), d))],
      needles,
      join(work, 'scan-folders')
    );
    const dataRoot = scanDataRoot([...needles, control], join(work, 'scan-root'));
    if (!('skipped' in dataRoot)) expect(split(dataRoot).length).toBeGreaterThan(0);
    const logHits = needles.filter((n) => log.join('\n').includes(n.value)).map((n) => `${n.name} in the build log`);

    const lines = [
      `${images.area}: ${images.layerTars} layer tars, ${images.configs} configs (${images.inlineCacheConfigs} with inline cache metadata), ${images.files} files, ${mib(images.bytes)} in ${images.ms} ms`,
      `${folders.area}: ${folders.files} files, ${mib(folders.bytes)}`,
      'skipped' in dataRoot ? `daemon data root: SKIPPED — ${dataRoot.skipped}` : `${dataRoot.area}: ${dataRoot.files} files, ${mib(dataRoot.bytes)} in ${dataRoot.ms} ms`,
      `build log: ${log.length} lines`,
    ];
    const hits = [...images.hits, ...folders.hits, ...('skipped' in dataRoot ? [] : dataRoot.hits), ...logHits];
    // eslint-disable-next-line no-console
    console.log(`private-deps scan (${engine.client.mode}):\n  ${lines.join('\n  ')}\n  → registry token and ssh private key ${hits.length ? `FOUND: ${hits.join('; ')}` : 'found in none'}`);
    if ('skipped' in dataRoot) {
      // eslint-disable-next-line no-console
      console.warn(`SKIPPED the data root scan: ${dataRoot.skipped}`);
    }
    expect(hits).toEqual([]);
    // Each image's config carries the inline cache metadata a registry cache import reads (BUILDKIT_INLINE_CACHE=1): it was searched too.
    expect(images.inlineCacheConfigs).toBeGreaterThan(0);
    expect(images.layerTars).toBeGreaterThanOrEqual(8);
  }, 600_000);

  it('without NPM_TOKEN the build stops before docker runs, with one sentence', () => {
    expect(() => resolveSettings({}, {}, {}, join(work, 'ws-npm'))).toThrow(
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
  it('links that leave the context or are broken: docker sends them dangling; the reader stops with one sentence, and ignoring them agrees again', () => {
    const context = mkdtempSync(join(work, 'ctx-'));
    write(context, FILES);
    const dfDir = mkdtempSync(join(work, 'df-'));
    const dockerfile = join(dfDir, 'list.Dockerfile');
    writeFileSync(dockerfile, LIST);
    symlinkSync('/etc/hostname', join(context, 'app/host'));
    symlinkSync('gone.js', join(context, 'app/broken.js'));
    // What docker itself does: both links reach the image, pointing at nothing there.
    const sent = dockerSees(context, dockerfile, `${PREFIX}ctx:links-sent`);
    expect(sent).toEqual(expect.arrayContaining(['l app/host /etc/hostname', 'l app/broken.js gone.js']));
    writeFileSync(join(context, '.dockerignore'), 'app/broken.js\n');
    expect(() => readerSees(context, dockerfile)).toThrow(
      'app/host is a symbolic link to /etc/hostname, outside the workspace — Docker would copy a dangling link: replace it with the file itself, point it inside the workspace, or add it to .dockerignore.'
    );
    writeFileSync(join(context, '.dockerignore'), 'app/host\n');
    expect(() => readerSees(context, dockerfile)).toThrow('app/broken.js is a broken symbolic link (to gone.js) — fix or delete it, or add it to .dockerignore.');
    writeFileSync(join(context, '.dockerignore'), 'app/host\napp/broken.js\n');
    expect(readerSees(context, dockerfile)).toEqual(dockerSees(context, dockerfile, `${PREFIX}ctx:links-ignored`));
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

/**
 * Docker suite: builds the Dockerfiles the generators write, for real, on the
 * local stand-in images (no Docker Hub here), from contexts staged by
 * stagePrunedContext, then runs the service and asks it over HTTP. Proves the
 * delta claim: a dependency added to service A leaves B's `deps` steps CACHED.
 *
 * Needs: a BuildKit-capable client (default /usr/bin/docker, or NX_DOCKER_BIN)
 * and the local `node:20-bookworm-slim` stand-in (tools/docker-env/make-base-images.sh).
 * Skips visibly with NXDD_SKIP_DOCKER=1 or without a daemon — never under CI=true.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tree } from '@nx/devkit';
import { addProjectConfiguration } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { dockerfileGenerator } from '../../src/generators/dockerfile/dockerfile';
import { initGenerator } from '../../src/generators/init/init';
import {
  FIXTURE_PM_VERSIONS,
  type FixturePm,
  install,
  makeWorkspace,
  stageInChild,
  writeFiles,
} from '../../src/context/testing/workspace-fixture';

const DOCKER = process.env.NX_DOCKER_BIN || '/usr/bin/docker';
const CI = process.env.CI === 'true';
const RUN_ID = `${process.pid}-${Date.now().toString(36)}`;
const PREFIX = 'nxdd-gen-test-';
const NODE_STANDIN = 'node:20-bookworm-slim';
const LOCK: Record<FixturePm, string> = { npm: 'package-lock.json', pnpm: 'pnpm-lock.yaml', yarn: 'yarn.lock' };
const INSTALL_CMD: Record<FixturePm, string> = { npm: 'npm ci', pnpm: 'pnpm install', yarn: 'yarn install' };

function docker(args: string[], input?: string) {
  return spawnSync(DOCKER, args, {
    encoding: 'utf8',
    input,
    env: { ...process.env, DOCKER_BUILDKIT: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

function skipReason(): string | undefined {
  if (CI) return undefined;
  if (process.env.NXDD_SKIP_DOCKER === '1') return 'NXDD_SKIP_DOCKER=1';
  const info = docker(['info', '--format', '{{.ServerVersion}}']);
  if (info.status !== 0) return `no Docker daemon reachable with ${DOCKER} (${(info.stderr || '').trim().split('\n').pop()})`;
  return undefined;
}

const reason = skipReason();
if (reason) {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED generated-node Docker suite: ${reason}`);
}
const describeDocker = reason ? describe.skip : describe;

/** Steps of one stage in `--progress=plain` output, with whether BuildKit reported each CACHED. */
export function stageSteps(progress: string, stage: string): Array<{ name: string; cached: boolean }> {
  const names = new Map<string, string>();
  const cached = new Set<string>();
  for (const line of progress.split('\n')) {
    const step = /^#(\d+) \[([\w-]+) +\d+\/\d+\] (.*)$/.exec(line);
    if (step && step[2] === stage) names.set(step[1], step[3]);
    const c = /^#(\d+) CACHED$/.exec(line);
    if (c) cached.add(c[1]);
  }
  return [...names].map(([id, name]) => ({ name, cached: cached.has(id) }));
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

async function waitForHttp(port: number, path: string, ms = 20_000) {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    try {
      return await httpGet(port, path);
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`no HTTP answer on 127.0.0.1:${port}${path}: ${String(last)}`);
}

/** A real npm workspace: services a (uses debug) and b, both on lib shared (uses ms), http servers. */
function serviceFiles(pm: FixturePm, extraForA: Record<string, string> = {}) {
  const deps = { debug: '4.3.7', ms: '2.1.3', ...extraForA };
  // npm: no packageManager pin, so the base uses the image's npm (nothing to download).
  const packageManager = pm === 'npm' ? undefined : `${pm}@${FIXTURE_PM_VERSIONS[pm]}`;
  return {
    'package.json': JSON.stringify({ name: 'gen-fixture', version: '0.0.0', private: true, packageManager, dependencies: deps, devDependencies: { 'left-pad': '1.3.0' } }, null, 2),
    'nx.json': JSON.stringify({ pluginsConfig: { '@nx/js': { analyzeSourceFiles: true } } }),
    'tsconfig.base.json': JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '@fx/shared': ['libs/shared/src/index.ts'] } } }),
    'apps/a/project.json': JSON.stringify(projectJson('a')),
    'apps/b/project.json': JSON.stringify(projectJson('b')),
    'libs/shared/project.json': JSON.stringify({ name: 'shared', projectType: 'library' }),
    'libs/shared/src/index.ts': "import ms from 'ms';\nexport const greet = (n: string) => `hello from ${n} after ${ms(1500)}`;\n",
    'apps/a/src/main.ts':
      "import debug from 'debug';\nimport { greet } from '@fx/shared';\n" +
      (extraForA['is-number'] ? "import isNumber from 'is-number';\n" : '') +
      'export const x = [debug, greet];\n',
    'apps/b/src/main.ts': "import { greet } from '@fx/shared';\nexport const x = greet;\n",
  };
}

function projectJson(name: string) {
  return {
    name,
    projectType: 'application' as const,
    targets: { build: { executor: 'nx:run-commands', outputs: [`{workspaceRoot}/dist/apps/${name}`], options: { command: 'true' } } },
  };
}

/** Stand-in for a bundler's output (esbuild/webpack inline workspace libs, keep npm packages external). */
function buildOutput(root: string, name: string, useIsNumber = false) {
  const server = [
    "const http = require('http');",
    "const ms = require('ms');",
    name === 'a' ? "const debug = require('debug')('a');" : '',
    useIsNumber ? "const isNumber = require('is-number');" : '',
    'const greet = (n) => `hello from ${n} after ${ms(1500)}`;',
    'http.createServer((req, res) => {',
    "  if (req.url === '/health') { res.end('ok'); return; }",
    `  res.setHeader('content-type', 'application/json');`,
    `  res.end(JSON.stringify({ message: greet('${name}'), uid: process.getuid(), env: process.env.NODE_ENV${useIsNumber ? ', n: isNumber(7)' : ''} }));`,
    '}).listen(Number(process.env.PORT || 3000));',
  ].filter(Boolean);
  writeFiles(root, { [`dist/apps/${name}/main.js`]: server.join('\n') + '\n' });
}

/** Runs the generators on a tree mirroring the fixture, then writes only their Dockerfiles and .dockerignore. */
async function generate(root: string, fixture: Record<string, string>, pm: FixturePm) {
  const tree: Tree = createTreeWithEmptyWorkspace();
  for (const [p, c] of Object.entries(fixture)) tree.write(p, c);
  tree.write(LOCK[pm], readFileSync(join(root, LOCK[pm])));
  for (const name of ['a', 'b']) {
    tree.delete(`apps/${name}/project.json`);
    addProjectConfiguration(tree, name, { root: `apps/${name}`, ...projectJson(name) });
  }
  await initGenerator(tree, { flavour: 'debian', baseDir: '.', skipFormat: true });
  for (const name of ['a', 'b']) {
    await dockerfileGenerator(tree, { project: name, port: 3000, healthPath: '/health', skipFormat: true });
  }
  // nx.json stays the fixture's: the plugin is not installed in the temp workspace.
  for (const p of ['Dockerfile.base', '.dockerignore', 'apps/a/Dockerfile', 'apps/b/Dockerfile']) {
    writeFileSync(join(root, p), tree.read(p, 'utf-8') as string);
  }
}

describeDocker.each(['npm', 'pnpm', 'yarn'] as FixturePm[])('generated Node Dockerfiles build and run (%s, debian flavour)', (pm) => {
  jest.setTimeout(15 * 60_000);
  let root: string;
  const images: string[] = [];
  const containers: string[] = [];
  const baseTag = `${PREFIX}workspace-base:${pm}-${RUN_ID}`;
  const runBaseTag = `${PREFIX}workspace-base:${pm}-${RUN_ID}-run`;
  const tag = (svc: string, n: number) => `${PREFIX}${svc}:${pm}-${RUN_ID}-${n}`;

  const staged: Record<string, Record<string, string>> = {};
  const buildService = (svc: string, n: number) => {
    const ctx = stageInChild({
      workspaceRoot: root,
      projectName: svc,
      dockerfilePath: join(root, `apps/${svc}/Dockerfile`),
      outputDir: join(root, `.nx-docker-delta/contexts/${svc}`),
    });
    if (ctx.error) throw new Error(ctx.error);
    const t = tag(svc, n);
    const r = docker([
      'build', '--progress=plain',
      '-f', join(root, `apps/${svc}/Dockerfile`),
      '--build-arg', `BASE_IMAGE=${runBaseTag}`,
      '--build-arg', `RUNTIME_IMAGE=${NODE_STANDIN}`,
      '-t', t, ctx.dir,
    ]);
    if (r.status !== 0) throw new Error(`docker build ${svc} failed:\n${r.stderr.slice(-4000)}`);
    images.push(t);
    const manifests = Object.fromEntries(
      ctx.files.filter((f) => !f.includes('/')).map((f) => [f, readFileSync(join(ctx.dir, f), 'utf8')])
    );
    return { tag: t, progress: r.stderr, files: ctx.files, manifests };
  };

  beforeAll(() => {
    const img = docker(['image', 'inspect', NODE_STANDIN]);
    if (img.status !== 0) {
      throw new Error(`Local image ${NODE_STANDIN} is missing — run \`bash tools/docker-env/make-base-images.sh\` first (no Docker Hub on this machine).`);
    }
    root = makeWorkspace(pm, serviceFiles(pm), 'nxdd-gen-test-');
  });

  afterAll(() => {
    if (containers.length) docker(['rm', '-f', ...containers]);
    if (images.length) docker(['rmi', '-f', ...images]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('builds the base from init output, then both services, and they answer over HTTP as non-root', async () => {
    await generate(root, serviceFiles(pm), pm);
    buildOutput(root, 'a');
    buildOutput(root, 'b');
    const emptyCtx = mkdtempSync(join(tmpdir(), 'nxdd-gen-test-basectx-'));
    // Debian build deps are real apt installs: opt in with NXDD_TEST_OS_DEPS=1 (slow on a cold cache).
    const osDeps = process.env.NXDD_TEST_OS_DEPS === '1' ? [] : ['--build-arg', 'OS_BUILD_DEPS='];
    const base = docker(['build', '--progress=plain', '-f', join(root, 'Dockerfile.base'), ...osDeps, '-t', baseTag, emptyCtx]);
    expect(base.stderr.slice(-3000)).not.toMatch(/ERROR/);
    expect(base.status).toBe(0);
    images.push(baseTag);
    // BuildKit keys cache on layer content, so service steps built by an earlier run of this suite would
    // be CACHED and prove nothing: one run-marker layer on top of the generated base makes this run cold.
    writeFileSync(join(emptyCtx, 'Dockerfile'), `FROM ${baseTag}\nRUN echo ${RUN_ID} > /etc/nxdd-test-run\n`);
    const marked = docker(['build', '-t', runBaseTag, emptyCtx]);
    rmSync(emptyCtx, { recursive: true, force: true });
    expect(marked.status).toBe(0);
    images.push(runBaseTag);

    for (const svc of ['a', 'b']) {
      const built = buildService(svc, 1);
      staged[svc] = built.manifests;
      expect(built.files.filter((f) => f !== 'pnpm-workspace.yaml')).toEqual([`dist/apps/${svc}/main.js`, LOCK[pm], 'package.json'].sort());
      const run = docker(['run', '-d', '-p', '127.0.0.1:0:3000', built.tag]);
      expect(run.stderr).toBe('');
      const id = run.stdout.trim();
      containers.push(id);
      const port = Number(docker(['port', id, '3000/tcp']).stdout.trim().split(':').pop());
      const res = await waitForHttp(port, '/');
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ message: `hello from ${svc} after 2s`, uid: 1000, env: 'production' });
      expect((await httpGet(port, '/health')).body).toBe('ok');
      // The image's own HEALTHCHECK command (node, no curl) passes inside the container.
      const hc = JSON.parse(docker(['inspect', '--format', '{{json .Config.Healthcheck.Test}}', built.tag]).stdout);
      expect(docker(['exec', id, ...hc.slice(1)]).status).toBe(0);
      const size = docker(['image', 'inspect', '--format', '{{.Size}}', built.tag]).stdout.trim();
      // eslint-disable-next-line no-console
      console.log(`${built.tag}: ${(Number(size) / 1e6).toFixed(1)} MB`);
    }
  });

  it("adding a dependency to service a leaves b's deps steps CACHED (byte-stable pruned context)", () => {
    // Both workspace states, captured once (one real install), so switching between them is a file write.
    const state = (files: Record<string, string>) => ({
      ...files,
      [LOCK[pm]]: readFileSync(join(root, LOCK[pm]), 'utf8'),
    });
    const before = state(serviceFiles(pm));
    writeFiles(root, serviceFiles(pm, { 'is-number': '7.0.0' }));
    install(root, pm);
    const after = state(serviceFiles(pm, { 'is-number': '7.0.0' }));
    const switchTo = (files: Record<string, string>, isNumber: boolean) => {
      writeFiles(root, files);
      rmSync(join(root, '.nx'), { recursive: true, force: true });
      buildOutput(root, 'a', isNumber);
    };
    const buildCacheEntries = () => Number(docker(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}']).stdout.match(/Build Cache=(\d+)/)?.[1] ?? 0);

    // Other suites on this daemon may run `docker builder prune` (tests/docker/core.spec.ts does), which
    // fakes a miss. Each attempt warms b on the old state and rebuilds it right after the change; an
    // attempt during which the build cache shrank is retried, any other miss fails.
    let bDeps: Array<{ name: string; cached: boolean }> = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      switchTo(before, false);
      buildService('b', 1);
      const entries = buildCacheEntries();
      switchTo(after, true);
      const b = buildService('b', 2);
      expect(b.manifests).toEqual(staged['b']);
      // FROM only resolves the base image; BuildKit never reports it CACHED.
      bDeps = stageSteps(b.progress, 'deps').filter((s) => !s.name.startsWith('FROM '));
      if (bDeps.every((s) => s.cached) || buildCacheEntries() >= entries) break;
      // eslint-disable-next-line no-console
      console.warn(`attempt ${attempt}: the build cache shrank during the window (pruned by another process) — retrying`);
    }
    // eslint-disable-next-line no-console
    console.log(`b deps steps after a gained a dependency:\n${bDeps.map((s) => `  ${s.cached ? 'CACHED' : 'built '} ${s.name.slice(0, 90)}`).join('\n')}`);
    expect(bDeps.map((s) => s.name.split(' ')[0])).toEqual(expect.arrayContaining(['COPY', 'RUN']));
    expect(bDeps.filter((s) => !s.cached)).toEqual([]);

    const a = buildService('a', 2);
    const aInstall = stageSteps(a.progress, 'deps').find((s) => s.name.includes(INSTALL_CMD[pm]));
    expect(aInstall).toEqual(expect.objectContaining({ cached: false }));
  });
});

describeDocker('generated Node Dockerfile with --compile=docker runs `nx build` inside the image (npm)', () => {
  jest.setTimeout(15 * 60_000);
  let root: string;
  const images: string[] = [];
  const containers: string[] = [];
  const baseTag = `${PREFIX}workspace-base:cd-${RUN_ID}`;
  const build = {
    executor: 'nx:run-commands',
    outputs: ['{workspaceRoot}/dist/apps/a'],
    // A stand-in bundler: inlines the workspace lib, keeps npm packages external.
    options: { command: "mkdir -p dist/apps/a && sed 's#@fx/shared#./shared.js#' apps/a/src/main.js > dist/apps/a/main.js && cp libs/shared/src/index.js dist/apps/a/shared.js" },
  };
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'cd-fixture', version: '0.0.0', private: true, dependencies: { ms: '2.1.3' }, devDependencies: { nx: '23.2.1' } }, null, 2),
    'nx.json': JSON.stringify({ pluginsConfig: { '@nx/js': { analyzeSourceFiles: true } } }),
    'tsconfig.base.json': JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '@fx/shared': ['libs/shared/src/index.js'] } } }),
    'apps/a/project.json': JSON.stringify({ name: 'a', projectType: 'application', targets: { build } }),
    'libs/shared/project.json': JSON.stringify({ name: 'shared', projectType: 'library' }),
    'apps/a/src/main.js': "const { greet } = require('@fx/shared');\nrequire('http').createServer((q, s) => s.end(greet('a'))).listen(3000);\n",
    'libs/shared/src/index.js': "const ms = require('ms');\nexports.greet = (n) => 'hello ' + n + ' built in docker ' + ms(2000);\n",
  };

  beforeAll(() => {
    root = makeWorkspace('npm', files, 'nxdd-gen-test-cd-');
  });
  afterAll(() => {
    if (containers.length) docker(['rm', '-f', ...containers]);
    if (images.length) docker(['rmi', '-f', ...images]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('stages sources + a build manifest with nx, builds without host output, and serves', async () => {
    const tree: Tree = createTreeWithEmptyWorkspace();
    for (const f of ['package.json', 'package-lock.json', 'nx.json', 'tsconfig.base.json']) tree.write(f, readFileSync(join(root, f)));
    addProjectConfiguration(tree, 'a', { root: 'apps/a', projectType: 'application', targets: { build } });
    addProjectConfiguration(tree, 'shared', { root: 'libs/shared', projectType: 'library' });
    await initGenerator(tree, { flavour: 'debian', baseDir: '.', skipFormat: true });
    await dockerfileGenerator(tree, { project: 'a', compile: 'docker', workspaceDeps: ['libs/shared'], port: 3000, skipFormat: true });
    for (const p of ['Dockerfile.base', 'apps/a/Dockerfile']) writeFileSync(join(root, p), tree.read(p, 'utf-8') as string);

    const ctx = stageInChild({
      workspaceRoot: root,
      projectName: 'a',
      dockerfilePath: join(root, 'apps/a/Dockerfile'),
      outputDir: join(root, '.nx-docker-delta/contexts/a'),
    });
    expect(ctx.error).toBeUndefined();
    expect(ctx.files.some((f) => f.startsWith('dist/'))).toBe(false);
    expect(JSON.parse(readFileSync(join(ctx.dir, '.nx-docker-delta/build-manifest/package.json'), 'utf8')).devDependencies).toEqual({ nx: '23.2.1' });
    expect(JSON.parse(readFileSync(join(ctx.dir, 'package.json'), 'utf8')).devDependencies).toBeUndefined();

    const emptyCtx = mkdtempSync(join(tmpdir(), 'nxdd-gen-test-basectx-'));
    const base = docker(['build', '-f', join(root, 'Dockerfile.base'), '--build-arg', 'OS_BUILD_DEPS=', '-t', baseTag, emptyCtx]);
    rmSync(emptyCtx, { recursive: true, force: true });
    expect(base.status).toBe(0);
    images.push(baseTag);

    const t = `${PREFIX}a:cd-${RUN_ID}`;
    const r = docker([
      'build', '--progress=plain', '-f', join(root, 'apps/a/Dockerfile'),
      '--build-arg', `BASE_IMAGE=${baseTag}`, '--build-arg', `RUNTIME_IMAGE=${NODE_STANDIN}`,
      '-t', t, ctx.dir,
    ]);
    if (r.status !== 0) throw new Error(`docker build failed:\n${r.stderr.slice(-4000)}`);
    images.push(t);
    expect(r.stderr).toMatch(/nx run a:build/);
    // nx and its toolchain stay in the build stage: the runtime image has production deps only.
    expect(docker(['run', '--rm', t, 'node', '-e', "require.resolve('nx')"]).status).not.toBe(0);

    const id = docker(['run', '-d', '-p', '127.0.0.1:0:3000', t]).stdout.trim();
    containers.push(id);
    const port = Number(docker(['port', id, '3000/tcp']).stdout.trim().split(':').pop());
    expect((await waitForHttp(port, '/')).body).toBe('hello a built in docker 2s');
  });
});

/**
 * Docker suite for content-addressed dependency images (issue 8, item 1), on a real engine, a
 * real registry and real `npm ci` runs inside the builds.
 *
 * One temp npm workspace — a root Dockerfile.base on the `node:20-bookworm-slim` stand-in and
 * three services whose Dockerfiles the `dockerfile` generator's renderer writes: `a` and `b`
 * need only `ms`, `c` needs `ms` + `is-number` — goes through ordered scenarios: first build
 * (a and b share one dependency image, built once), a code-only change (the dependency image
 * is untouched, no install step runs), a dependency added to one service (only its dependency
 * image is built), push mode, and a fresh machine (this run's images removed from the local
 * store, the registry kept): the dependency images come from the registry (left there on Docker
 * 23+, pulled by the daemon on 20.10) and `npm ci` never runs. Last, work stealing: a task that
 * waits for its dependency set (its lock held, as by another checkout) installs the set of a
 * service that runs after it meanwhile, and that service's receipt says who built it.
 *
 * It never prunes the daemon's build cache, so it runs beside other suites (shared Docker lock):
 * whether a dependency image is found (locally or in the registry) or built is decided by the plugin before any
 * `docker build` (image store, then registry), so the build cache cannot change what is asserted
 * here — no dependency build at all, no `npm ci` step, receipts saying `remote` (or `pulled`). (The core
 * suite proves the layer cache from the registry after `docker builder prune -af`.)
 * Needs the stand-in image, the registry (NXDD_TEST_REGISTRY) and the npm registry reachable
 * from inside builds (the lockfile is resolved at setup).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { buildsReadRegistryImages, docker, dockerSuiteGate, inspectImage, leavesRegistryImagesThere, localRefs, removeRefs } from '../support/docker';
import { NODE_STANDIN, generatedDockerfile, serverSource, serviceProjectJson, workspaceRootFiles } from '../support/node-services';
import { linesWith, ranTasks } from '../support/nx-output';
import { REGISTRY, deleteRepositoriesUnder, listTags, registryProblem } from '../support/registry';
import { NxResult, TestWorkspace, ensurePluginBuilt } from '../support/workspace';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const SUITE = 'dependency-image Docker suite (tests/docker/deps-image.spec.ts)';
const skipped = dockerSuiteGate(SUITE, { images: [NODE_STANDIN] });
const describeDocker = skipped ? describe.skip : describe;

const NS = `nxdd-deps-${Date.now().toString(36)}${process.pid.toString(36)}`;
const SERVICES = ['a', 'b', 'c'];
const STREAM = '--output-style=stream';
const DEPS_REPO = `${NS}/workspace-deps`;
const PUSH_ENV = { PUSH: 'true', NX_DOCKER_REGISTRY: `${REGISTRY}/${NS}` };
const receiptPath = (svc: string) => `dist/nx-docker-delta/apps/${svc}/docker-service.json`;

/** A BuildKit step line of the install (`#9 [deps 4/4] RUN --mount=… npm ci --omit=dev …`). */
const NPM_CI_STEP = /\[deps +\d+\/\d+\] RUN .*\bnpm ci\b/;
const DEPS_BUILT = /Building dependency image /;

function fixtureFiles(): Record<string, string> {
  const files = workspaceRootFiles({ name: 'deps-fixture', dependencies: ROOT_DEPENDENCIES, imagePrefix: `${NS}/`, runLabel: NS });
  const uses: Record<string, string[]> = { a: ['ms'], b: ['ms'], c: ['ms', 'is-number'] };
  for (const svc of SERVICES) {
    files[`apps/${svc}/project.json`] = serviceProjectJson(svc);
    files[`apps/${svc}/src/main.js`] = serverSource(svc, uses[svc]);
    files[`apps/${svc}/Dockerfile`] = generatedDockerfile(svc);
  }
  return files;
}

const ROOT_DEPENDENCIES = { 'is-number': '7.0.0', 'left-pad': '1.3.0', ms: '2.1.3' };

function ok(result: NxResult): NxResult {
  if (result.code !== 0) throw new Error(`nx ${result.args.join(' ')} exited ${result.code ?? result.signal}:\n${result.output}`);
  return result;
}

const measured: string[] = [];

describeDocker('dependency images on a real Docker engine', () => {
  let ws: TestWorkspace;
  const suiteStarted = Date.now();
  const receipt = (svc: string) => ws.readJson(receiptPath(svc));
  const run = async (label: string, args: string[], env?: Record<string, string>) => {
    const r = ok(await ws.nx([...args, STREAM], { env, timeoutMs: 6 * 60_000 }));
    measured.push(`${label}: ${(r.durationMs / 1000).toFixed(1)}s, dependency images built ${linesWith(r.output, DEPS_BUILT).length}, npm ci steps ${linesWith(r.output, NPM_CI_STEP).length}`);
    return r;
  };

  beforeAll(async () => {
    const registry = await registryProblem();
    if (registry) throw new Error(`${SUITE} needs the test registry: ${registry} — run bash tools/docker-env/ensure-registry.sh (or npm test).`);
    ensurePluginBuilt();
    ws = TestWorkspace.create(fixtureFiles(), 'nxdd-deps');
  }, 5 * 60_000);

  afterAll(async () => {
    const leftovers = localRefs(NS);
    if (leftovers.length) removeRefs(leftovers);
    await deleteRepositoriesUnder(NS);
    ws?.dispose();
    // eslint-disable-next-line no-console
    console.log(`${SUITE}: measured\n  ${measured.join('\n  ')}\n  total ${((Date.now() - suiteStarted) / 1000).toFixed(0)}s`);
  }, 2 * 60_000);

  it('services with identical pruned dependencies share one dependency image, built once', async () => {
    const r = await run('first build', ['run-many', '-t', 'docker-build', '--parallel=3']);
    measured.push(...linesWith(r.output, /[Dd]ependency image /).map((l) => `  ${l}`));
    const [a, b, c] = SERVICES.map(receipt);
    expect(a.deps.ref).toBe(b.deps.ref);
    expect(c.deps.ref).not.toBe(a.deps.ref);
    expect(a.deps.ref).toMatch(new RegExp(`^${DEPS_REPO}:[0-9a-f]{16}$`));
    // Two dependency sets, two installs: the one a and b share ran once (the other found it).
    expect(linesWith(r.output, DEPS_BUILT)).toHaveLength(2);
    expect(linesWith(r.output, NPM_CI_STEP).length).toBeGreaterThanOrEqual(2);
    expect([a.deps.outcome, b.deps.outcome].sort()).toEqual(['built', 'reused']);
    expect(c.deps.outcome).toBe('built');
    expect(inspectImage(a.deps.ref)).toBeDefined();
    expect(inspectImage(c.deps.ref)).toBeDefined();

    // The service image holds the dependency image's node_modules: its packages load.
    measured.push(`receipt of a, "deps": ${JSON.stringify(a.deps)}`, `receipt of b, "deps": ${JSON.stringify(b.deps)}`);
    const probe = docker(['run', '--rm', c.ref, 'node', '-e', "require('ms'); require('is-number'); console.log('deps ok')"]);
    expect(probe.stdout.trim()).toBe('deps ok');
  });

  it('a code-only change never touches the dependency image: no install step runs', async () => {
    const before = receipt('a');
    const depsId = inspectImage(before.deps.ref)?.Id;
    ws.write({ 'apps/a/src/main.js': ws.read('apps/a/src/main.js').replace('revision: 1', 'revision: 2') });
    ws.commit('a: revision 2');
    const r = await run('code-only change in a', ['affected', '-t', 'docker-build', '--base=HEAD~1']);
    expect(ranTasks(r.output)).toContain('a:docker-service');
    const after = receipt('a');
    expect(after.ref).not.toBe(before.ref);
    expect(after.deps).toMatchObject({ ref: before.deps.ref, outcome: 'reused' });
    expect(inspectImage(before.deps.ref)?.Id).toBe(depsId);
    expect(linesWith(r.output, DEPS_BUILT)).toEqual([]);
    expect(linesWith(r.output, NPM_CI_STEP)).toEqual([]);
  });

  it('a dependency added to one service rebuilds only that dependency image', async () => {
    const [a, b, c] = SERVICES.map(receipt);
    ws.write({ 'apps/b/src/main.js': serverSource('b', ['ms', 'left-pad']) });
    ws.commit('b: uses left-pad');
    // Every service builds again (no Nx cache): only b's dependency set moved, so only its
    // dependency image is built; a and c find theirs.
    const r = await run('dependency added to b (all services rebuilt)', ['run-many', '-t', 'docker-build', '--parallel=3', '--skip-nx-cache']);
    expect(linesWith(r.output, DEPS_BUILT)).toHaveLength(1);
    expect(linesWith(r.output, DEPS_BUILT)[0]).toMatch(/^b:/);
    const b2 = receipt('b');
    expect(b2.deps.outcome).toBe('built');
    expect([receipt('a').deps.outcome, receipt('c').deps.outcome]).toEqual(['reused', 'reused']);
    expect(new Set([a.deps.ref, b2.deps.ref, c.deps.ref]).size).toBe(3);
    expect(receipt('a').deps.ref).toBe(a.deps.ref);
    expect(receipt('c').deps.ref).toBe(c.deps.ref);
    expect(b.deps.ref).not.toBe(b2.deps.ref);
    const probe = docker(['run', '--rm', b2.ref, 'node', '-e', "require('left-pad'); console.log('deps ok')"]);
    expect(probe.stdout.trim()).toBe('deps ok');
  });

  it('push mode pushes every dependency image; a machine without them takes them from the registry and never runs npm ci', async () => {
    const first = await run('push mode', ['run-many', '-t', 'docker-build', '--parallel=3', '--skip-nx-cache'], PUSH_ENV);
    // Built before without a registry (same inputs, same tag): tagged and pushed, not rebuilt.
    expect(linesWith(first.output, DEPS_BUILT)).toEqual([]);
    const pushed = SERVICES.map(receipt);
    for (const r of pushed) expect(r.deps).toMatchObject({ ref: expect.stringMatching(new RegExp(`^${REGISTRY}/${NS}/${DEPS_REPO}:`)), digest: expect.stringMatching(/^sha256:/) });
    expect(await listTags(`${NS}/${DEPS_REPO}`)).toHaveLength(3);

    // A fresh machine: none of this run's images (base, dependency images, services), the registry kept.
    removeRefs(localRefs(NS));
    expect(localRefs(NS)).toEqual([]);
    const r = await run('fresh machine (push mode)', ['run-many', '-t', 'docker-build', '--parallel=3', '--skip-nx-cache'], PUSH_ENV);
    measured.push(...linesWith(r.output, /[Dd]ependency image /).map((l) => `  ${l}`));
    expect(linesWith(r.output, NPM_CI_STEP)).toEqual([]);
    expect(linesWith(r.output, DEPS_BUILT)).toEqual([]);
    // Left in the registry: Docker 23+ builds read them from there; on Docker 20.10 a build that
    // needs one pulls it first (its BuildKit must not fetch it, see engine/docker.ts).
    expect(leavesRegistryImagesThere()).toBe(true);
    expect(linesWith(r.output, /Dependency image .* is in the registry — not reinstalled, not pulled\./)).toHaveLength(3);
    for (const svc of SERVICES) {
      expect(receipt(svc).deps).toMatchObject({ ref: pushed[SERVICES.indexOf(svc)].deps.ref, outcome: 'remote' });
    }
    // Pulled only by a docker build that reads one on Docker 20.10; an image assembled in the registry reads none.
    const builtHere = SERVICES.filter((svc) => !receipt(svc).assembled);
    const localDeps = localRefs(NS).filter((ref) => ref.includes(`/${DEPS_REPO}:`));
    measured.push(`  fresh machine: ${SERVICES.length - builtHere.length}/${SERVICES.length} assembled in the registry, ${localDeps.length} dependency images pulled`);
    if (buildsReadRegistryImages() || builtHere.length === 0) {
      expect(localDeps).toEqual([]);
      expect(linesWith(r.output, /Pulling \S+ for this build/)).toEqual([]);
    } else {
      expect(linesWith(r.output, /Pulling \S+ for this build: the BuildKit of Docker/).length).toBeGreaterThan(0);
    }
    const probe = docker(['run', '--rm', receipt('c').ref, 'node', '-e', "require('is-number'); console.log('deps ok')"]);
    expect(probe.stdout.trim()).toBe('deps ok');
  });

  it('a task waiting for a dependency set installs a later service\'s set meanwhile (work stealing), and that service\'s receipt says who built it', async () => {
    // e and f have sets of their own; f's docker-service runs after e's (dependsOn), so e is the
    // one that waits: for its set, held by "another checkout" (a lock this test holds).
    const uses: Record<string, string[]> = { e: ['is-number'], f: ['left-pad'] };
    const files: Record<string, string> = {};
    for (const [svc, packages] of Object.entries(uses)) {
      files[`apps/${svc}/project.json`] = serviceProjectJson(svc);
      files[`apps/${svc}/src/main.js`] = serverSource(svc, packages);
      files[`apps/${svc}/Dockerfile`] = generatedDockerfile(svc);
    }
    const f = JSON.parse(files['apps/f/project.json']);
    f.targets['docker-service'] = { dependsOn: ['build', { projects: ['e'], target: 'docker-service' }] };
    files['apps/f/project.json'] = JSON.stringify(f, null, 2);
    ws.write(files);
    ws.commit('e and f');
    ok(await ws.nx(['run-many', '-t', 'docker-build', '--projects=e,f']));
    const setOf = (svc: string) => receipt(svc).deps.ref as string;
    const [setE, setF] = [setOf('e'), setOf('f')];
    expect(setE).not.toBe(setF);
    removeRefs([setE, setF]);

    // Held by a live process (this one) as another checkout's install would hold it.
    const lock = join(ws.root, '.nx-docker-delta', 'locks', `deps-${setE.slice(setE.lastIndexOf(':') + 1)}`);
    mkdirSync(lock, { recursive: true });
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    writeFileSync(join(lock, 'owner.json'), JSON.stringify({ pid: process.pid, start, boot, host: hostname(), token: 'test' }));
    const started = Date.now();
    const running = run('e waits for its set, f after it (work stealing)', ['run-many', '-t', 'docker-build', '--projects=e,f', '--parallel=1', '--skip-nx-cache']);
    // Released once f's set is there (or after two minutes: then the assertions below say why).
    while (!inspectImage(setF) && Date.now() - started < 120_000) await new Promise((r) => setTimeout(r, 200));
    rmSync(lock, { recursive: true, force: true });
    const r = await running;
    measured.push(...linesWith(r.output, /[Dd]ependency image /).map((l) => `  ${l}`));

    expect(linesWith(r.output, new RegExp(`^e: .*Building dependency image ${escapeRegExp(setF)} for f while waiting for this service's own`))).toHaveLength(1);
    expect(receipt('f').deps).toMatchObject({ ref: setF, outcome: 'built', builtBy: 'e', steps: expect.objectContaining({ total: expect.any(Number) }) });
    expect(linesWith(r.output, /^f: .*Dependency image \S+ was built for f by the task of e while it waited — not reinstalled\./)).toHaveLength(1);
    expect(receipt('e').deps).toMatchObject({ ref: setE, outcome: 'built' });
    expect(receipt('e').deps).not.toHaveProperty('builtBy');
    expect(linesWith(r.output, DEPS_BUILT)).toHaveLength(2);
    const probe = docker(['run', '--rm', receipt('f').ref, 'node', '-e', "require('left-pad'); console.log('deps ok')"]);
    expect(probe.stdout.trim()).toBe('deps ok');
  });
});

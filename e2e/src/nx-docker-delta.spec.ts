/**
 * nx-docker-delta as users meet it: installed from a registry (a throw-away
 * Verdaccio, see tools/scripts/start-local-registry.ts) into workspaces made
 * by `create-nx-workspace --preset=ts`, set up with its generators, building
 * three real HTTP services with the real Docker engine and a real registry.
 *
 * Scenarios (the issue's numbering; 9 runs before 7 because 7 starts from
 * what push mode left in the registry):
 *   1 all from nothing · 2 one service's source · 3 the shared library ·
 *   4 a dependency added to one service · 5 Dockerfile.base changed ·
 *   6 run-many --parallel=3 builds the base once · 9 push mode ·
 *   7 fresh CI machine reuses the registry cache · 8 remote Nx cache, two clones
 *
 * Needs: Docker with BuildKit (NX_DOCKER_BIN, default /usr/bin/docker), a
 * registry that allows deletes (NXDD_TEST_REGISTRY, default 127.0.0.1:5000)
 * and the local node:20-bookworm-slim stand-in (tools/docker-env/). Locally
 * NXDD_SKIP_DOCKER=1 skips with a banner; under CI=true nothing is skipped.
 * NXDD_E2E_NX_VERSIONS=23.2.1 (outside CI) limits the Nx versions.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { skipBanner, skipReason } from '../../tools/e2e/skip';
import { CacheServer, startCacheServer } from './support/cache-server';
import { Docker, getJson } from './support/docker';
import {
  ADDED_DEPENDENCY,
  SERVICES,
  SERVICE_PORT,
  Service,
  USES_SHARED,
  projectName,
  projectRoot,
  serviceSource,
  sharedSource,
  writeFixture,
} from './support/fixture';
import { DockerStep, describeSteps } from './support/nx-output';
import { NxRun, Receipt, Workspace, createWorkspace } from './support/workspace';

const REPO_ROOT = resolve(__dirname, '../..');
const isCI = /^(1|true)$/i.test(process.env.CI ?? '');
const skip = skipReason(process.env);

interface VersionPlan {
  nx: string;
  key: string;
  /** Scenarios run for this version, in order. */
  scenarios: number[];
}

/**
 * The full list on the newest Nx; the lowest supported Nx (newest 20.x) runs the subset that
 * covers inference, pruning, the delta and base changes within the CI time budget.
 */
const ALL_PLANS: VersionPlan[] = [
  { nx: '23.2.1', key: 'nx23', scenarios: [1, 2, 3, 4, 5, 6, 9, 7, 8] },
  { nx: '20.8.4', key: 'nx20', scenarios: [1, 2, 3, 4, 5, 6, 9, 7, 8] },
];
const only = !isCI && process.env.NXDD_E2E_NX_VERSIONS ? process.env.NXDD_E2E_NX_VERSIONS.split(',').map((v) => v.trim()) : undefined;
const PLANS = ALL_PLANS.filter((p) => !only || only.includes(p.nx));

/** Where `init` puts the shared base (its own project), and that project's name. */
const BASE_DIR = 'docker/workspace-base';
const BASE_PROJECT = 'workspace-base';
const BASE_DOCKERFILE = `${BASE_DIR}/Dockerfile.base`;
const svc = (s: Service) => projectName(s);
const allServices = SERVICES.map(svc).sort();
const label = (s: DockerStep) => `${s.stage ?? '-'} ${s.instruction}`;
const npmCi = (steps: DockerStep[]) => steps.find((s) => s.stage === 'deps' && /\bnpm ci\b/.test(s.instruction));
/**
 * Whether the dependency install ran. When the runtime's node_modules layer is CACHED, BuildKit
 * may skip the deps stage entirely (it then prints no step for it): that counts as not run.
 */
const npmCiRan = (steps: DockerStep[]) => npmCi(steps)?.cached === false;
/**
 * Steps a code-only change may run. WORKDIR steps of stages that are not in the final image
 * re-run (as no-ops) whenever BuildKit's local cache was pruned or garbage-collected, e.g. by
 * another suite on the same daemon: the layers that matter still come from the image's cache.
 */
const isCheapStep = (s: DockerStep) => /^(COPY|WORKDIR) /.test(s.instruction);

const runStamp = Date.now().toString(36);
const runDir = process.env.NXDD_E2E_RUN_DIR ?? '';
const dockerBin = process.env.NX_DOCKER_BIN || '/usr/bin/docker';
const registry = process.env.NXDD_TEST_REGISTRY || '127.0.0.1:5000';
const timings: string[] = [];

if (skip) {
  describe('nx-docker-delta e2e', () => {
    // eslint-disable-next-line jest/no-disabled-tests -- visible local opt-out, refused under CI by skipReason
    it.skip(`skipped: ${skip}`, () => undefined);
  });
  process.stderr.write(skipBanner(skip));
} else {
  if (!runDir) throw new Error('NXDD_E2E_RUN_DIR is not set — run the suite through its jest config (globalSetup starts the local registry).');
  const created = new Map<string, Promise<string>>();

  beforeAll(async () => {
    const docker = new Docker({ bin: dockerBin, registry });
    if (!(await docker.imageId('node:20-bookworm-slim'))) {
      throw new Error('The local image node:20-bookworm-slim is missing — run `bash tools/docker-env/make-base-images.sh` (or `npm test`, which provisions it).');
    }
    const ping = await fetch(`http://${registry}/v2/`).catch((e: Error) => e);
    if (ping instanceof Error || !ping.ok) {
      throw new Error(`No registry answers at ${registry} — run \`bash tools/docker-env/ensure-registry.sh\` or set NXDD_TEST_REGISTRY.`);
    }
    // Both create-nx-workspace runs are mostly network and npm: overlap them.
    for (const plan of PLANS) {
      const parent = join(runDir, plan.key);
      mkdirSync(parent, { recursive: true });
      const promise = createWorkspace({ nxVersion: plan.nx, parent, name: 'acme', logFile: join(parent, 'commands.log') });
      promise.catch(() => undefined);
      created.set(plan.key, promise);
    }
  }, 60_000);

  afterAll(() => {
    if (timings.length) process.stderr.write(`\n[e2e] timings\n${timings.map((t) => `  ${t}`).join('\n')}\n`);
  });

  for (const plan of PLANS) {
    describe(`Nx ${plan.nx}`, () => suite(plan, () => created.get(plan.key) as Promise<string>));
  }
}

function suite(plan: VersionPlan, workspaceDir: () => Promise<string>) {
  const namespace = `nxdd-e2e-${runStamp}-${plan.key}`;
  const imagePrefix = `${registry}/${namespace}/`;
  const parent = join(runDir, plan.key);
  const logFile = join(parent, 'commands.log');
  const docker = new Docker({ bin: dockerBin, registry, logFile });
  const containers: string[] = [];
  const cacheServers: CacheServer[] = [];
  let ws: Workspace;
  let failed: string | undefined;
  const started = Date.now();

  const baseEnv = () => ({
    NX_DOCKER_BIN: dockerBin,
    NX_DOCKER_REGISTRY: `${registry}/${namespace}`,
    NX_CACHE_DIRECTORY: join(parent, 'nx-cache'),
  });

  /** Scenarios build on each other: after a failure the rest fail at once, naming it. */
  function scenario(n: number, title: string, body: () => Promise<void>, timeout = 15 * 60_000) {
    if (!plan.scenarios.includes(n)) return;
    it(`${n}. ${title}`, async () => {
      if (failed) throw new Error(`not run: ${failed} failed before it`);
      const t0 = Date.now();
      try {
        await body();
      } catch (error) {
        failed = `scenario ${n}`;
        throw error;
      } finally {
        timings.push(`Nx ${plan.nx} scenario ${n}: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      }
    }, timeout);
  }

  const dockerBuild = (args: string[], env: Record<string, string | undefined> = {}, on: Workspace = ws) =>
    on.nx([...args, '--outputStyle=static'], env);

  /** Every container the suite starts answers over HTTP; returns the JSON body. */
  async function answer(service: Service, ref: string): Promise<Record<string, unknown>> {
    const name = `${namespace}-${service}-${containers.length}`;
    containers.push(name);
    const { url } = await docker.start(ref, name, SERVICE_PORT);
    const body = await getJson(`${url}/health`);
    await docker.removeContainers([name]);
    return body;
  }

  const receipts = (on: Workspace = ws) => Object.fromEntries(SERVICES.map((s) => [s, on.serviceReceipt(projectRoot(s))])) as Record<Service, Receipt>;

  /**
   * A delta in local mode: the service is assembled into the image store (docker load of its app
   * layer and config) on the runtime-with-dependencies image already there — no docker build of
   * the service, so no step at all, and no dependency install.
   */
  function expectAssembledLocally(r: Receipt, steps: DockerStep[], what: string) {
    expect({ what, assembled: r.assembled, steps: steps.map(label), receiptSteps: r.steps }).toEqual({
      what,
      assembled: expect.objectContaining({ local: true, runtimeOutcome: 'found', uploaded: 0 }),
      steps: [],
      receiptSteps: { total: 0, run: 0, cached: 0 },
    });
  }

  beforeAll(async () => {
    const dir = await workspaceDir();
    ws = new Workspace(dir, baseEnv(), logFile);
    const npmRegistry = process.env.NXDD_E2E_NPM_REGISTRY as string;
    writeFixture(dir);
    // The plugin from the local registry (its `e2e` dist-tag) plus @types/node for the services'
    // node:http imports; installing also links the new workspace packages and fetches nanoid.
    await ws.npm(['install', '-D', 'nx-docker-delta@e2e', '@types/node@^20', `--registry=${npmRegistry}`, '--no-audit', '--no-fund']);
    const installed = JSON.parse(ws.read('node_modules/nx-docker-delta/package.json')).version;
    expect(installed).toBe(process.env.NXDD_E2E_PLUGIN_VERSION);
    const projects = (await ws.nx(['show', 'projects'])).result.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('@acme/'));
    expect(projects.sort()).toEqual([projectName('shared'), ...allServices].sort());

    await ws.nx(['g', 'nx-docker-delta:init', '--flavour=debian', '--no-interactive']);
    for (const s of SERVICES) {
      await ws.nx(['g', 'nx-docker-delta:dockerfile', `--project=${svc(s)}`, `--port=${SERVICE_PORT}`, '--no-interactive']);
    }
    // Its own base layer per suite run: every service layer then chains from a base no earlier run
    // (or the other Nx version's suite) built on, so "npm ci ran" or "CACHED" never depends on what
    // BuildKit's cache holds from before. A layer, not an ENV: BuildKit keys COPY steps by the
    // parent's layers only, so an ENV-only difference let a COPY hit an earlier run's cache.
    ws.write(BASE_DOCKERFILE, `${ws.read(BASE_DOCKERFILE)}RUN echo ${namespace} > /tmp/nxdd-e2e-run\n`);
    // The fixture's TypeScript project references, as Nx wants them; nothing the plugin adds may change them.
    await ws.nx(['sync']);
    await ws.commit('services on nx-docker-delta');
    const sync = await ws.nx(['sync:check']);
    expect(sync.result.code).toBe(0);
  }, 15 * 60_000);

  afterAll(async () => {
    for (const server of cacheServers) await server.stop();
    await docker.removeContainers(containers);
    await docker.removeLocal(imagePrefix);
    await docker.deleteNamespace(namespace).catch(() => undefined);
    if (process.env.NXDD_E2E_KEEP !== '1') rmSync(parent, { recursive: true, force: true });
    timings.push(`Nx ${plan.nx} total (incl. create-nx-workspace): ${((Date.now() - started) / 1000).toFixed(1)}s`);
  }, 5 * 60_000);

  it('generates what the services need and infers the targets', async () => {
    // init puts the shared base in a project of its own, which owns docker-base.
    const base = JSON.parse((await ws.nx(['show', 'project', BASE_PROJECT, '--json'])).result.stdout);
    expect(base.root).toBe(BASE_DIR);
    expect(base.targets['docker-base']).toMatchObject({ executor: 'nx-docker-delta:base', cache: false });
    const service = JSON.parse((await ws.nx(['show', 'project', svc('svc-a'), '--json'])).result.stdout);
    expect(service.targets['docker-service']).toMatchObject({ executor: 'nx-docker-delta:service', cache: true });
    // docker-build is a command Nx runs in its own process (no executor task process): the installed plugin's script.
    expect(service.targets['docker-build']).toMatchObject({
      executor: 'nx:run-commands',
      cache: false,
      options: { command: 'node node_modules/nx-docker-delta/dist/bin/docker-build.js --targets=docker-service' },
    });
    expect(ws.read(BASE_DOCKERFILE)).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    for (const s of SERVICES) {
      const dockerfile = ws.read(`${projectRoot(s)}/Dockerfile`);
      expect(dockerfile).toMatch(/^# nx-docker-delta: context=pruned/);
      expect(dockerfile).toContain(`COPY ${projectRoot(s)}/dist ./dist`);
      expect(dockerfile).toMatch(/^ARG BASE_IMAGE=workspace-base$/m);
    }
  });

  let first: { base: Receipt; services: Record<Service, Receipt> };

  scenario(1, 'all services from nothing: the base is built once, every container answers over HTTP', async () => {
    const run = await dockerBuild(['run-many', '-t', 'docker-build']);
    expect(run.ran('docker-base')).toEqual([BASE_PROJECT]);
    expect(run.count(/^Building base /)).toBe(1);
    expect(run.ran('docker-service')).toEqual(allServices);

    const base = ws.baseReceipt(BASE_PROJECT);
    expect(base).toMatchObject({ kind: 'base', outcome: 'built', image: `${imagePrefix}workspace-base` });
    expect(await docker.imageId(base.ref)).toBe(base.imageId);

    const services = receipts();
    for (const s of SERVICES) {
      const r = services[s];
      expect(r).toMatchObject({ kind: 'service', project: svc(s), outcome: 'built', image: `${imagePrefix}acme-${s}`, base: { name: BASE_PROJECT, ref: base.ref } });
      expect(r.ref).toMatch(new RegExp(`^${imagePrefix}acme-${s}:nx-`));
      expect(r.steps.total).toBe(r.steps.run + r.steps.cached);
      expect(await docker.imageId(r.ref)).toBe(r.imageId);
      const body = await answer(s, r.ref);
      expect(body).toMatchObject({ service: s, revision: 1, path: '/health' });
      if (USES_SHARED.includes(s)) expect(body.shared).toBe('shared-1');
      if (s === 'svc-b') expect(body.requestId).toMatch(/^[\w-]{8}$/);
    }

    // Nothing changed: every service comes from the Nx cache and is verified, nothing is built.
    const again = await dockerBuild(['run-many', '-t', 'docker-build']);
    expect(again.ran('docker-service')).toEqual([]);
    expect(again.restored('docker-service', 'local')).toEqual(allServices);
    expect(again.count(/^Building /)).toBe(0);
    expect(again.count(/is in the local image store/)).toBeGreaterThanOrEqual(3);
    first = { base, services };
  });

  scenario(2, "one service's source changed → only that service is rebuilt, only its app layer", async () => {
    ws.write(`${projectRoot('svc-a')}/src/main.ts`, serviceSource('svc-a', 2));
    await ws.commit('svc-a: revision 2');
    const run = await dockerBuild(['affected', '-t', 'docker-build', '--base=HEAD~1', '--head=HEAD']);
    expect(run.ran('docker-service')).toEqual([svc('svc-a')]);
    expect(run.tasks.filter((t) => t.target === 'docker-service').map((t) => t.project)).toEqual([svc('svc-a')]);
    const now = receipts();
    expectAssembledLocally(now['svc-a'], run.steps(svc('svc-a')), 'svc-a');
    expect(run.count(/Building runtime with dependencies /)).toBe(0);
    expect(run.count(/^Building /)).toBe(0);
    expect(now['svc-a'].ref).not.toBe(first.services['svc-a'].ref);
    expect(now['svc-a'].base?.ref).toBe(first.base.ref);
    expect(now['svc-a'].assembled?.runtime).toBe(first.services['svc-a'].assembled?.runtime);
    expect(await docker.imageId(now['svc-a'].ref)).toBe(now['svc-a'].imageId);
    expect(now['svc-b'].ref).toBe(first.services['svc-b'].ref);
    expect(now['svc-c'].ref).toBe(first.services['svc-c'].ref);
    expect(await answer('svc-a', now['svc-a'].ref)).toMatchObject({ service: 'svc-a', revision: 2, shared: 'shared-1' });
  });

  scenario(3, 'the shared library changed → exactly the services that import it are rebuilt', async () => {
    const before = receipts();
    ws.write('packages/shared/src/index.ts', sharedSource('shared-2'));
    await ws.commit('shared: version 2');
    const run = await dockerBuild(['affected', '-t', 'docker-build', '--base=HEAD~1', '--head=HEAD']);
    expect(run.ran('docker-service')).toEqual(USES_SHARED.map(svc).sort());
    expect(run.task(svc('svc-c'), 'docker-service')).toBeUndefined();
    const now = receipts();
    // The library's manifest did not change: no dependency install, each service assembled on the runtime image it had.
    expect(run.count(/^Building /)).toBe(0);
    for (const s of USES_SHARED) {
      expectAssembledLocally(now[s], run.steps(svc(s)), s);
      expect(now[s].ref).not.toBe(before[s].ref);
      expect(await answer(s, now[s].ref)).toMatchObject({ service: s, shared: 'shared-2' });
    }
    expect(now['svc-c'].ref).toBe(before['svc-c'].ref);
  });

  scenario(4, "a dependency added to one service → that service's deps layer rebuilt, the others CACHED", async () => {
    const before = receipts();
    await ws.npm(['install', `${ADDED_DEPENDENCY.name}@${ADDED_DEPENDENCY.range}`, `--workspace=${projectRoot('svc-c')}`, `--registry=${process.env.NXDD_E2E_NPM_REGISTRY}`]);
    ws.write(`${projectRoot('svc-c')}/src/main.ts`, serviceSource('svc-c', 4, { importAdded: true }));
    await ws.commit(`svc-c: add ${ADDED_DEPENDENCY.name}`);
    expect(ws.read('package-lock.json')).not.toContain('127.0.0.1');
    const run = await dockerBuild(['affected', '-t', 'docker-build', '--base=HEAD~1', '--head=HEAD']);
    expect(run.ran('docker-service')).toContain(svc('svc-c'));
    // The install runs in svc-c's new dependency image, built in the same task before its image.
    const steps = run.allSteps(svc('svc-c'));
    expect({ npmCi: npmCi(steps)?.cached, steps: describeSteps(steps) }).toEqual({ npmCi: false, steps: describeSteps(steps) });
    expect(ws.serviceReceipt(projectRoot('svc-c')).deps?.outcome).toBe('built');
    // Its new dependency set makes a new runtime-with-dependencies image, and the service is assembled on it.
    expect(ws.serviceReceipt(projectRoot('svc-c')).assembled).toMatchObject({ local: true, runtimeOutcome: 'built' });
    for (const s of ['svc-a', 'svc-b'] as const) {
      if (!run.ran('docker-service').includes(svc(s))) {
        // Nx 23: their task hashes did not change, so they are not even rebuilt.
        expect(ws.serviceReceipt(projectRoot(s)).ref).toBe(before[s].ref);
        continue;
      }
      // Nx 20–21 re-hash every project when the root lockfile changes (their `build` re-runs too):
      // the task runs again, but every Docker step of theirs is CACHED and the receipt says so.
      const other = run.steps(svc(s));
      expect({ s, ran: other.filter((x) => !x.cached && !isCheapStep(x)).map(label) }).toEqual({ s, ran: [] });
      expect(npmCiRan(other)).toBe(false);
    }
    const pruned = JSON.parse(ws.read(`.nx-docker-delta/contexts/${projectRoot('svc-c')}/package.json`));
    expect(Object.keys(pruned.dependencies ?? {})).toContain(ADDED_DEPENDENCY.name);
    const now = ws.serviceReceipt(projectRoot('svc-c'));
    expect(await answer('svc-c', now.ref)).toMatchObject({ service: 'svc-c', revision: 4, colors: expect.stringMatching(/^(yes|no)$/) });
  });

  /** Changes Dockerfile.base the way a user would: one more instruction. */
  async function changeBase(revision: number) {
    ws.write(BASE_DOCKERFILE, `${ws.read(BASE_DOCKERFILE).replace(/\nENV ACME_BASE_REVISION=\d+\n/, '\n')}ENV ACME_BASE_REVISION=${revision}\n`);
    await ws.commit(`Dockerfile.base: revision ${revision}`);
  }

  function expectRebuiltOnNewBase(run: NxRun, previousBase: Receipt) {
    const base = ws.baseReceipt(BASE_PROJECT);
    expect(base.outcome).toBe('built');
    expect(base.ref).not.toBe(previousBase.ref);
    expect(run.ran('docker-base')).toEqual([BASE_PROJECT]);
    expect(run.count(/^Building base /)).toBe(1);
    expect(run.ran('docker-service')).toEqual(allServices);
    for (const s of SERVICES) expect(ws.serviceReceipt(projectRoot(s)).base?.ref).toBe(base.ref);
    // A new base means new dependency images on it: each distinct dependency set (services with the
    // same pruned dependencies share one) is installed once in this run, the others reuse it.
    const depsRefs = SERVICES.map((s) => ws.serviceReceipt(projectRoot(s)).deps?.ref);
    expect(depsRefs.every((ref) => typeof ref === 'string')).toBe(true);
    const installs = SERVICES.flatMap((s) => run.allSteps(svc(s))).filter((step) => step.stage === 'deps' && /\bnpm ci\b/.test(step.instruction) && !step.cached);
    expect({ depsImages: new Set(depsRefs).size, installs: installs.length }).toEqual({ depsImages: new Set(depsRefs).size, installs: new Set(depsRefs).size });
    return base;
  }

  scenario(5, '`Dockerfile.base` changed → the base rebuilt once, every service rebuilt on it', async () => {
    const previous = ws.baseReceipt(BASE_PROJECT);
    await changeBase(5);
    const run = await dockerBuild(['affected', '-t', 'docker-build', '--base=HEAD~1', '--head=HEAD']);
    const base = expectRebuiltOnNewBase(run, previous);
    for (const s of SERVICES) {
      expect(await answer(s, ws.serviceReceipt(projectRoot(s)).ref)).toMatchObject({ service: s });
    }
    expect(base.image).toBe(`${imagePrefix}workspace-base`);
  });

  scenario(6, '`nx run-many -t docker-build --parallel=3` → the base built exactly once', async () => {
    const previous = ws.baseReceipt(BASE_PROJECT);
    await changeBase(6);
    const run = await dockerBuild(['run-many', '-t', 'docker-build', '--parallel=3']);
    expectRebuiltOnNewBase(run, previous);
    // Exactly one task built it — docker-base or the first service that needed it (services do not wait
    // behind a docker-base task); every other one found it after waiting on its lock.
    const builders = [
      ...(run.task(BASE_PROJECT, 'docker-base')?.output.match(/^Building base /m) ? [`${BASE_PROJECT}:docker-base`] : []),
      ...SERVICES.filter((s) => /^Building base /m.test(run.task(svc(s), 'docker-service')?.output ?? '')).map((s) => `${svc(s)}:docker-service`),
    ];
    expect(builders).toHaveLength(1);
  });

  /** Every tag a receipt names points at its digest in the registry. */
  async function expectRegistryMatches(r: Receipt) {
    expect(r.pushed).toBe(true);
    expect(r.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const repository = r.image.slice(`${registry}/`.length);
    for (const tag of r.tags) {
      expect({ ref: `${r.image}:${tag}`, digest: await docker.registryDigest(repository, tag) }).toEqual({ ref: `${r.image}:${tag}`, digest: r.digest });
    }
  }

  scenario(9, 'push mode (PUSH=true): tags and digests in the registry match the receipts', async () => {
    const run = await dockerBuild(['run-many', '-t', 'docker-build', '--parallel=3'], { PUSH: 'true' });
    // PUSH is an input: the push run is a new task for every service (layers CACHED, then pushed).
    expect(run.ran('docker-service')).toEqual(allServices);
    const base = ws.baseReceipt(BASE_PROJECT);
    await expectRegistryMatches(base);
    for (const s of SERVICES) {
      const r = ws.serviceReceipt(projectRoot(s));
      expect(r.base?.ref).toBe(base.ref);
      await expectRegistryMatches(r);
      // Same content, new task (PUSH is an input): nothing but no-op steps may run again.
      const steps = run.steps(svc(s));
      expect({ s, ran: steps.filter((x) => !x.cached && !isCheapStep(x)).map(label) }).toEqual({ s, ran: [] });
    }
  });

  scenario(7, 'a fresh CI machine (no local images, no build cache, registry kept) → the delta rebuild reuses the registry cache', async () => {
    const before = receipts();
    await docker.removeLocal(imagePrefix);
    expect(await docker.localRefs(imagePrefix)).toEqual([]);
    await docker.pruneBuildCache();
    // A fresh clone: no receipts, no staged contexts, an empty Nx cache.
    rmSync(join(ws.dir, 'dist'), { recursive: true, force: true });
    rmSync(join(ws.dir, '.nx-docker-delta'), { recursive: true, force: true });
    ws.env = { ...ws.env, NX_CACHE_DIRECTORY: join(parent, 'nx-cache-ci') };

    ws.write(`${projectRoot('svc-b')}/src/main.ts`, serviceSource('svc-b', 7));
    await ws.commit('svc-b: revision 7');
    const run = await dockerBuild(['affected', '-t', 'docker-build', '--base=HEAD~1', '--head=HEAD'], { PUSH: 'true' });
    expect(run.ran('docker-service')).toEqual([svc('svc-b')]);
    const base = ws.baseReceipt(BASE_PROJECT);
    // Push mode leaves what the registry has there (a build that needs it on Docker 20.10 would
    // pull it first; this delta is assembled in the registry, so none does).
    expect(base.outcome).toBe('remote');
    expect(run.count(/^Building base /)).toBe(0);

    const steps = run.steps(svc('svc-b'));
    // Dependencies come from the dependency image in the registry: npm ci never ran.
    const everyStep = run.allSteps(svc('svc-b')).filter((s) => !s.cached).map(label);
    expect({ everyStep, npmCiRan: everyStep.some((l) => /\bnpm ci\b/.test(l)) }).toEqual({ everyStep, npmCiRan: false });
    expect(ws.serviceReceipt(projectRoot('svc-b')).deps?.outcome).toBe('remote');
    // The delta is assembled in the registry on the runtime-with-dependencies image the push run
    // (scenario 9) made: the service image itself is not built here at all.
    expect(ws.serviceReceipt(projectRoot('svc-b')).assembled?.runtimeOutcome).toBe('found');
    expect(steps.filter((s) => s.stage === 'runtime' || s.stage === 'release').map(label)).toEqual([]);
    // So the fresh machine pulled neither the base nor the dependency image.
    expect(run.count(/Pulling \S+ for this build/)).toBe(0);
    const pulled = await docker.localRefs(imagePrefix);
    expect(pulled.filter((ref) => ref === base.ref || ref === ws.serviceReceipt(projectRoot('svc-b')).deps?.ref)).toEqual([]);

    const r = ws.serviceReceipt(projectRoot('svc-b'));
    expect(r.ref).not.toBe(before['svc-b'].ref);
    expect(r.base?.ref).toBe(base.ref);
    await expectRegistryMatches(r);
    expect(await answer('svc-b', r.ref)).toMatchObject({ service: 'svc-b', revision: 7, shared: 'shared-2' });
  });

  scenario(8, 'remote cache: clone B restores unchanged services from the remote Nx cache, every digest is real; its delta rebuilds one service', async () => {
    const server = await startCacheServer({ repoRoot: REPO_ROOT, dir: join(parent, 'remote-cache'), token: `t-${runStamp}` });
    cacheServers.push(server);
    const remote = {
      NX_SELF_HOSTED_REMOTE_CACHE_SERVER: server.url,
      NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: server.token,
      PUSH: 'true',
    };
    const a = await ws.clone(join(parent, 'clone-a'), { ...baseEnv(), NX_CACHE_DIRECTORY: join(parent, 'nx-cache-a') }, logFile);
    const b = await ws.clone(join(parent, 'clone-b'), { ...baseEnv(), NX_CACHE_DIRECTORY: join(parent, 'nx-cache-b') }, logFile);

    const runA = await dockerBuild(['run-many', '-t', 'docker-build'], remote, a);
    expect(runA.ran('docker-service')).toEqual(allServices);
    expect((await server.stats()).puts).toBeGreaterThan(0);

    const runB = await dockerBuild(['run-many', '-t', 'docker-build'], remote, b);
    expect(runB.restored('docker-service', 'remote')).toEqual(allServices);
    expect(runB.ran('docker-service')).toEqual([]);
    expect(runB.count(/^Building /)).toBe(0);

    // No false hit: each image B's receipts name is really in the registry under its digest.
    const inB = receipts(b);
    for (const s of SERVICES) {
      const r = inB[s];
      expect(r.digest).toMatch(/^sha256:/);
      await docker.run(['rmi', r.ref, ...r.tags.map((t) => `${r.image}:${t}`), `${r.image}@${r.digest}`], true);
      expect(await docker.imageId(`${r.image}@${r.digest}`)).toBeUndefined();
      await docker.run(['pull', '--quiet', `${r.image}@${r.digest}`]);
      expect(await docker.imageId(`${r.image}@${r.digest}`)).toBe(r.imageId);
    }

    b.write(`${projectRoot('svc-c')}/src/main.ts`, serviceSource('svc-c', 8, { importAdded: true }));
    await b.commit('svc-c: revision 8 (clone B)');
    const delta = await dockerBuild(['run-many', '-t', 'docker-build'], remote, b);
    expect(delta.ran('docker-service')).toEqual([svc('svc-c')]);
    expect(delta.restored('docker-service')).toEqual([svc('svc-a'), svc('svc-b')]);
    const r = b.serviceReceipt(projectRoot('svc-c'));
    // Push mode assembles the delta in the registry, on the runtime-with-dependencies image clone A
    // pushed: one app layer uploaded, no image build at all.
    expect({ assembled: r.assembled?.runtimeOutcome, builds: delta.count(/^Building /), steps: delta.steps(svc('svc-c')).length }).toEqual({
      assembled: 'found',
      builds: 0,
      steps: 0,
    });
    await expectRegistryMatches(r);
    expect(await answer('svc-c', r.ref)).toMatchObject({ service: 'svc-c', revision: 8 });
  });
}


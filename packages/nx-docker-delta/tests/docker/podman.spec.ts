/**
 * The core flow on podman (issue 12): `NX_DOCKER_BIN=podman` for every nx command. A root
 * Dockerfile.base on nxdd-test/busybox:1 and two services on it go through the scenarios of the
 * core suite that podman supports: first build (base once, receipts, images in podman's store and
 * not in docker's), Nx cache hits, a one-service change (earlier steps from podman's layer cache),
 * a removed image rebuilt by docker-build, push mode (receipt digest = registry digest, from
 * --digestfile), and a wiped store restored by pulling by digest. Not here, because podman does
 * not do it (the probe says so): registry layer cache (`--cache-from` of a previous image).
 *
 * Needs podman 4 (tools/docker-env/ensure-podman.sh), nxdd-test/busybox:1 in podman's store
 * (loaded from docker's when missing) and the test registry. Missing podman fails under CI=true
 * and skips loudly locally.
 */
import { spawnSync } from 'node:child_process';
import { DOCKER, inspectImage, loudNotice } from '../support/docker';
import { cacheHits, ranTasks } from '../support/nx-output';
import { PODMAN, podman, podmanImageId, podmanProblem, podmanRefs, podmanRemove } from '../support/podman';
import { REGISTRY, deleteRepositoriesUnder, manifestDigest, registryProblem } from '../support/registry';
import { NxResult, TestWorkspace, ensurePluginBuilt } from '../support/workspace';

const SUITE = 'podman suite (tests/docker/podman.spec.ts)';
const skipped = podmanGate();
const describePodman = skipped ? describe.skip : describe;

/**
 * podman needs no docker daemon, so neither does this suite. No podman: a failure under CI=true
 * (.ci/run installs it), a loud skip locally; NXDD_SKIP_DOCKER=1 skips it locally like the others.
 */
function podmanGate(): string | undefined {
  const ci = /^(1|true)$/i.test(process.env.CI ?? '');
  if (process.env.NXDD_SKIP_DOCKER === '1' && !ci) {
    loudNotice([`DOCKER SUITE SKIPPED: ${SUITE}`, 'because NXDD_SKIP_DOCKER=1 is set (never allowed under CI=true).']);
    return 'NXDD_SKIP_DOCKER=1';
  }
  const problem = podmanProblem();
  if (!problem || ci) return undefined;
  loudNotice([`DOCKER SUITE SKIPPED: ${SUITE}`, `because ${problem}.`, 'Install it: bash tools/docker-env/ensure-podman.sh (under CI=true this is a failure).']);
  return problem;
}

const NS = `nxdd-podman-${Date.now().toString(36)}${process.pid.toString(36)}`;
const ROOT = 'podman-fixture';
const SERVICES = ['svc-a', 'svc-b'];
const RECEIPTS = 'dist/nx-docker-delta';
const receiptPath = (project: string) => `${RECEIPTS}/apps/${project}/docker-service.json`;
const ENV = { NX_DOCKER_BIN: PODMAN };
const PUSH_ENV = { ...ENV, PUSH: 'true', NX_DOCKER_REGISTRY: `${REGISTRY}/${NS}` };
const STREAM = '--output-style=stream';

function fixtureFiles(): Record<string, string> {
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: ROOT, version: '0.0.0', private: true }, null, 2),
    'nx.json': JSON.stringify(
      {
        plugins: [{ plugin: 'nx-docker-delta', options: { imagePrefix: `${NS}/` } }],
        namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] },
      },
      null,
      2
    ),
    '.gitignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n',
    '.dockerignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n.git\napps\n',
    'motd.txt': `nx-docker-delta podman suite ${NS}\n`,
    'Dockerfile.base': 'FROM nxdd-test/busybox:1\nCOPY motd.txt /etc/motd\n',
  };
  for (const name of SERVICES) {
    files[`apps/${name}/project.json`] = JSON.stringify({ name }, null, 2);
    files[`apps/${name}/deps.txt`] = `${name} deps v1\n`;
    files[`apps/${name}/main.txt`] = `${name} main v1\n`;
    files[`apps/${name}/Dockerfile`] = [
      'ARG BASE_IMAGE=workspace-base',
      'FROM ${BASE_IMAGE}',
      'WORKDIR /app',
      'COPY deps.txt ./',
      'RUN cp deps.txt deps.installed',
      'COPY main.txt ./',
      'RUN cat /etc/motd main.txt > main.built',
      '',
    ].join('\n');
  }
  return files;
}

function ok(result: NxResult): NxResult {
  if (result.code !== 0) throw new Error(`nx ${result.args.join(' ')} exited ${result.code ?? result.signal}:\n${result.output}`);
  return result;
}

/** What the image says it holds: `podman run` needs explicit rlimits on this kind of machine. */
function cat(ref: string, file: string): string {
  const result = podman(['run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', ref, 'cat', file]);
  if (result.status !== 0) throw new Error(`podman run ${ref} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

describePodman('nx-docker-delta core flow on podman', () => {
  let ws: TestWorkspace;
  const started = Date.now();

  beforeAll(async () => {
    const problem = podmanProblem();
    if (problem) throw new Error(`${SUITE} needs podman: ${problem} — run bash tools/docker-env/ensure-podman.sh (.ci/run does).`);
    const registry = await registryProblem();
    if (registry) throw new Error(`${SUITE} needs the test registry: ${registry} — run bash tools/docker-env/ensure-registry.sh (or npm test).`);
    if (!podmanImageId('nxdd-test/busybox:1')) {
      // podman's store is its own: bring the base image over from docker's (make-base-images.sh made it).
      const copied = spawnSync('sh', ['-c', `"${DOCKER}" save nxdd-test/busybox:1 | "${PODMAN}" load`], { encoding: 'utf8' });
      if (copied.status !== 0) throw new Error(`loading nxdd-test/busybox:1 into podman failed: ${copied.stderr}`);
    }
    ensurePluginBuilt();
    ws = TestWorkspace.create(fixtureFiles(), 'nxdd-podman');
  }, 5 * 60_000);

  afterAll(async () => {
    podmanRemove(podmanRefs(NS));
    await deleteRepositoriesUnder(NS);
    ws?.dispose();
    // eslint-disable-next-line no-console
    console.log(`${SUITE}: total ${((Date.now() - started) / 1000).toFixed(0)}s`);
  }, 2 * 60_000);

  it('first build: says what podman does differently, builds the base once and both services on it, in podman’s store only', async () => {
    const r = ok(await ws.nx(['run-many', '-t', 'docker-build', STREAM], { env: ENV }));
    expect(r.output).toContain('podman builds with its own per-step layer cache (--layers)');
    expect(ranTasks(r.output)).toEqual([`${ROOT}:docker-base`, `${ROOT}:docker-build`, ...SERVICES.flatMap((s) => [`${s}:docker-build`, `${s}:docker-service`])].sort());
    const base = ws.readJson(`${RECEIPTS}/bases/workspace.json`);
    expect(base).toMatchObject({ kind: 'base', builder: 'podman', outcome: 'built' });
    expect(podmanImageId(base.ref)).toBe(base.imageId);
    for (const name of SERVICES) {
      const receipt = ws.readJson(receiptPath(name));
      expect(receipt).toMatchObject({ kind: 'service', builder: 'podman', outcome: 'built', pushed: false, base: { ref: base.ref } });
      // Every step ran, except that the second service may find `WORKDIR /app` on the shared base cached.
      expect(receipt.steps.run).toBeGreaterThanOrEqual(4);
      expect(receipt.steps.cached).toBeLessThanOrEqual(1);
      expect(podmanImageId(receipt.ref)).toBe(receipt.imageId);
      expect(inspectImage(receipt.ref)).toBeUndefined();
      expect(cat(receipt.ref, '/app/main.built')).toBe(`nx-docker-delta podman suite ${NS}\n${name} main v1\n`);
    }
  });

  it('a second run is all Nx cache hits', async () => {
    const r = ok(await ws.nx(['run-many', '-t', 'docker-build', STREAM], { env: ENV }));
    expect(cacheHits(r.output)).toEqual(SERVICES.map((s) => `${s}:docker-service`));
  });

  it('one service changed: only it rebuilds, its steps before the change come from podman’s layer cache', async () => {
    ws.write({ 'apps/svc-a/main.txt': 'svc-a main v2\n' });
    ws.commit('svc-a v2');
    const r = ok(await ws.nx(['run-many', '-t', 'docker-build', STREAM], { env: ENV }));
    expect(ranTasks(r.output)).toContain('svc-a:docker-service');
    expect(cacheHits(r.output)).toEqual(['svc-b:docker-service']);
    const a = ws.readJson(receiptPath('svc-a'));
    // WORKDIR, COPY deps.txt, RUN cp: cached; COPY main.txt and what follows ran.
    expect(a.steps.cached).toBe(3);
    expect(a.steps.run).toBe(a.steps.total - 3);
    expect(r.output).toMatch(/--> Using cache /);
    expect(cat(a.ref, '/app/main.built')).toContain('svc-a main v2');
  });

  it('an image removed from podman’s store: docker-build rebuilds it after the Nx cache hit', async () => {
    const b = ws.readJson(receiptPath('svc-b'));
    podmanRemove(podmanRefs(`${NS}/svc-b`));
    const r = ok(await ws.nx(['run', 'svc-b:docker-build', STREAM], { env: ENV }));
    expect(cacheHits(r.output)).toEqual(['svc-b:docker-service']);
    const after = ws.readJson(receiptPath('svc-b'));
    expect(after).toMatchObject({ ref: b.ref, outcome: 'rebuilt' });
    expect(podmanImageId(b.ref)).toBe(after.imageId);
  });

  it('push mode: podman pushes every image; the receipt digest is the registry’s', async () => {
    ok(await ws.nx(['run-many', '-t', 'docker-build', STREAM], { env: PUSH_ENV }));
    for (const name of SERVICES) {
      const receipt = ws.readJson(receiptPath(name));
      expect(receipt).toMatchObject({ pushed: true, builder: 'podman', digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) });
      const repository = receipt.image.slice(REGISTRY.length + 1);
      expect(await manifestDigest(repository, receipt.tags[0])).toBe(receipt.digest);
    }
  });

  it('a wiped podman store and a changed service: the base is pulled from the registry, not rebuilt', async () => {
    podmanRemove(podmanRefs(NS));
    ws.write({ 'apps/svc-a/main.txt': 'svc-a main v3\n' });
    ws.commit('svc-a v3');
    const r = ok(await ws.nx(['run-many', '-t', 'docker-build', STREAM], { env: PUSH_ENV }));
    const base = ws.readJson(`${RECEIPTS}/bases/workspace.json`);
    expect(r.output).toContain(`Base workspace pulled from the registry (${base.ref}) — not rebuilt.`);
    expect(cacheHits(r.output)).toEqual(['svc-b:docker-service']);
    const a = ws.readJson(receiptPath('svc-a'));
    expect(a).toMatchObject({ outcome: 'built', pushed: true, base: { ref: base.ref } });
    expect(await manifestDigest(a.image.slice(REGISTRY.length + 1), a.tags[0])).toBe(a.digest);
    expect(cat(a.ref, '/app/main.built')).toContain('svc-a main v3');
  });
});

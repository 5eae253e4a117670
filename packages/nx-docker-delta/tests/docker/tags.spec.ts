/**
 * Docker suite for tags that mean what they say and receipts that are verified (issue 9), on a
 * real engine and a real registry, in whichever client mode the environment gives
 * (NX_DOCKER_BIN / DOCKER_CONFIG).
 *
 * One temp workspace — a root Dockerfile.base on nxdd-test/busybox:1 and one service on it —
 * in push mode with an extra fixed tag (`staging`): build A, change base and service, build B,
 * revert to A. The revert is an Nx cache hit and must move `latest`/`staging` back to A, in the
 * registry (asserted by digest) and in the local image store (by image ID). Then the registry
 * loses A while the local content tag points at B: only A's own image may go back. Then a
 * receipt naming another registry is not trusted: the image is rebuilt. Last, the platform:
 * the daemon's is hashed when none is set, so naming that same platform reuses the base.
 *
 * Every image carries a unique namespace (NS) and cleanup removes only those.
 */
import { dockerOrThrow, dockerSuiteGate, inspectImage, localRefs, removeRefs } from '../support/docker';
import { cacheHits, linesWith, projectLines } from '../support/nx-output';
import { REGISTRY, deleteManifest, deleteRepositoriesUnder, manifestDigest, registryProblem } from '../support/registry';
import { NxResult, TestWorkspace, ensurePluginBuilt } from '../support/workspace';

const SUITE = 'tags Docker suite (tests/docker/tags.spec.ts)';
const skipped = dockerSuiteGate(SUITE, { images: ['nxdd-test/busybox:1'] });
const describeDocker = skipped ? describe.skip : describe;

const NS = `nxdd-tags-${Date.now().toString(36)}${process.pid.toString(36)}`;
const MODE = process.env.NXDD_TEST_BUILDER ?? 'client from NX_DOCKER_BIN/PATH';
const STREAM = '--output-style=stream';
const PUSH_ENV = { PUSH: 'true', NX_DOCKER_REGISTRY: `${REGISTRY}/${NS}`, NX_DOCKER_TAGS: 'staging' };
const SVC = 'svc';
const SVC_REPO = `${NS}/svc`;
const BASE_REPO = `${NS}/workspace-base`;
const SVC_RECEIPT = 'dist/nx-docker-delta/apps/svc/docker-service.json';
const BASE_RECEIPT = 'dist/nx-docker-delta/bases/workspace.json';

function files(version: string): Record<string, string> {
  return {
    'motd.txt': `tags suite ${NS} ${version}\n`,
    'apps/svc/main.txt': `svc main ${version}\n`,
  };
}

function fixture(): Record<string, string> {
  return {
    'package.json': JSON.stringify({ name: 'tags-fixture', version: '0.0.0', private: true }, null, 2),
    'nx.json': JSON.stringify({ plugins: ['nx-docker-delta'], namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] } }, null, 2),
    '.gitignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n',
    '.dockerignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n.git\napps\n',
    'Dockerfile.base': 'FROM nxdd-test/busybox:1\nCOPY motd.txt /etc/motd\n',
    'apps/svc/project.json': JSON.stringify({ name: SVC }, null, 2),
    'apps/svc/Dockerfile': ['ARG BASE_IMAGE=workspace-base', 'FROM ${BASE_IMAGE}', 'WORKDIR /app', 'COPY main.txt ./', 'RUN cat /etc/motd main.txt > main.built', ''].join('\n'),
    ...files('A'),
  };
}

function ok(result: NxResult): NxResult {
  if (result.code !== 0) throw new Error(`nx ${result.args.join(' ')} exited ${result.code ?? result.signal}:\n${result.output}`);
  return result;
}

/** The image a registry tag serves, by the config digest in its manifest (= the local image ID). */
async function registryImageId(repository: string, tag: string): Promise<string | undefined> {
  const response = await fetch(`http://${REGISTRY}/v2/${repository}/manifests/${tag}`, {
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  if (response.status === 404) return undefined;
  return ((await response.json()) as { config: { digest: string } }).config.digest;
}

describeDocker(`moving tags and verified receipts on a real Docker engine (${MODE})`, () => {
  let ws: TestWorkspace;
  const remote = (repo: string) => repo;
  let a: { svc: any; base: any };

  beforeAll(async () => {
    const registry = await registryProblem();
    if (registry) throw new Error(`${SUITE} needs the test registry: ${registry} — run bash tools/docker-env/ensure-registry.sh (or npm test).`);
    ensurePluginBuilt();
    ws = TestWorkspace.create(fixture(), 'nxdd-tags');
  }, 5 * 60_000);

  afterAll(async () => {
    const leftovers = localRefs(NS);
    if (leftovers.length) removeRefs(leftovers);
    // Images whose tags moved away keep only their pushed `repo@digest` reference.
    const byDigest = dockerOrThrow(['image', 'ls', '--digests', '--format', '{{.Repository}}@{{.Digest}}'])
      .split('\n')
      .filter((ref) => ref.includes(`/${NS}/`) && !ref.endsWith('@<none>'));
    if (byDigest.length) removeRefs(byDigest);
    await deleteRepositoriesUnder(NS);
    ws?.dispose();
  }, 2 * 60_000);

  it('a revert is an Nx cache hit and moves latest and staging back to the first build, in the registry and locally', async () => {
    ok(await ws.nx(['run', `${SVC}:docker-build`, STREAM], { env: PUSH_ENV }));
    a = { svc: ws.readJson(SVC_RECEIPT), base: ws.readJson(BASE_RECEIPT) };
    expect(a.svc).toMatchObject({ pushed: true, outcome: 'built', tags: [expect.stringMatching(/^nx-/), 'latest', 'staging'] });
    expect(a.svc.digest).toMatch(/^sha256:/);
    if (process.env.NXDD_TEST_BUILDER) expect(a.svc.builder).toBe(process.env.NXDD_TEST_BUILDER);
    for (const tag of ['latest', 'staging']) expect(await manifestDigest(remote(SVC_REPO), tag)).toBe(a.svc.digest);

    ws.write(files('B'));
    ws.commit('B');
    ok(await ws.nx(['run', `${SVC}:docker-build`, STREAM], { env: PUSH_ENV }));
    const b = { svc: ws.readJson(SVC_RECEIPT), base: ws.readJson(BASE_RECEIPT) };
    expect(b.svc.ref).not.toBe(a.svc.ref);
    expect(b.base.ref).not.toBe(a.base.ref);
    expect(await manifestDigest(remote(SVC_REPO), 'latest')).toBe(b.svc.digest);
    expect(inspectImage(`${REGISTRY}/${SVC_REPO}:latest`)?.Id).toBe(b.svc.imageId);

    ws.git(['revert', '--no-edit', 'HEAD']);
    const r = ok(await ws.nx(['run', `${SVC}:docker-build`, STREAM], { env: PUSH_ENV }));
    expect(cacheHits(r.output)).toContain(`${SVC}:docker-service`);
    // The service's lines are replayed from the Nx cache (A built the base inside them); nothing built or rewrote the base now.
    expect(ws.readJson(BASE_RECEIPT)).toEqual(b.base);
    expect(linesWith(r.output, /Building base/).length).toBeLessThanOrEqual(1);
    expect(ws.readJson(SVC_RECEIPT)).toMatchObject({ ref: a.svc.ref, digest: a.svc.digest, imageId: a.svc.imageId });
    for (const tag of ['latest', 'staging']) {
      expect(await manifestDigest(remote(SVC_REPO), tag)).toBe(a.svc.digest);
      expect(inspectImage(`${REGISTRY}/${SVC_REPO}:${tag}`)?.Id).toBe(a.svc.imageId);
    }
    expect(await manifestDigest(remote(BASE_REPO), 'latest')).toBe(await manifestDigest(remote(BASE_REPO), a.base.ref.split(':').pop()));
    expect(inspectImage(`${REGISTRY}/${BASE_REPO}:latest`)?.Id).toBe(a.base.imageId);
  });

  it('when the registry lost the image, only the image the receipt names is pushed again — never what the local tag now points at', async () => {
    await deleteManifest(remote(SVC_REPO), a.svc.ref.split(':').pop() as string);
    expect(await manifestDigest(remote(SVC_REPO), 'latest')).toBeUndefined();
    // Someone re-pointed the local content tag at another image (here: the base).
    dockerOrThrow(['tag', a.base.imageId, a.svc.ref]);

    const r = ok(await ws.nx(['run', `${SVC}:docker-build`, STREAM], { env: PUSH_ENV }));
    expect(cacheHits(r.output)).toContain(`${SVC}:docker-service`);
    expect(projectLines(r.output, SVC).join('\n')).toContain('was missing from the registry; the local image');
    for (const tag of [a.svc.ref.split(':').pop() as string, 'latest', 'staging']) {
      expect(await registryImageId(remote(SVC_REPO), tag)).toBe(a.svc.imageId);
    }
    expect(inspectImage(a.svc.ref)?.Id).toBe(a.svc.imageId);
  });

  it('a receipt naming another registry is not trusted: the image is rebuilt where today\'s settings say', async () => {
    const good = ws.readJson(SVC_RECEIPT);
    const elsewhere = good.ref.replace(`${REGISTRY}/`, '127.0.0.1:1/');
    ws.write({ [SVC_RECEIPT]: JSON.stringify({ ...good, ref: elsewhere, image: good.image.replace(`${REGISTRY}/`, '127.0.0.1:1/') }, null, 2) });

    // Only the verify step runs: it meets the receipt as a cache would have restored it.
    const r = ok(await ws.nx(['run', `${SVC}:docker-build`, '--exclude-task-dependencies', STREAM], { env: PUSH_ENV }));
    expect(projectLines(r.output, SVC).join('\n')).toContain(`the receipt names ${elsewhere}, but today's settings and inputs make ${good.ref} — rebuilding it.`);
    const rebuilt = ws.readJson(SVC_RECEIPT);
    expect(rebuilt).toMatchObject({ ref: good.ref, outcome: 'rebuilt', pushed: true });
    expect(await manifestDigest(remote(SVC_REPO), 'latest')).toBe(rebuilt.digest);
  });

  it('the platform is in every content hash: the daemon\'s when none is set, so setting that same platform reuses the base', async () => {
    const platform = dockerOrThrow(['version', '--format', '{{.Server.Os}}/{{.Server.Arch}}']).trim();
    const before = { svc: ws.readJson(SVC_RECEIPT), base: ws.readJson(BASE_RECEIPT) };
    expect(before.svc.platform).toBe(platform);
    expect(before.base.platform).toBe(platform);

    const r = ok(await ws.nx(['run', `${SVC}:docker-build`, STREAM], { env: { ...PUSH_ENV, NX_DOCKER_PLATFORM: platform } }));
    expect(linesWith(r.output, /Building base/)).toEqual([]);
    expect(ws.readJson(BASE_RECEIPT).ref).toBe(before.base.ref);
    expect(ws.readJson(SVC_RECEIPT).platform).toBe(platform);

  });

  it('tags set on the docker-build target itself (a list in project.json) and tags on the command line point at the image it checks', async () => {
    // docker-build is an nx:run-commands command: Nx appends scalar options to it, never lists —
    // the command reads its own target's options from the project graph.
    ws.write({ 'apps/svc/project.json': JSON.stringify({ name: SVC, targets: { 'docker-build': { options: { tags: ['edge', 'qa'] } } } }, null, 2) });
    ws.commit('docker-build: tags edge and qa');
    const shown = ok(await ws.nx(['show', 'project', SVC, '--json']));
    expect(JSON.parse(shown.output.slice(shown.output.indexOf('{'))).targets['docker-build']).toMatchObject({
      executor: 'nx:run-commands',
      options: { command: expect.stringMatching(/^node \S+docker-build\.js --targets=docker-service$/), tags: ['edge', 'qa'] },
    });
    ok(await ws.nx(['run', `${SVC}:docker-build`, STREAM], { env: PUSH_ENV }));
    const svc = ws.readJson(SVC_RECEIPT);
    for (const tag of ['edge', 'qa']) expect({ tag, digest: await manifestDigest(remote(SVC_REPO), tag) }).toEqual({ tag, digest: svc.digest });

    ok(await ws.nx(['run', `${SVC}:docker-build`, '--tags=hotfix', STREAM], { env: PUSH_ENV }));
    expect(await manifestDigest(remote(SVC_REPO), 'hotfix')).toBe(ws.readJson(SVC_RECEIPT).digest);

    // A mistyped option: Nx refuses it for docker-service (forwarded there) before anything is built.
    const bad = await ws.nx(['run', `${SVC}:docker-build`, '--pussh', STREAM], { env: PUSH_ENV });
    expect(bad.code).not.toBe(0);
    expect(linesWith(bad.output, /'pussh' is not found in schema/)).toHaveLength(1);
  });
});

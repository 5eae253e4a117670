/**
 * Docker suite: the Cloud Build pipeline `nx g nx-docker-delta:ci --provider=cloudbuild` writes,
 * executed here the way Cloud Build runs it (tests/support/cloudbuild.ts): its builder image is
 * built from the generated containerfile on the local `node:20-bookworm-slim` stand-in, every
 * step runs as a container with /workspace, /builder/home and the Docker socket, against a
 * registry that wants credentials (htpasswd). A Node-style workspace of three services on a
 * shared base whose upstream image lives in that registry:
 *
 * 1. first build on main pushes the base and every service;
 * 2. a one-service change pushes exactly that service's image;
 * 3. the upstream image moves (v2 pushed under the same tag): the generated pin-bases build
 *    pushes a branch whose Dockerfile.base has the new digest; merged, the next build rebuilds
 *    the base once and every service on it;
 * 4. `docker-base --refresh` re-resolves the upstream: moved → pin rewritten and base rebuilt,
 *    unchanged → says so and builds nothing.
 *
 * Stand-ins, stated: the `gcloud` step image is a local image whose `gcloud auth
 * print-access-token` prints the registry password (user `oauth2accesstoken`, as with Artifact
 * Registry); the install command is `npx nx --version` because the test workspace's node_modules are
 * linked from this repository (the plugin is not published); the repository is mounted at its
 * own path so those links resolve inside the step containers.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuthRegistry, registryGet, startAuthRegistry } from '../support/htpasswd-registry';
import { buildStepImages, runCloudBuild, type StepResult } from '../support/cloudbuild';
import { DOCKER, docker, dockerOrThrow, dockerSuiteGate } from '../support/docker';
import { REPO_ROOT, TestWorkspace, ensurePluginBuilt } from '../support/workspace';

const SUITE = 'Cloud Build execution suite (tests/docker/ci-cloudbuild.spec.ts)';
const NODE_STANDIN = 'node:20-bookworm-slim';
const skipped = dockerSuiteGate(SUITE, { images: [NODE_STANDIN, 'nxdd-test/busybox:1'] });
const describeDocker = skipped ? describe.skip : describe;

const RUN = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const SERVICES = ['svc-a', 'svc-b', 'svc-c'];
const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

function serviceDockerfile(): string {
  return ['ARG BASE_IMAGE=workspace-base', 'FROM ${BASE_IMAGE}', 'WORKDIR /app', 'COPY main.txt ./', 'RUN cat /etc/base-upstream main.txt > main.built', ''].join('\n');
}

describeDocker('the generated Cloud Build pipeline, executed', () => {
  let reg: AuthRegistry;
  let ws: TestWorkspace;
  let remote: string;
  let stepImages: ReturnType<typeof buildStepImages>;
  /** Every upstream version this suite built: a version pushed over by the next is left untagged. */
  const upstreamIds: string[] = [];
  const upstream = () => `${reg.address}/upstream/os:1`;
  const repo = (name: string) => `nxdd/images/${name}`;

  /** Pushes an upstream image whose /etc/upstream says `version`. */
  function pushUpstream(version: string) {
    const dir = mkdtempSync(join(tmpdir(), 'nxdd-cisim-up-'));
    writeFileSync(join(dir, 'Dockerfile'), `FROM nxdd-test/busybox:1\nRUN echo ${version}-${RUN} > /etc/upstream\n`);
    upstreamIds.push(dockerOrThrow(['build', '-q', '-t', upstream(), dir]).trim());
    dockerOrThrow(['push', upstream()]);
    rmSync(dir, { recursive: true, force: true });
  }

  /** Tag → manifest digest of every image the pipeline pushed. */
  async function registryState(): Promise<Record<string, Record<string, string>>> {
    const state: Record<string, Record<string, string>> = {};
    for (const name of ['workspace-base', ...SERVICES]) {
      const tags = (await registryGet<{ tags: string[] | null }>(reg, `/v2/${repo(name)}/tags/list`)).body?.tags ?? [];
      state[name] = {};
      for (const tag of tags.sort()) state[name][tag] = (await registryGet(reg, `/v2/${repo(name)}/manifests/${tag}`, MANIFEST)).digest as string;
    }
    return state;
  }

  function build(config: string, substitutions: Record<string, string>): StepResult[] {
    const steps = runCloudBuild({
      workspace: ws.root,
      config,
      substitutions: { PROJECT_ID: 'nxdd', _REGISTRY_HOST: reg.address, _BUILDER_IMAGE: stepImages.builder, ...substitutions },
      images: stepImages.images,
      secrets: { GIT_PUSH_URL: '/remote.git' },
      mounts: [`${REPO_ROOT}:${REPO_ROOT}:ro`, `${remote}:/remote.git`],
    });
    const failed = steps.find((s) => s.status !== 0);
    if (failed) throw new Error(`step ${failed.id} (${failed.image}) failed:\n${failed.output.slice(-6000)}`);
    return steps;
  }

  /** Which images changed between two registry states (new tags or a moved `latest`). */
  function pushed(before: Record<string, Record<string, string>>, after: Record<string, Record<string, string>>): string[] {
    return Object.keys(after).filter((name) => after[name].latest !== before[name]?.latest).sort();
  }

  beforeAll(async () => {
    ensurePluginBuilt();
    reg = await startAuthRegistry('oauth2accesstoken');
    const login = spawnSync(DOCKER, ['login', '--username', reg.user, '--password-stdin', reg.address], { input: reg.password, encoding: 'utf8' });
    if (login.status !== 0) throw new Error(`docker login ${reg.address} failed: ${login.stderr}`);
    pushUpstream('v1');

    ws = TestWorkspace.create(
      {
        'package.json': JSON.stringify({ name: 'cisim', version: '0.0.0', private: true }, null, 2),
        'nx.json': JSON.stringify({ plugins: [{ plugin: 'nx-docker-delta' }], namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] } }, null, 2),
        '.gitignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n',
        '.dockerignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n.git\n',
        'docker/workspace-base/project.json': JSON.stringify({ name: 'workspace-base' }),
        'docker/workspace-base/Dockerfile.base': `ARG OS_IMAGE=${upstream()}\nFROM \${OS_IMAGE}\nRUN cp /etc/upstream /etc/base-upstream\n`,
        ...Object.fromEntries(
          SERVICES.flatMap((s) => [
            [`apps/${s}/project.json`, JSON.stringify({ name: s })],
            [`apps/${s}/main.txt`, `${s} v1\n`],
            [`apps/${s}/Dockerfile`, serviceDockerfile()],
          ])
        ),
      },
      'nxdd-cisim'
    );
    const gen = await ws.nx(['g', 'nx-docker-delta:ci', '--provider=cloudbuild', '--remoteCache=none', '--installCommand=npx nx --version', '--no-interactive']);
    if (gen.code !== 0) throw new Error(gen.output);
    const pin = await ws.nx(['g', 'nx-docker-delta:pin-bases', '--no-interactive'], { env: { NX_DOCKER_BIN: DOCKER } });
    if (pin.code !== 0) throw new Error(pin.output);
    expect(pin.output).toMatch(new RegExp(`docker/workspace-base/Dockerfile.base: ${upstream().replace(/[.]/g, '\\.')} pinned to digest sha256:`));
    ws.commit('adopt: ci --provider=cloudbuild, pin-bases');
    remote = ws.scratchPath('remote.git');
    mkdirSync(remote);
    ws.git(['init', '-q', '--bare', remote]);

    stepImages = buildStepImages({
      containerfile: ws.path('ci/builder/nx-builder.containerfile'),
      context: ws.path('ci/builder'),
      nodeImage: NODE_STANDIN,
      token: reg.password,
      tag: RUN,
    });
  }, 15 * 60_000);

  afterAll(() => {
    const images = docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).stdout.split('\n').filter((r) => reg && r.startsWith(`${reg.address}/`));
    for (const ref of [...(stepImages ? [stepImages.builder, stepImages.gcloud] : []), ...images]) docker(['rmi', ref]);
    if (upstreamIds.length) docker(['rmi', '-f', ...upstreamIds]);
    if (reg) {
      docker(['logout', reg.address]);
      reg.stop();
    }
    ws?.dispose();
  });

  let first: Record<string, Record<string, string>>;

  it('first build on main: registry login, then the base and every service pushed', async () => {
    const steps = build('cloudbuild.yaml', { BRANCH_NAME: 'main' });
    expect(steps.map((s) => s.id)).toEqual(['registry-token', 'images']);
    expect(steps[1].output).toContain('Login Succeeded');
    first = await registryState();
    // Each image: its content tag and `latest`; services also `git-<sha>` (NX_DOCKER_TAGS of the pipeline).
    expect(Object.entries(first).map(([name, tags]) => [name, Object.keys(tags).filter((t) => t !== 'latest' && !t.startsWith('git-')).length, !!tags.latest, Object.keys(tags).some((t) => t.startsWith('git-'))])).toEqual(
      ['workspace-base', ...SERVICES].map((n) => [n, 1, true, n !== 'workspace-base'])
    );
  });

  it('a one-service change on main pushes exactly that service; a branch build pushes nothing', async () => {
    const base = ws.git(['rev-parse', 'HEAD']);
    ws.write({ 'apps/svc-b/main.txt': 'svc-b v2\n' });
    ws.commit('svc-b v2');
    const branch = build('cloudbuild.yaml', { BRANCH_NAME: 'feature', _BASE_SHA: base });
    expect(branch[1].output).toMatch(/svc-b/);
    expect(pushed(first, await registryState())).toEqual([]);
    build('cloudbuild.yaml', { BRANCH_NAME: 'main', _BASE_SHA: base });
    const second = await registryState();
    expect(pushed(first, second)).toEqual(['svc-b']);
    first = second;
  });

  it('an upstream update: the scheduled pin-bases build pushes the new pin; merged, the base and every service are rebuilt once', async () => {
    pushUpstream('v2');
    const before = ws.git(['rev-parse', 'HEAD']);
    const steps = build('cloudbuild-pin-bases.yaml', {});
    expect(steps[1].output).toMatch(/moved: digest sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}/);
    // The step committed in /workspace (this checkout) and pushed that commit as the branch to review;
    // merging it fast-forwards main to exactly it.
    const proposed = ws.git(['--git-dir', remote, 'rev-parse', 'refs/heads/nx-docker-delta/pin-bases']);
    expect(proposed).toBe(ws.git(['rev-parse', 'HEAD']));
    expect(ws.git(['diff', '--name-only', before, proposed]).split('\n')).toEqual(['docker/workspace-base/Dockerfile.base']);
    build('cloudbuild.yaml', { BRANCH_NAME: 'main', _BASE_SHA: before });
    const after = await registryState();
    expect(pushed(first, after)).toEqual(['workspace-base', ...SERVICES].sort());
    const svc = `${reg.address}/${repo('svc-a')}:latest`;
    dockerOrThrow(['pull', '-q', svc]);
    expect(dockerOrThrow(['run', '--rm', svc, 'cat', '/app/main.built'])).toBe(`v2-${RUN}\nsvc-a v1\n`);
    first = after;
  });

  it('docker-base --refresh rebuilds only when an upstream moved, and says which', async () => {
    const env = { NX_DOCKER_BIN: DOCKER };
    const warm = await ws.nx(['run', 'workspace-base:docker-base', '--output-style=stream'], { env });
    expect(warm.code).toBe(0);
    const same = await ws.nx(['run', 'workspace-base:docker-base', '--refresh', '--output-style=stream'], { env });
    expect(same.code).toBe(0);
    expect(same.output).toContain('Base workspace-base is up to date');
    expect(same.output).toContain(`Base workspace-base: no upstream image moved (${upstream()}) — docker/workspace-base/Dockerfile.base unchanged.`);
    expect(same.output).not.toMatch(/Building base workspace-base/);
    pushUpstream('v3');
    const moved = await ws.nx(['run', 'workspace-base:docker-base', '--refresh', '--output-style=stream'], { env });
    expect(moved.code).toBe(0);
    expect(moved.output).toMatch(new RegExp(`Base workspace-base: ${upstream().replace(/[.]/g, '\\.')} moved: digest sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}`));
    expect(moved.output).toMatch(/Building base workspace-base/);
    expect(ws.git(['status', '--porcelain'])).toBe('M docker/workspace-base/Dockerfile.base');
  });
});

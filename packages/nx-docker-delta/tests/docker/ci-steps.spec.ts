/**
 * Docker suite: the shell steps of the generated GitHub Actions workflow and GitLab pipeline,
 * run in order in a local container with the job's env (tests/support/ci-steps.ts), against a
 * registry that wants credentials. Their schemas are checked in the unit suite
 * (src/generators/ci/ci.spec.ts); here they build and push for real.
 *
 * Stand-ins, stated: the job image is Node + Debian's docker client + git (what GitLab's
 * before_script installs into node:20-bookworm-slim, and what ubuntu-latest has); GitHub's
 * `uses:` actions are replaced by their effect (workspace mounted with history, NX_BASE/NX_HEAD
 * given, `docker login` done by the harness); GitLab's docker:dind service is replaced by the
 * host daemon's socket (DOCKER_HOST overridden); the install command is `npx nx --version`
 * (node_modules are linked from this repository).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCloudBuild } from '../../src/generators/ci/lib/render';
import { type AuthRegistry, registryGet, startAuthRegistry } from '../support/htpasswd-registry';
import { githubJob, gitlabJob, runJob } from '../support/ci-steps';
import { docker, dockerSuiteGate } from '../support/docker';
import { REPO_ROOT, TestWorkspace, ensurePluginBuilt } from '../support/workspace';

const SUITE = 'CI step-run suite (tests/docker/ci-steps.spec.ts)';
const NODE_STANDIN = 'node:20-bookworm-slim';
const skipped = dockerSuiteGate(SUITE, { images: [NODE_STANDIN, 'nxdd-test/busybox:1'] });
const describeDocker = skipped ? describe.skip : describe;

const RUN = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const RUNNER = `nxdd-cisteps-runner:${RUN}`;
const SERVICES = ['svc-a', 'svc-b'];
const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const INSTALL = '--installCommand=npx nx --version';

describeDocker('generated GitHub Actions and GitLab steps, run', () => {
  let reg: AuthRegistry;
  let ws: TestWorkspace;
  let dockerConfig: string;
  let initial: string;

  async function latest(ns: string): Promise<Record<string, string | undefined>> {
    const out: Record<string, string | undefined> = {};
    for (const name of ['workspace-base', ...SERVICES]) out[name] = (await registryGet(reg, `/v2/${ns}/${name}/manifests/latest`, MANIFEST)).digest;
    return out;
  }

  beforeAll(async () => {
    ensurePluginBuilt();
    reg = await startAuthRegistry('ci');
    // What docker/login-action leaves behind: a docker config with the registry's credentials.
    dockerConfig = mkdtempSync(join(tmpdir(), 'nxdd-cisteps-docker-'));
    const login = spawnSync('/usr/bin/docker', ['--config', dockerConfig, 'login', '-u', reg.user, '--password-stdin', reg.address], { input: reg.password, encoding: 'utf8' });
    if (login.status !== 0) throw new Error(`docker login failed: ${login.stderr}`);

    const dir = mkdtempSync(join(tmpdir(), 'nxdd-cisteps-runner-'));
    const containerfile = renderCloudBuild({ mainBranch: 'main', remoteCache: 'none', schedule: '0 4 1 * *', installCommand: 'npm ci', nodeMajor: '20', packageManager: 'npm', buildTarget: 'docker-build' }).find((f) => f.path.endsWith('.containerfile'));
    writeFileSync(join(dir, 'Containerfile'), containerfile?.content as string);
    const b = docker(['build', '-q', '-f', join(dir, 'Containerfile'), '--build-arg', `NODE_IMAGE=${NODE_STANDIN}`, '-t', RUNNER, dir], { DOCKER_BUILDKIT: '1' });
    rmSync(dir, { recursive: true, force: true });
    if (b.status !== 0) throw new Error(`runner image: ${b.stderr.slice(-3000)}`);

    ws = TestWorkspace.create(
      {
        'package.json': JSON.stringify({ name: 'cisteps', version: '0.0.0', private: true }, null, 2),
        'nx.json': JSON.stringify({ plugins: [{ plugin: 'nx-docker-delta' }], namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] } }, null, 2),
        '.gitignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n',
      },
      'nxdd-cisteps'
    );
    initial = ws.git(['rev-parse', 'HEAD']);
    ws.write({
      '.dockerignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n.git\n',
      'docker/workspace-base/project.json': JSON.stringify({ name: 'workspace-base' }),
      'docker/workspace-base/Dockerfile.base': `FROM nxdd-test/busybox:1\nRUN echo ${RUN} > /etc/run\n`,
      ...Object.fromEntries(
        SERVICES.flatMap((s) => [
          [`apps/${s}/project.json`, JSON.stringify({ name: s })],
          [`apps/${s}/main.txt`, `${s} v1\n`],
          [`apps/${s}/Dockerfile`, 'ARG BASE_IMAGE=workspace-base\nFROM ${BASE_IMAGE}\nCOPY main.txt /app/\n'],
        ])
      ),
    });
    for (const args of [
      ['g', 'nx-docker-delta:ci', '--provider=github-actions', `--registry=${reg.address}/gh`, '--remoteCache=self-hosted', INSTALL],
      ['g', 'nx-docker-delta:ci', '--provider=gitlab', '--remoteCache=none', INSTALL],
    ]) {
      const r = await ws.nx([...args, '--no-interactive']);
      if (r.code !== 0) throw new Error(r.output);
    }
    ws.commit('services, CI');
  }, 10 * 60_000);

  afterAll(() => {
    const ours = docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).stdout.split('\n').filter((r) => reg && r.startsWith(`${reg.address}/`));
    for (const ref of [RUNNER, ...ours]) docker(['rmi', ref]);
    reg?.stop();
    if (dockerConfig) rmSync(dockerConfig, { recursive: true, force: true });
    ws?.dispose();
  });

  it('GitHub Actions, push to main: the run: steps build and push the base and every service', async () => {
    const plan = githubJob(ws.read('.github/workflows/docker-images.yml'), 'images', {
      "github.event_name == 'push' && github.ref == 'refs/heads/main'": 'true',
      'vars.NX_SELF_HOSTED_REMOTE_CACHE_SERVER': '',
      'secrets.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN': '',
    });
    expect(plan.skipped).toEqual(['actions/checkout@v4', 'actions/setup-node@v4', 'nrwl/nx-set-shas@v4', 'docker/login-action@v3']);
    expect(plan.steps.map((s) => s.script)).toEqual(['npx nx --version', 'npx nx affected -t docker-build --base="$NX_BASE" --head="$NX_HEAD"']);
    const r = runJob({
      image: RUNNER,
      workspace: ws.root,
      plan,
      style: 'github',
      runnerEnv: { GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY_OWNER: 'Acme', NX_BASE: initial, NX_HEAD: ws.git(['rev-parse', 'HEAD']) },
      mounts: [`${REPO_ROOT}:${REPO_ROOT}:ro`, `${dockerConfig}:/root/.docker`],
    });
    if (r.status !== 0) throw new Error(r.output.slice(-6000));
    const pushed = await latest('gh');
    expect(Object.entries(pushed).filter(([, d]) => !d)).toEqual([]);
  });

  it('GitLab, default branch: before_script + script log in with CI_REGISTRY_*, push everything; then a one-service change pushes only it', async () => {
    const plan = gitlabJob(ws.read('.gitlab-ci.yml'), 'docker-images');
    expect(plan.skipped).toEqual(['service docker:27-dind']);
    const job = (before: string) =>
      runJob({
        image: RUNNER,
        workspace: ws.root,
        plan,
        style: 'gitlab',
        runnerEnv: {
          GITLAB_CI: 'true',
          CI_PIPELINE_SOURCE: 'push',
          CI_COMMIT_BRANCH: 'main',
          CI_DEFAULT_BRANCH: 'main',
          CI_COMMIT_BEFORE_SHA: before,
          CI_REGISTRY: reg.address,
          CI_REGISTRY_USER: reg.user,
          CI_REGISTRY_PASSWORD: reg.password,
          CI_REGISTRY_IMAGE: `${reg.address}/gl`,
        },
        // No docker:dind image here: the job's client talks to the host daemon instead.
        overrides: { DOCKER_HOST: 'unix:///var/run/docker.sock' },
        mounts: [`${REPO_ROOT}:${REPO_ROOT}:ro`],
      });
    const first = job(initial);
    if (first.status !== 0) throw new Error(first.output.slice(-6000));
    expect(first.output).toContain('Login Succeeded');
    const before = await latest('gl');
    expect(Object.entries(before).filter(([, d]) => !d)).toEqual([]);

    const head = ws.git(['rev-parse', 'HEAD']);
    ws.write({ 'apps/svc-b/main.txt': 'svc-b v2\n' });
    ws.commit('svc-b v2');
    const second = job(head);
    if (second.status !== 0) throw new Error(second.output.slice(-6000));
    const after = await latest('gl');
    expect(Object.keys(after).filter((k) => after[k] !== before[k])).toEqual(['svc-b']);
  });
});

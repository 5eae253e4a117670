import type { Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { validateWorkflow } from '@action-validator/core';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ciGenerator, isDryRun } from './ci';
import { CLOUDBUILD_BUILDER_FILE } from './lib/render';

function npmTree(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  tree.write('package-lock.json', '{"lockfileVersion":3}');
  tree.write('.nvmrc', '22\n');
  return tree;
}

describe('ci generator', () => {
  it.each([
    ['github-actions', ['.github/workflows/docker-images.yml', '.github/workflows/docker-base-refresh.yml']],
    ['cloudbuild', ['cloudbuild.yaml', 'cloudbuild-pin-bases.yaml', CLOUDBUILD_BUILDER_FILE]],
    ['gitlab', ['.gitlab-ci.yml']],
  ] as const)('%s: writes %j, idempotently', async (provider, files) => {
    const tree = npmTree();
    await ciGenerator(tree, { provider });
    const first = files.map((f) => tree.read(f, 'utf-8'));
    expect(first.every((c) => typeof c === 'string' && c.length > 0)).toBe(true);
    await ciGenerator(tree, { provider });
    expect(tree.listChanges().filter((c) => files.includes(c.path as never)).length).toBe(files.length);
    expect(files.map((f) => tree.read(f, 'utf-8'))).toEqual(first);
  });

  it('never overwrites a CI file the user changed, unless --force', async () => {
    const tree = npmTree();
    await ciGenerator(tree, { provider: 'gitlab' });
    tree.write('.gitlab-ci.yml', 'mine: {}\n');
    await ciGenerator(tree, { provider: 'gitlab', mainBranch: 'trunk' });
    expect(tree.read('.gitlab-ci.yml', 'utf-8')).toBe('mine: {}\n');
    await ciGenerator(tree, { provider: 'gitlab', mainBranch: 'trunk', force: true });
    expect(tree.read('.gitlab-ci.yml', 'utf-8')).toContain('"$CI_COMMIT_BRANCH" = "trunk"');
  });

  it.each([
    [['node', 'nx', 'g', 'nx-docker-delta:ci', '--dry-run'], true],
    [['node', 'nx', 'g', 'nx-docker-delta:ci', '-d'], true],
    [['node', 'nx', 'g', 'nx-docker-delta:ci', '--provider=gitlab'], false],
  ])('isDryRun(%j) = %s (then the files are printed)', (argv, expected) => {
    expect(isDryRun(argv)).toBe(expected);
  });

  it('rejects a schedule that is not cron, naming the fix', async () => {
    await expect(ciGenerator(npmTree(), { provider: 'gitlab', schedule: 'monthly' })).rejects.toThrow(
      'nx-docker-delta: --schedule="monthly" is not a 5-field cron expression — use e.g. --schedule="0 4 1 * *".'
    );
  });

  it('GitHub Actions: both workflows pass the published workflow schema; docker driver, GHCR login, nx-set-shas, push on main only', async () => {
    const tree = npmTree();
    await ciGenerator(tree, { provider: 'github-actions', remoteCache: 'self-hosted' });
    for (const f of ['.github/workflows/docker-images.yml', '.github/workflows/docker-base-refresh.yml']) {
      expect([f, validateWorkflow(tree.read(f, 'utf-8') as string).errors]).toEqual([f, []]);
    }
    const wf = parse(tree.read('.github/workflows/docker-images.yml', 'utf-8') as string);
    const uses = wf.jobs.images.steps.map((s: { uses?: string; run?: string }) => s.uses ?? `run: ${s.run}`);
    expect(uses).toEqual([
      'actions/checkout@v4',
      'actions/setup-node@v4',
      'run: npm ci',
      'nrwl/nx-set-shas@v4',
      'run: echo "NX_DOCKER_REGISTRY=ghcr.io/${GITHUB_REPOSITORY_OWNER,,}" >> "$GITHUB_ENV"',
      'docker/login-action@v3',
      'run: npx nx affected -t docker-build --base="$NX_BASE" --head="$NX_HEAD"',
    ]);
    expect(JSON.stringify(wf)).not.toContain('setup-buildx-action');
    expect(wf.jobs.images.steps[1].with['node-version']).toBe(22);
    expect(wf.env.PUSH).toBe("${{ github.event_name == 'push' && github.ref == 'refs/heads/main' }}");
    expect(Object.keys(wf.env)).toEqual(expect.arrayContaining(['NX_SELF_HOSTED_REMOTE_CACHE_SERVER', 'NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN']));
    expect(wf.concurrency['cancel-in-progress']).toBe("${{ github.ref != 'refs/heads/main' }}");
    const refresh = parse(tree.read('.github/workflows/docker-base-refresh.yml', 'utf-8') as string);
    expect(refresh.on.schedule).toEqual([{ cron: '0 4 1 * *' }]);
    expect(refresh.jobs['pin-bases'].steps.map((s: { uses?: string; run?: string }) => s.uses ?? s.run).slice(3)).toEqual([
      'npx nx g nx-docker-delta:pin-bases --no-interactive',
      'peter-evans/create-pull-request@v7',
    ]);
  });

  it.each([
    [undefined, 'ghcr.io', '${{ github.actor }}', '${{ secrets.GITHUB_TOKEN }}'],
    ['ghcr.io/acme', 'ghcr.io', '${{ github.actor }}', '${{ secrets.GITHUB_TOKEN }}'],
    ['registry.example.com/team', 'registry.example.com', '${{ secrets.REGISTRY_USERNAME }}', '${{ secrets.REGISTRY_PASSWORD }}'],
  ])('GitHub Actions --registry=%s logs in to %s', async (registry, host, username, password) => {
    const tree = npmTree();
    await ciGenerator(tree, { provider: 'github-actions', registry });
    const wf = parse(tree.read('.github/workflows/docker-images.yml', 'utf-8') as string);
    const login = wf.jobs.images.steps.find((s: { uses?: string }) => s.uses === 'docker/login-action@v3');
    expect(login.with).toEqual({ registry: host, username, password });
    expect(validateWorkflow(tree.read('.github/workflows/docker-images.yml', 'utf-8') as string).errors).toEqual([]);
  });

  it('Cloud Build --registry logs in to that registry host', async () => {
    const tree = npmTree();
    await ciGenerator(tree, { provider: 'cloudbuild', registry: 'us-docker.pkg.dev/acme/team' });
    const cb = parse(tree.read('cloudbuild.yaml', 'utf-8') as string);
    expect(cb.substitutions._REGISTRY_HOST).toBe('us-docker.pkg.dev');
    expect(cb.steps[1].env).toContain('NX_DOCKER_REGISTRY=us-docker.pkg.dev/acme/team');
  });

  it('Cloud Build: the step runs in the builder image with the docker client, logs in with a token, pushes on main only', async () => {
    const tree = npmTree();
    await ciGenerator(tree, { provider: 'cloudbuild', remoteCache: 'nx-cloud' });
    const cb = parse(tree.read('cloudbuild.yaml', 'utf-8') as string);
    expect(cb.steps.map((s: { id: string; name: string }) => [s.id, s.name])).toEqual([
      ['registry-token', 'gcr.io/google.com/cloudsdktool/cloud-sdk:slim'],
      ['images', '${_BUILDER_IMAGE}'],
    ]);
    expect(cb.steps[1].env).toContain('NX_DOCKER_BIN=/usr/bin/docker');
    expect(cb.steps[1].secretEnv).toEqual(['NX_CLOUD_ACCESS_TOKEN']);
    expect(cb.availableSecrets.secretManager[0].env).toBe('NX_CLOUD_ACCESS_TOKEN');
    expect(cb.steps[1].args[1]).toContain('if [ "$$BRANCH" = "${_MAIN_BRANCH}" ]; then export PUSH=true; else export PUSH=false; fi');
    expect(cb.substitutions._BUILDER_IMAGE).toBe('${_REGISTRY_HOST}/${PROJECT_ID}/${_REPOSITORY}/nx-builder:node22');
    expect(tree.read(CLOUDBUILD_BUILDER_FILE, 'utf-8')).toContain('apt-get install -y --no-install-recommends docker.io git ca-certificates');
  });

  it('GitLab: MR diff base, CI_REGISTRY login, pin-bases only on schedules', async () => {
    const tree = npmTree();
    await ciGenerator(tree, { provider: 'gitlab', remoteCache: 'none' });
    const gl = parse(tree.read('.gitlab-ci.yml', 'utf-8') as string);
    expect(gl['docker-images'].before_script[1]).toBe('echo "$CI_REGISTRY_PASSWORD" | docker login --username "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY"');
    expect(gl['docker-images'].script[1]).toContain('CI_MERGE_REQUEST_DIFF_BASE_SHA');
    expect(gl['docker-images'].interruptible).toBe(true);
    expect(gl['pin-bases'].rules).toEqual([{ if: '$CI_PIPELINE_SOURCE == "schedule"' }]);
    expect(gl.variables.NX_DOCKER_REGISTRY).toBe('$CI_REGISTRY_IMAGE');
  });

  // gitlab-ci-local validates with the JSON schema GitLab publishes for .gitlab-ci.yml (bundled in the package).
  const GITLAB_CI_LOCAL = join(__dirname, '../../../../../node_modules/.bin/gitlab-ci-local');
  function gitlabList(content: string, variables: string[] = []) {
    const dir = mkdtempSync(join(tmpdir(), 'nxdd-gitlab-'));
    try {
      writeFileSync(join(dir, '.gitlab-ci.yml'), content);
      const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
      git('init', '-q', '-b', 'main');
      git('add', '-A');
      git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-qm', 'ci');
      git('remote', 'add', 'origin', 'https://gitlab.example.invalid/acme/shop.git');
      const r = spawnSync(GITLAB_CI_LOCAL, ['--list', '--json-schema-validation', ...variables.flatMap((v) => ['--variable', v])], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      });
      // eslint-disable-next-line no-control-regex
      return { status: r.status, output: `${r.stdout}${r.stderr}`.replace(/\u001b\[[0-9;]*m/g, '') };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('GitLab: .gitlab-ci.yml passes the published CI schema; pin-bases runs only in scheduled pipelines', async () => {
    const tree = npmTree();
    await ciGenerator(tree, { provider: 'gitlab' });
    const content = tree.read('.gitlab-ci.yml', 'utf-8') as string;
    const gl = parse(content);
    for (const job of ['docker-images', 'pin-bases']) for (const line of [...gl[job].before_script, ...gl[job].script]) expect(typeof line).toBe('string');
    const push = gitlabList(content);
    expect([push.status, push.output]).toEqual([0, expect.stringContaining('json schema validated')]);
    expect(push.output).toMatch(/^docker-images\s/m);
    expect(push.output).not.toMatch(/^pin-bases\s/m);
    const scheduled = gitlabList(content, ['CI_PIPELINE_SOURCE=schedule']);
    expect(scheduled.output).toMatch(/^pin-bases\s/m);
    expect(scheduled.output).not.toMatch(/^docker-images\s/m);
    const broken = gitlabList(content.replace('  interruptible: true', '  interruptible: true\n  retries: 2'));
    expect(broken.status).not.toBe(0);
  }, 120_000);
});

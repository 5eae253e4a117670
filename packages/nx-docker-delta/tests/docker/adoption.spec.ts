/**
 * Docker suite for adopting the plugin on a workspace as people already have it (issue 12):
 * never a silently broken image. Run through `nx` with the built plugin, on the local
 * `node:20-bookworm-slim` stand-in (npm ci inside the build reaches the npm registry).
 *
 * - The empty-manifest case: an npm workspace whose Nx graph holds no source imports (no @nx/js,
 *   no analyzeSourceFiles), a service whose main.js requires `ms` and a scoped package. The
 *   plugin says why before staging, adds both from the lockfile, and the container starts.
 * - A package the lockfile lacks stops the build with one sentence, before Docker runs.
 * - `docker-build --smoke` catches a crash at start, with the container's last log lines.
 *
 * Needs a Docker daemon, a BuildKit-capable client and node:20-bookworm-slim. Missing → failure;
 * NXDD_SKIP_DOCKER=1 skips loudly (not in CI).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, dockerSuiteGate, localRefs, removeRefs } from '../support/docker';
import { errorSentences, linesWith } from '../support/nx-output';
import { NxResult, TestWorkspace, ensurePluginBuilt } from '../support/workspace';

const SUITE = 'adoption Docker suite (tests/docker/adoption.spec.ts)';
const NODE_IMAGE = 'node:20-bookworm-slim';
const skipped = dockerSuiteGate(SUITE, { images: [NODE_IMAGE] });
const describeDocker = skipped ? describe.skip : describe;

const NS = `nxdd-adopt-${Date.now().toString(36)}${process.pid.toString(36)}`;
const STREAM = '--output-style=stream';

const DEPS = { ms: '2.1.3', '@isaacs/string-locale-compare': '1.1.0', debug: '4.3.7', 'supports-color': '7.2.0' };

/** A real package-lock.json for `deps`, written by npm in a scratch folder (no install). */
function lockfileFor(manifest: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'nxdd-adopt-lock-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
    const r = spawnSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm install --package-lock-only failed:\n${r.stderr}`);
    return readFileSync(join(dir, 'package-lock.json'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SERVER = [
  "const http = require('node:http');",
  "const ms = require('ms');",
  "const compare = require('@isaacs/string-locale-compare')('en');",
  "http.createServer((req, res) => res.end(`${ms(60000)} ${compare('a', 'b')}`)).listen(3000);",
  '',
].join('\n');

const build = (name: string) => ({
  executor: 'nx:run-commands',
  outputs: [`{workspaceRoot}/dist/apps/${name}`],
  options: { command: `node -e "require('fs').cpSync('apps/${name}/src', 'dist/apps/${name}', { recursive: true })"` },
});

function fixtureFiles(): Record<string, string> {
  const manifest = { name: 'adopt-fixture', version: '0.0.0', private: true, dependencies: DEPS };
  return {
    'package.json': JSON.stringify(manifest, null, 2),
    'package-lock.json': lockfileFor(manifest),
    // Written the way many npm workspaces are: no @nx/js and no pluginsConfig, so Nx reads no source imports.
    'nx.json': JSON.stringify({ plugins: [{ plugin: 'nx-docker-delta', options: { imagePrefix: `${NS}/` } }] }, null, 2),
    '.gitignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n',
    'apps/svc/project.json': JSON.stringify({ name: 'svc', projectType: 'application', targets: { build: build('svc') } }, null, 2),
    'apps/svc/src/main.js': SERVER,
    'apps/svc/Dockerfile': [
      '# nx-docker-delta: context=pruned',
      `FROM ${NODE_IMAGE}`,
      'WORKDIR /app',
      'COPY package.json package-lock.json ./',
      'RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund',
      'COPY dist/apps/svc ./',
      'EXPOSE 3000',
      'CMD ["node", "main.js"]',
      '',
    ].join('\n'),
    // debug loads supports-color when it is installed (an optional peer), and only then uses 256
    // colors; the workspace installs it, the service never names it.
    'apps/peer/project.json': JSON.stringify({ name: 'peer', projectType: 'application', targets: { build: build('peer') } }, null, 2),
    'apps/peer/src/main.js': "const http = require('node:http');\nconst debug = require('debug');\nhttp.createServer((req, res) => res.end(String(debug.colors.length))).listen(3000);\n",
    'apps/peer/Dockerfile': [
      '# nx-docker-delta: context=pruned',
      `FROM ${NODE_IMAGE}`,
      'WORKDIR /app',
      'COPY package.json package-lock.json ./',
      'RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund',
      'COPY dist/apps/peer ./',
      'EXPOSE 3000',
      'CMD ["node", "main.js"]',
      '',
    ].join('\n'),
    // The most common monorepo Dockerfile: written for `docker build -f apps/legacy/Dockerfile .`.
    '.dockerignore': 'node_modules\n.git\n.nx\n.nx-docker-delta\n',
    'apps/legacy/project.json': JSON.stringify({ name: 'legacy', projectType: 'application' }, null, 2),
    'apps/legacy/src/main.js': SERVER,
    // Ten steps in one stage, as real ones often have: BuildKit then pads the step numbers ([ 2/10]).
    'apps/legacy/Dockerfile': [
      `FROM ${NODE_IMAGE}`,
      'WORKDIR /app/var/log',
      'WORKDIR /app/var/tmp',
      'WORKDIR /app/var/cache',
      'WORKDIR /app/var/run',
      'WORKDIR /app/var',
      'WORKDIR /app',
      'COPY package.json package-lock.json ./',
      'RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund',
      'COPY apps/legacy/src ./',
      'EXPOSE 3000',
      'CMD ["node", "main.js"]',
      '',
    ].join('\n'),
    // A second image of the same project: its own target, image and receipt.
    'apps/legacy/Dockerfile.worker': [`FROM ${NODE_IMAGE}`, 'CMD ["node", "-e", "console.log(\'worker done\')"]', ''].join('\n'),
    // Builds green, dies at start: what --smoke is for.
    'apps/crash/project.json': JSON.stringify({ name: 'crash', projectType: 'application' }, null, 2),
    'apps/crash/main.js': "require('./config.json');\n",
    'apps/crash/Dockerfile': [`FROM ${NODE_IMAGE}`, 'WORKDIR /app', 'COPY main.js ./', 'EXPOSE 8080', 'CMD ["node", "main.js"]', ''].join('\n'),
  };
}

function ok(result: NxResult): NxResult {
  if (result.code !== 0) throw new Error(`nx ${result.args.join(' ')} exited ${result.code ?? result.signal}:\n${result.output}`);
  return result;
}

describeDocker('adopting an existing workspace: never a silently broken image', () => {
  let ws: TestWorkspace;
  const started = Date.now();

  beforeAll(() => {
    ensurePluginBuilt();
    ws = TestWorkspace.create(fixtureFiles(), 'nxdd-adopt');
  }, 5 * 60_000);

  afterAll(() => {
    const leftovers = localRefs(NS);
    if (leftovers.length) removeRefs(leftovers);
    ws?.dispose();
    // eslint-disable-next-line no-console
    console.log(`${SUITE}: total ${((Date.now() - started) / 1000).toFixed(0)}s`);
  }, 2 * 60_000);

  it('says why the graph is empty, adds what main.js requires from the lockfile, and the image starts (--smoke)', async () => {
    const r = ok(await ws.nx(['run', 'svc:docker-build', '--smoke', STREAM]));
    expect(linesWith(r.output, '⚠ no @nx/js is installed')).toEqual([
      expect.stringContaining(
        '⚠ no @nx/js is installed and nx.json does not set pluginsConfig["@nx/js"].analyzeSourceFiles, so Nx\'s graph holds no source imports — set it to true in nx.json (or install @nx/js). The manifest of svc then comes only from what its build output loads.'
      ),
    ]);
    expect(linesWith(r.output, 'Added to the manifest of svc')).toEqual([
      expect.stringContaining(
        "Added to the manifest of svc what its build output loads but Nx's graph shows no import of: @isaacs/string-locale-compare@1.1.0 (dist/apps/svc/main.js), ms@2.1.3 (dist/apps/svc/main.js)."
      ),
    ]);
    expect(linesWith(r.output, /✔ start check: svc listens on port 3000 after \d+\.\ds/)).toHaveLength(1);
    const staged = JSON.parse(ws.read('.nx-docker-delta/contexts/apps/svc/package.json'));
    expect(staged.dependencies).toEqual({ '@isaacs/string-locale-compare': '1.1.0', ms: '2.1.3' });
    expect(ws.read('.nx-docker-delta/contexts/apps/svc/package-lock.json')).not.toContain('node_modules/debug');
    // The check left no container behind.
    expect(docker(['ps', '-a', '--filter', 'name=nxdd-smoke-svc', '--format', '{{.ID}}']).stdout.trim()).toBe('');
  });

  it('installs the optional peers the workspace installs (debug → supports-color): the image behaves as in the workspace', async () => {
    const r = ok(await ws.nx(['run', 'peer:docker-build', '--smoke', STREAM]));
    expect(linesWith(r.output, 'the optional peers its packages load')).toEqual([
      expect.stringContaining(
        'Added to the manifest of peer the optional peers its packages load when they are installed, as the workspace installs them: supports-color@7.2.0 (of debug).'
      ),
    ]);
    expect(JSON.parse(ws.read('.nx-docker-delta/contexts/apps/peer/package.json')).dependencies).toEqual({ debug: '4.3.7', 'supports-color': '7.2.0' });
    expect(linesWith(r.output, /✔ start check: peer listens on port 3000 after \d+\.\ds/)).toHaveLength(1);
    // With color forced, debug picks its 256-color palette only when it can load supports-color.
    const ref = ws.readJson('dist/nx-docker-delta/apps/peer/docker-service.json').ref as string;
    const colors = docker(['run', '--rm', '-e', 'FORCE_COLOR=2', '--entrypoint', 'node', ref, '-e', "process.stdout.write(String(require('debug').colors.length))"]);
    expect(colors.stdout.trim()).toBe('76');
  });

  it('stops before Docker with one sentence when the build output loads a package the lockfile lacks', async () => {
    ws.write({ 'apps/svc/src/extra.js': "module.exports = require('left-pad');\n" });
    try {
      const r = await ws.nx(['run', 'svc:docker-service', '--skip-nx-cache', STREAM]);
      expect(r.code).not.toBe(0);
      expect(errorSentences(r.output)).toEqual([
        'dist/apps/svc/extra.js loads left-pad at run time, but left-pad is not in package-lock.json — add it to package.json and run `npm install`, so the image can install it.',
      ]);
      expect(linesWith(r.output, /^svc: Building svc/)).toEqual([]);
    } finally {
      rmSync(ws.path('apps/svc/src/extra.js'));
      rmSync(ws.path('dist/apps/svc/extra.js'), { force: true });
    }
  });

  it('an existing Dockerfile written for the workspace-root context builds and starts unchanged, with a one-line hint', async () => {
    const shown = ok(await ws.nx(['show', 'project', 'legacy', '--json']));
    const target = JSON.parse(shown.output.slice(shown.output.indexOf('{'))).targets['docker-service'];
    expect(target.options.context).toBe('.');
    expect(JSON.parse(shown.output.slice(shown.output.indexOf('{'))).targets['docker-build'].options.command).toMatch(/ --targets=docker-service,docker-service-worker$/);
    expect(target.metadata.context).toEqual({
      path: '.',
      reason: 'its COPY sources (package.json, package-lock.json, apps/legacy/src) are paths from the workspace root, not from apps/legacy',
    });
    const r = ok(await ws.nx(['run', 'legacy:docker-build', '--smoke', STREAM]));
    expect(linesWith(r.output, 'is built from the workspace root')).toEqual([
      expect.stringContaining(
        'apps/legacy/Dockerfile is built from the workspace root, the context it was written for, and does not share a base (no ARG BASE_IMAGE before its first FROM) — it builds unchanged; `nx g nx-docker-delta:dockerfile --project=legacy` writes one that builds only its own layers on the shared base.'
      ),
    ]);
    expect(linesWith(r.output, /Building legacy → nxdd-adopt-\w+\/legacy:nx-\w+ \(context: \. \(workspace root\)\)$/)).toHaveLength(1);
    expect(linesWith(r.output, /✔ start check: legacy listens on port 3000/)).toHaveLength(1);
    // Dockerfile.worker: docker-service-worker built legacy-worker and wrote its own receipt; it starts and exits 0.
    const worker = ws.readJson('dist/nx-docker-delta/apps/legacy/docker-service-worker.json');
    expect(worker).toMatchObject({ project: 'legacy', image: `${NS}/legacy-worker`, outcome: 'built' });
    const receipt = ws.readJson('dist/nx-docker-delta/apps/legacy/docker-service.json');
    expect(receipt).toMatchObject({ image: `${NS}/legacy` });
    // Every step but FROM is counted, also [ 2/10]…[ 9/10] whose numbers BuildKit pads.
    expect(receipt.steps.total).toBe(9);
    expect(linesWith(r.output, new RegExp(`legacy built — ${receipt.steps.run} steps run, ${receipt.steps.cached} cached`))).toHaveLength(1);
    expect(localRefs(`${NS}/legacy-worker`)).toContain(worker.ref);
    expect(linesWith(r.output, /✔ start check: legacy ran and exited 0 after \d+\.\ds/)).toHaveLength(1);
  });

  it('--smoke fails a service that crashes at start and shows its last log lines', async () => {
    const r = await ws.nx(['run', 'crash:docker-build', '--smoke', STREAM]);
    expect(r.code).not.toBe(0);
    expect(errorSentences(r.output)).toEqual([
      expect.stringMatching(
        /^Start check of nxdd-adopt-\w+\/crash:nx-\w+ failed: the container exited 1 after \d+\.\ds \(its last log lines are above\) — fix the crash; "Cannot find module" means the image lacks a package its code loads\.$/
      ),
    ]);
    expect(linesWith(r.output, /│ Error: Cannot find module '\.\/config\.json'/)).toHaveLength(1);
    expect(docker(['ps', '-a', '--filter', 'name=nxdd-smoke-crash', '--format', '{{.ID}}']).stdout.trim()).toBe('');
    // Without --smoke the same image builds green: the check is what catches it.
    ok(await ws.nx(['run', 'crash:docker-build', STREAM]));
  });
});

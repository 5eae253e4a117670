import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  FIXTURE_PM_VERSIONS,
  FixturePm,
  install,
  makeWorkspace,
  readStaged,
  stageInChild,
  twoServiceFiles,
  writeFiles,
} from './testing/workspace-fixture';

// Real installs against the registry: a few seconds per package manager.
jest.setTimeout(180_000);

const LOCK: Record<FixturePm, string> = {
  npm: 'package-lock.json',
  pnpm: 'pnpm-lock.yaml',
  yarn: 'yarn.lock',
};

const serviceDockerfile = (pm: FixturePm, svc: string) =>
  [
    '# nx-docker-delta: context=pruned',
    'ARG BASE_IMAGE=workspace-base',
    'FROM ${BASE_IMAGE} AS deps',
    `COPY package.json ${LOCK[pm]} ./`,
    'FROM deps AS runtime',
    `COPY dist/apps/${svc} ./`,
    `COPY apps/${svc}/assets ./assets`,
    '',
  ].join('\n');

function addBuildOutputs(root: string, pm: FixturePm) {
  writeFiles(root, {
    'apps/a/Dockerfile': serviceDockerfile(pm, 'a'),
    'apps/b/Dockerfile': serviceDockerfile(pm, 'b'),
    'dist/apps/a/main.js': 'console.log("a")\n',
    'dist/apps/b/main.js': 'console.log("b")\n',
    'apps/a/assets/a.txt': 'a\n',
    'apps/b/assets/b.txt': 'b\n',
    'apps/b/assets/.env.local': 'SECRET=1\n',
  });
}

const stage = (root: string, svc: string) =>
  stageInChild({
    workspaceRoot: root,
    projectName: svc,
    dockerfilePath: join(root, `apps/${svc}/Dockerfile`),
    outputDir: join(root, `.nx-docker-delta/contexts/${svc}`),
  });

describe.each(['npm', 'pnpm', 'yarn'] as FixturePm[])('stagePrunedContext (%s)', (pm) => {
  let root: string;
  beforeAll(() => {
    root = makeWorkspace(pm, twoServiceFiles(pm));
    addBuildOutputs(root, pm);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('stages only the pruned manifest, lockfile and the paths the Dockerfile copies', () => {
    const b = stage(root, 'b');
    expect(b.error).toBeUndefined();
    expect(b.files.filter((f) => f !== 'pnpm-workspace.yaml')).toEqual(
      ['apps/b/assets/b.txt', 'dist/apps/b/main.js', LOCK[pm], 'package.json'].sort()
    );
    const manifest = JSON.parse(readStaged(b.dir, 'package.json'));
    expect(manifest.dependencies).toEqual({ ms: '2.1.3' });
    expect(manifest.devDependencies).toBeUndefined();
    const lock = readStaged(b.dir, LOCK[pm]);
    expect(lock).toContain('ms');
    expect(lock).not.toContain('debug');
    expect(lock).not.toContain('left-pad');

    const a = stage(root, 'a');
    expect(JSON.parse(readStaged(a.dir, 'package.json')).dependencies).toEqual({ debug: '4.3.7', ms: '2.1.3' });
    expect(readStaged(a.dir, LOCK[pm])).toContain('debug');
  });

  it("keeps B's staged files byte-identical (and their mtimes) when A gains a dependency", () => {
    const before = stage(root, 'b');
    const snap = (dir: string) =>
      Object.fromEntries(
        before.files.map((f) => [f, { bytes: readFileSync(join(dir, f)), mtime: statSync(join(dir, f)).mtimeMs }])
      );
    const b0 = snap(before.dir);
    const a0 = readStaged(stage(root, 'a').dir, LOCK[pm]);

    writeFiles(root, twoServiceFiles(pm, { 'is-number': '7.0.0' }));
    writeFileSync(
      join(root, 'apps/a/src/main.ts'),
      "import debug from 'debug';\nimport isNumber from 'is-number';\nexport const run = () => debug('a')(isNumber(1));\n"
    );
    install(root, pm);
    rmSync(join(root, '.nx'), { recursive: true, force: true });

    const after = stage(root, 'b');
    expect(after.files).toEqual(before.files);
    expect(snap(after.dir)).toEqual(b0);
    const a1 = readStaged(stage(root, 'a').dir, LOCK[pm]);
    expect(a1).not.toEqual(a0);
    expect(a1).toContain('is-number');
  });

  it('removes files that are no longer copied', () => {
    writeFileSync(join(root, 'apps/b/Dockerfile'), serviceDockerfile(pm, 'b').replace(/COPY apps.*\n/, ''));
    const b = stage(root, 'b');
    expect(b.files).not.toContain('apps/b/assets/b.txt');
    expect(() => statSync(join(b.dir, 'apps'))).toThrow();
  });
});

describe('stagePrunedContext remembers its pruning (npm)', () => {
  let root: string;
  beforeAll(() => {
    root = makeWorkspace('npm', twoServiceFiles('npm'));
    addBuildOutputs(root, 'npm');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const remembered = () => readdirSync(join(root, '.nx/workspace-data/nx-docker-delta-pruned')).filter((f) => f.endsWith('.json')).sort();

  it('prunes a code-only change of a library once, and again when a file of a library it reaches imports another package', () => {
    const first = stage(root, 'b');
    expect(JSON.parse(readStaged(first.dir, 'package.json')).dependencies).toEqual({ ms: '2.1.3' });
    const kept = remembered();
    expect(kept).toHaveLength(1);

    // An edit that imports nothing new: the same pruning, remembered, byte for byte.
    writeFileSync(join(root, 'libs/shared/src/index.ts'), "import ms from 'ms';\nexport const greet = (n: string) => `hi ${n} ${ms(2000)}`;\n");
    const second = stage(root, 'b');
    expect(remembered()).toEqual(kept);
    expect(readStaged(second.dir, 'package.json')).toBe(readStaged(first.dir, 'package.json'));
    expect(readStaged(second.dir, LOCK.npm)).toBe(readStaged(first.dir, LOCK.npm));

    // The library b reaches now imports debug (installed for a): pruned again, with debug.
    writeFileSync(join(root, 'libs/shared/src/index.ts'), "import ms from 'ms';\nimport debug from 'debug';\nexport const greet = (n: string) => { debug('g'); return `hi ${n} ${ms(2000)}`; };\n");
    const third = stage(root, 'b');
    expect(remembered()).toHaveLength(2);
    expect(JSON.parse(readStaged(third.dir, 'package.json')).dependencies).toEqual({ debug: '4.3.7', ms: '2.1.3' });
    expect(readStaged(third.dir, LOCK.npm)).toContain('node_modules/debug');

    // NX_DOCKER_PRUNE_CACHE=0 prunes every time and gives the same files.
    const fresh = stageInChild({ workspaceRoot: root, projectName: 'b', dockerfilePath: join(root, 'apps/b/Dockerfile'), outputDir: join(root, '.nx-docker-delta/contexts/b'), env: { NX_DOCKER_PRUNE_CACHE: '0' } });
    expect(readStaged(fresh.dir, LOCK.npm)).toBe(readStaged(third.dir, LOCK.npm));
  });
});

describe('stagePrunedContext errors (npm)', () => {
  let root: string;
  beforeAll(() => {
    root = makeWorkspace('npm', twoServiceFiles('npm'));
    addBuildOutputs(root, 'npm');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("stages the manifest without the project's Nx configuration and other fields the image never reads", () => {
    // Services whose dependencies are the same then share one install, whatever their tags or targets.
    writeFiles(root, {
      'apps/b/package.json': JSON.stringify({
        name: 'b',
        version: '1.2.3',
        description: 'the b service',
        license: 'MIT',
        scripts: { start: 'node main.js' },
        nx: { tags: ['scope:b'], targets: { build: { executor: 'nx:run-commands', options: { command: 'true' } } } },
        jest: { preset: '../../jest.preset.js' },
      }),
    });
    const b = stage(root, 'b');
    expect(b.error).toBeUndefined();
    const manifest = JSON.parse(readStaged(b.dir, 'package.json'));
    expect(manifest).toMatchObject({ name: 'nx-docker-delta-service', version: '1.2.3', scripts: { start: 'node main.js' }, dependencies: { ms: '2.1.3' } });
    for (const field of ['nx', 'description', 'license', 'jest']) expect(manifest).not.toHaveProperty(field);
    rmSync(join(root, 'apps/b/package.json'));
  });

  it('names the missing build output and the command that makes it', () => {
    rmSync(join(root, 'dist/apps/b'), { recursive: true });
    expect(stage(root, 'b').error).toBe(
      'dist/apps/b is copied by apps/b/Dockerfile but does not exist in the workspace — run `nx run b:build` first if it is build output, or fix the COPY line.'
    );
  });

  it('turns Nx\'s silent whole-lockfile fallback into an error naming the package', () => {
    // A project manifest declaring a package the root lockfile lacks makes Nx fall back.
    writeFiles(root, { 'apps/a/package.json': JSON.stringify({ name: 'a', version: '1.0.0', dependencies: { 'not-installed-pkg': '1.0.0' } }) });
    const r = stage(root, 'a');
    expect(r.error).toMatch(/^Lockfile pruning for "a" fell back to the whole package-lock.json because not-installed-pkg@1.0.0 is not in the lockfile — run `npm install`/);
  });

  it('refuses COPY . in a pruned context', () => {
    writeFileSync(join(root, 'apps/b/Dockerfile'), '# nx-docker-delta: context=pruned\nFROM x\nCOPY . .\n');
    expect(stage(root, 'b').error).toMatch(/copies the whole context/);
  });
});

describe('stagePrunedContext in a TS-solution workspace (npm workspaces, libraries by package name)', () => {
  let root: string;
  const dockerfile = [
    '# nx-docker-delta: context=pruned',
    'ARG BASE_IMAGE=workspace-base',
    'FROM ${BASE_IMAGE} AS deps',
    'COPY package.json package-lock.json .nx-docker-delt[a]/workspace-manifest[s] ./',
    'FROM deps AS release',
    'COPY packages/svc/dist ./dist',
    'COPY workspace_module[s] ./workspace_modules/',
    '',
  ].join('\n');
  beforeAll(() => {
    root = makeWorkspace('npm', {
      'package.json': JSON.stringify({ name: '@fx/source', private: true, workspaces: ['packages/*'], devDependencies: { 'left-pad': '1.3.0' } }),
      'packages/lib/package.json': JSON.stringify({ name: '@fx/lib', version: '0.0.1', main: './dist/index.js', dependencies: { ms: '2.1.3' } }),
      'packages/lib/src/index.js': "module.exports = (n) => require('ms')(n);\n",
      'packages/lib/dist/index.js': "module.exports = (n) => require('ms')(n);\n",
      'packages/svc/package.json': JSON.stringify({ name: '@fx/svc', version: '0.0.1', main: './dist/main.js', dependencies: { '@fx/lib': '*' } }),
      'packages/svc/Dockerfile': dockerfile,
      'packages/svc/src/main.js': "console.log(require('@fx/lib')(1000));\n",
      'packages/svc/dist/main.js': "console.log(require('@fx/lib')(1000));\n",
      'packages/other/package.json': JSON.stringify({ name: '@fx/other', version: '0.0.1', dependencies: { debug: '4.3.7' } }),
    });
    spawnSync('git', ['init', '-q'], { cwd: root });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const stageSvc = () =>
    stageInChild({
      workspaceRoot: root,
      projectName: '@fx/svc',
      dockerfilePath: join(root, 'packages/svc/Dockerfile'),
      outputDir: join(root, '.nx-docker-delta/contexts/packages/svc'),
    });

  it('stages each library under workspace_modules (and its manifest alone for the install layer), and npm ci links it', () => {
    const r = stageSvc();
    expect(r.error).toBeUndefined();
    expect(r.files).toEqual(
      [
        '.nx-docker-delta/workspace-manifests/workspace_modules/@fx/lib/package.json',
        'package-lock.json',
        'package.json',
        'packages/svc/dist/main.js',
        'workspace_modules/@fx/lib/dist/index.js',
        'workspace_modules/@fx/lib/package.json',
        'workspace_modules/@fx/lib/src/index.js',
      ].sort()
    );
    expect(JSON.parse(readStaged(r.dir, 'package.json')).dependencies).toMatchObject({ '@fx/lib': 'file:./workspace_modules/@fx/lib' });
    // The staged copy of the library must stay invisible to git and to Nx's project discovery.
    expect(readStaged(r.dir, '.gitignore')).toMatch(/^\*$/m);
    const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=all', '.nx-docker-delta'], { cwd: root, encoding: 'utf8' });
    expect(status.stdout).toBe('');
    const lock = readStaged(r.dir, 'package-lock.json');
    expect(lock).toContain('"node_modules/ms"');
    expect(lock).not.toContain('debug');
    expect(lock).not.toContain('left-pad');
    // What the generated Dockerfile does: install, then run the service against the linked library.
    const ci = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: r.dir, encoding: 'utf8' });
    expect(ci.stderr).not.toMatch(/ERR!/);
    expect(ci.status).toBe(0);
    const out = spawnSync(process.execPath, ['packages/svc/dist/main.js'], { cwd: r.dir, encoding: 'utf8' });
    expect(out.stdout.trim()).toBe('1s');
  });

  it('says which library is not built yet', () => {
    rmSync(join(root, 'packages/lib/dist'), { recursive: true });
    expect(stageSvc().error).toBe(
      'packages/lib/dist/index.js (main of @fx/lib, which @fx/svc depends on) does not exist — run `nx run @fx/svc:build` so its dependencies are built first, or fix "main" in packages/lib/package.json.'
    );
  });
});

describe('stagePrunedContext when Nx\'s graph misses what the build output loads (npm)', () => {
  let root: string;
  const main = [
    "const fs = require('node:fs');",
    "const path = require('path');",
    "const ms = require('ms');",
    "const compare = require('@isaacs/string-locale-compare');",
    "const { __assign } = require('tslib');",
    "console.log(ms(2000), typeof compare('en'), typeof __assign, typeof fs.readFileSync, path.sep);",
    '',
  ].join('\n');
  beforeAll(() => {
    root = makeWorkspace('npm', {
      'package.json': JSON.stringify({
        name: 'empty-manifest',
        private: true,
        packageManager: `npm@${FIXTURE_PM_VERSIONS.npm}`,
        dependencies: { ms: '2.1.3', '@isaacs/string-locale-compare': '1.1.0', debug: '4.3.7' },
        devDependencies: { tslib: '2.8.1' },
      }),
      // What `typescript` missing does to Nx's graph, reproduced where the test's Nx always finds typescript.
      'nx.json': JSON.stringify({ pluginsConfig: { '@nx/js': { analyzeSourceFiles: false } } }),
      'apps/svc/project.json': JSON.stringify({ name: 'svc', projectType: 'application', sourceRoot: 'apps/svc/src' }),
      'apps/svc/src/main.js': main,
      'apps/svc/Dockerfile': '# nx-docker-delta: context=pruned\nFROM node\nCOPY package.json package-lock.json ./\nCOPY dist/apps/svc ./\n',
      'dist/apps/svc/main.js': main,
      'dist/apps/svc/main.js.map': '{"sources":["require(\'not-a-dep\')"]}',
    });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const stageSvc = () =>
    stageInChild({
      workspaceRoot: root,
      projectName: 'svc',
      dockerfilePath: join(root, 'apps/svc/Dockerfile'),
      outputDir: join(root, '.nx-docker-delta/contexts/apps/svc'),
    });

  it('says before staging that the graph holds no imports, adds what the output loads at the locked versions, and the output starts', () => {
    const r = stageSvc();
    expect(r.error).toBeUndefined();
    expect(r.log[0]).toBe(
      '⚠ nx.json sets pluginsConfig["@nx/js"].analyzeSourceFiles to false, so Nx\'s graph holds no source imports — remove that setting. The manifest of svc then comes only from what its build output loads.'
    );
    expect(r.log[1]).toBe(
      "Added to the manifest of svc what its build output loads but Nx's graph shows no import of: @isaacs/string-locale-compare@1.1.0 (dist/apps/svc/main.js), ms@2.1.3 (dist/apps/svc/main.js), tslib@2.8.1 (dist/apps/svc/main.js)."
    );
    expect(JSON.parse(readStaged(r.dir, 'package.json')).dependencies).toEqual({
      '@isaacs/string-locale-compare': '1.1.0',
      ms: '2.1.3',
      tslib: '2.8.1',
    });
    const lock = readStaged(r.dir, 'package-lock.json');
    expect(lock).not.toContain('debug');
    const ci = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: r.dir, encoding: 'utf8' });
    expect(ci.stderr).not.toMatch(/ERR!/);
    expect(ci.status).toBe(0);
    const out = spawnSync(process.execPath, ['dist/apps/svc/main.js'], { cwd: r.dir, encoding: 'utf8' });
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toBe('2s function function function /');
  });

  it('stages byte-identical files on a second run', () => {
    const first = stageSvc();
    const bytes = first.files.map((f) => readFileSync(join(first.dir, f)));
    const second = stageSvc();
    expect(second.files).toEqual(first.files);
    expect(second.files.map((f) => readFileSync(join(second.dir, f)))).toEqual(bytes);
  });

  it('stops with one sentence naming the package, the file and the fix when the lockfile lacks it', () => {
    writeFiles(root, { 'dist/apps/svc/worker.js': "module.exports = require('left-pad/index.js');\n" });
    expect(stageSvc().error).toBe(
      'dist/apps/svc/worker.js loads left-pad at run time, but left-pad is not in package-lock.json — add it to package.json and run `npm install`, so the image can install it.'
    );
    rmSync(join(root, 'dist/apps/svc/worker.js'));
  });
});

describe('stagePrunedContext reads the workspace like docker build (npm)', () => {
  let root: string;
  beforeAll(() => {
    root = makeWorkspace('npm', twoServiceFiles('npm'));
    addBuildOutputs(root, 'npm');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("stages what the workspace's .dockerignore lets through (a ! exception inside an ignored folder too) and keeps links as links", () => {
    writeFiles(root, {
      '.dockerignore': 'apps/a/assets/private\n!apps/a/assets/private/public.txt\n',
      'apps/a/assets/private/key.pem': 'KEY\n',
      'apps/a/assets/private/public.txt': 'pub\n',
    });
    symlinkSync('a.txt', join(root, 'apps/a/assets/alias.txt'));
    const a = stage(root, 'a');
    expect(a.error).toBeUndefined();
    expect(a.files.filter((f) => f.startsWith('apps/a/assets/'))).toEqual([
      'apps/a/assets/a.txt',
      'apps/a/assets/alias.txt',
      'apps/a/assets/private/public.txt',
    ]);
    expect(lstatSync(join(a.dir, 'apps/a/assets/alias.txt')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(a.dir, 'apps/a/assets/alias.txt'))).toBe('a.txt');
    // The Dockerfile-specific ignore file replaces the root one.
    writeFileSync(join(root, 'apps/a/Dockerfile.dockerignore'), 'apps/a/assets/a.txt\napps/a/assets/alias.txt\n');
    expect(stage(root, 'a').files.filter((f) => f.startsWith('apps/a/assets/'))).toEqual([
      'apps/a/assets/private/key.pem',
      'apps/a/assets/private/public.txt',
    ]);
    rmSync(join(root, 'apps/a/Dockerfile.dockerignore'));
    rmSync(join(root, '.dockerignore'));
    rmSync(join(root, 'apps/a/assets/private'), { recursive: true });
    rmSync(join(root, 'apps/a/assets/alias.txt'));
  });

  it('refuses a link that leaves the workspace, in one sentence', () => {
    symlinkSync('/etc/hostname', join(root, 'apps/a/assets/host'));
    try {
      expect(stage(root, 'a').error).toBe(
        'apps/a/assets/host is a symbolic link to /etc/hostname, outside the workspace — Docker would copy a dangling link: replace it with the file itself, point it inside the workspace, or add it to .dockerignore.'
      );
    } finally {
      rmSync(join(root, 'apps/a/assets/host'));
    }
  });
});

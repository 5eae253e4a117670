/**
 * Real temp-dir Nx workspaces for tests of the pruned context: real lockfiles
 * written by the real package managers, and a child process (cwd = fixture)
 * to compute the project graph, because Nx resolves its caches from the
 * process's workspace root.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { StagedContext } from '../pruned-context';

export type FixturePm = 'npm' | 'pnpm' | 'yarn';

/** Package manager versions the fixtures pin (root `packageManager`). */
export const FIXTURE_PM_VERSIONS: Record<FixturePm, string> = {
  npm: '10.9.0',
  pnpm: '9.15.9',
  yarn: '1.22.22',
};

const REPO_NODE_MODULES = join(__dirname, '../../../../../node_modules');

/** Writes files (path → content) under `root`. */
export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), c);
  }
}

/** Two services (`a` uses `debug`, `b` only the lib) and a lib `shared` (uses `ms`). */
export function twoServiceFiles(pm: FixturePm, extraDeps: Record<string, string> = {}): Record<string, string> {
  return {
    'package.json': JSON.stringify(
      {
        name: 'fixture',
        version: '0.0.0',
        private: true,
        packageManager: `${pm}@${FIXTURE_PM_VERSIONS[pm]}`,
        dependencies: { debug: '4.3.7', ms: '2.1.3', ...extraDeps },
        devDependencies: { 'left-pad': '1.3.0' },
      },
      null,
      2
    ),
    // Nx analyses source imports only with @nx/js installed or this switch.
    'nx.json': JSON.stringify({ pluginsConfig: { '@nx/js': { analyzeSourceFiles: true } } }),
    'tsconfig.base.json': JSON.stringify({
      compilerOptions: { baseUrl: '.', paths: { '@fx/shared': ['libs/shared/src/index.js'] } },
    }),
    'apps/a/project.json': JSON.stringify({ name: 'a', projectType: 'application', sourceRoot: 'apps/a/src' }),
    'apps/b/project.json': JSON.stringify({ name: 'b', projectType: 'application', sourceRoot: 'apps/b/src' }),
    'libs/shared/project.json': JSON.stringify({ name: 'shared', projectType: 'library', sourceRoot: 'libs/shared/src' }),
    'apps/a/src/main.ts': "import debug from 'debug';\nimport { greet } from '@fx/shared';\nexport const run = () => debug('a')(greet('a'));\n",
    'apps/b/src/main.ts': "import { greet } from '@fx/shared';\nexport const run = () => greet('b');\n",
    'libs/shared/src/index.ts': "import ms from 'ms';\nexport const greet = (n: string) => `hello ${n} ${ms(1000)}`;\n",
  };
}

/** Runs the package manager's install (real registry, no scripts) in `root`. */
export function install(root: string, pm: FixturePm): void {
  const args: Record<FixturePm, string[]> = {
    npm: ['-y', `npm@${FIXTURE_PM_VERSIONS.npm}`, 'install', '--ignore-scripts', '--no-audit', '--no-fund'],
    // CI=true makes pnpm default to --frozen-lockfile; fixtures change package.json on purpose.
    pnpm: ['-y', `pnpm@${FIXTURE_PM_VERSIONS.pnpm}`, 'install', '--ignore-scripts', '--no-frozen-lockfile'],
    yarn: ['-y', `yarn@${FIXTURE_PM_VERSIONS.yarn}`, 'install', '--ignore-scripts', '--non-interactive', '--no-progress'],
  };
  const r = spawnSync('npx', args[pm], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NPM_CONFIG_YES: 'true', npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0) throw new Error(`${pm} install failed in ${root}:\n${r.stdout}\n${r.stderr}`);
}

/** Creates a temp workspace with `files` and installs it. */
export function makeWorkspace(pm: FixturePm, files: Record<string, string>, prefix = 'nxdd-ctx-'): string {
  const root = mkdtempSync(join(tmpdir(), `${prefix}${pm}-`));
  writeFiles(root, files);
  install(root, pm);
  return root;
}

/** Options for {@link stageInChild}. */
export interface ChildStageOptions {
  workspaceRoot: string;
  projectName: string;
  dockerfilePath: string;
  outputDir: string;
  buildOutputPath?: string;
  /** Extra environment of the child (not passed on to stagePrunedContext). */
  env?: Record<string, string>;
}

/**
 * Runs `stagePrunedContext` in a child process whose cwd is the fixture, the
 * way the executor runs it inside the workspace. Returns the result, or the
 * thrown message as `error`.
 */
export function stageInChild({ env, ...o }: ChildStageOptions): StagedContext & { error?: string; log: string[] } {
  const out = execFileSync(
    process.execPath,
    ['-r', join(REPO_NODE_MODULES, '@swc-node/register'), join(__dirname, 'stage-cli.ts'), JSON.stringify(o)],
    {
      cwd: o.workspaceRoot,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NODE_PATH: REPO_NODE_MODULES, NX_VERBOSE_LOGGING: 'false', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }
  );
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`stage-cli printed no result:\n${out}`);
  return JSON.parse(line);
}

/** Reads a staged file as text. */
export const readStaged = (dir: string, rel: string) => readFileSync(join(dir, rel), 'utf8');

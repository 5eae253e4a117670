// One-time preparation: the shared node_modules template, per-contender lockfiles, the plugin
// build, and a workspace per contender (same source, own root files, git history).
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { run } from './proc.mjs';
import { PNPM_VERSION, PROFILES, writeFiles } from './workspace.mjs';
import { contenderRootFiles } from './contenders.mjs';

export const CACHE_DIR = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'nx-docker-delta-bench');

const PLUGIN_DEPS = JSON.parse(readFileSync(new URL('../../../packages/nx-docker-delta/package.json', import.meta.url), 'utf8')).dependencies ?? {};

/** Every package any contender needs, installed once and shared (node_modules is symlinked). */
const contenderDevDeps = (profile) => ({
  ...profile.devDeps,
  '@nx/docker': '23.2.1',
  '@nx/node': '23.2.1',
  '@nx-tools/nx-container': '7.3.0',
  dotenv: '^16.4.5',
  // nx-docker-delta's own dependencies (its built copy is placed into this node_modules): read from
  // its package.json, so a new runtime dependency can never be missing here.
  ...PLUGIN_DEPS,
});

const sha = (text) => createHash('sha256').update(text).digest('hex').slice(0, 16);

const npmEnv = () => ({ ...process.env, NPM_CONFIG_YES: 'true', NPM_CONFIG_AUDIT: 'false', NPM_CONFIG_FUND: 'false' });

/** The lockfile a package manager writes at the workspace root. */
export const lockfileName = (pm) => (pm === 'pnpm' ? 'pnpm-lock.yaml' : 'package-lock.json');

/**
 * pnpm, installed once into the cache folder from the npm registry (its ordinary client), so
 * template installs and lockfiles need no global install. Returns the pnpm executable.
 */
export async function ensurePnpm(log) {
  const dir = join(CACHE_DIR, `pnpm-${PNPM_VERSION}`);
  const bin = join(dir, 'node_modules/.bin/pnpm');
  if (existsSync(join(dir, '.complete'))) return bin;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"private":true}\n');
  await run('npm', ['install', '--no-audit', '--no-fund', `pnpm@${PNPM_VERSION}`], { cwd: dir, env: npmEnv(), log });
  writeFileSync(join(dir, '.complete'), new Date().toISOString());
  return bin;
}

/** The shared node_modules of one profile and package manager, reinstalled only when its package.json changes. */
export const templatePackageJson = (profile = PROFILES.quick, pm = 'npm') =>
  JSON.stringify(
    {
      name: 'nx-docker-delta-bench-template',
      private: true,
      ...(pm === 'pnpm' ? { packageManager: `pnpm@${PNPM_VERSION}` } : {}),
      dependencies: { ...profile.runtimeDeps, ...profile.templateExtra },
      // pnpm links only direct dependencies at the root: nx-docker-delta's peer @nx/devkit (what
      // `nx add` / pnpm's auto-installed peers give its users) must be one.
      devDependencies: { ...contenderDevDeps(profile), ...(pm === 'pnpm' ? { '@nx/devkit': '23.2.1' } : {}) },
      ...(pm === 'pnpm' ? { pnpm: { overrides: { 'node-fetch': '2.7.0' } } } : { overrides: { 'node-fetch': '2.7.0' } }),
    },
    null,
    2
  ) + '\n';

export const templateDir = (profile = PROFILES.quick, pm = 'npm') => join(CACHE_DIR, `template-${profile.id === 'quick' && pm === 'npm' ? '' : `${profile.id}-${pm}-`}${sha(templatePackageJson(profile, pm))}`);

export async function ensureTemplate(log, profile = PROFILES.quick, pm = 'npm') {
  const pkg = templatePackageJson(profile, pm);
  const dir = templateDir(profile, pm);
  if (existsSync(join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), pkg);
  if (pm === 'pnpm') await run(await ensurePnpm(log), ['install', '--prefer-offline', '--config.confirmModulesPurge=false'], { cwd: dir, env: npmEnv(), log });
  else await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env: npmEnv(), log });
  writeFileSync(join(dir, '.complete'), new Date().toISOString());
  return dir;
}

/** The lockfile (package-lock.json or pnpm-lock.yaml) for a contender's package.json (resolved once, then cached by content). */
export async function lockfileFor(packageJsonText, log, pm = 'npm') {
  const file = join(CACHE_DIR, 'locks', `${pm === 'npm' ? '' : `${pm}-`}${sha(packageJsonText)}.${pm === 'pnpm' ? 'yaml' : 'json'}`);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'nxbench-lock-'));
  try {
    writeFileSync(join(dir, 'package.json'), packageJsonText);
    if (pm === 'pnpm') await run(await ensurePnpm(log), ['install', '--lockfile-only', '--ignore-scripts', '--prefer-offline'], { cwd: dir, env: npmEnv(), log });
    else await run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env: npmEnv(), log });
    mkdirSync(dirname(file), { recursive: true });
    const text = readFileSync(join(dir, lockfileName(pm)), 'utf8');
    writeFileSync(file, text);
    return text;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Builds nx-docker-delta as committed at `rev` (default HEAD) into the template's node_modules,
 * as its package would install (dist + package.json + executors.json + generators.json). The
 * source comes from `git archive`, never the working tree, so other people's unfinished edits
 * in a shared checkout do not end up in the measurement. A copy, never a symlink: linked, Nx
 * resolves the executors to the .ts sources. Returns { commit, generators }.
 */
export async function installPlugin(repoRoot, templateDir, log, rev = 'HEAD') {
  const dest = join(templateDir, 'node_modules/nx-docker-delta');
  const staging = mkdtempSync(join(tmpdir(), 'nxbench-plugin-'));
  try {
    const commit = (await run('git', ['rev-parse', rev], { cwd: repoRoot, capture: true })).stdout.trim();
    const tar = join(staging, 'src.tar');
    await run('git', ['archive', '--output', tar, commit, 'packages/nx-docker-delta', 'tsconfig.base.json'], { cwd: repoRoot, log });
    await run('tar', ['-xf', tar, '-C', staging], { log });
    symlinkSync(join(repoRoot, 'node_modules'), join(staging, 'node_modules'), 'dir');
    const pkgDir = join(staging, 'packages/nx-docker-delta');
    await run(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(pkgDir, 'tsconfig.lib.json'), '--outDir', join(staging, 'dist'), '--tsBuildInfoFile', join(staging, 'tsbuildinfo')], { cwd: staging, log });
    copyAssets(join(pkgDir, 'src'), join(staging, 'dist'));
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    cpSync(join(staging, 'dist'), join(dest, 'dist'), { recursive: true });
    for (const file of ['package.json', 'executors.json', 'generators.json']) {
      if (existsSync(join(pkgDir, file))) cpSync(join(pkgDir, file), join(dest, file));
    }
    const generators = existsSync(join(dest, 'generators.json')) ? Object.keys(JSON.parse(readFileSync(join(dest, 'generators.json'), 'utf8')).generators ?? {}) : [];
    return { commit, generators };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The plugin build of one template copied into another (compiled once per run). */
export function copyPlugin(fromTemplate, toTemplate) {
  const dest = join(toTemplate, 'node_modules/nx-docker-delta');
  rmSync(dest, { recursive: true, force: true });
  cpSync(join(fromTemplate, 'node_modules/nx-docker-delta'), dest, { recursive: true });
}

function copyAssets(src, dest) {
  for (const name of readdirSync(src)) {
    const abs = join(src, name);
    if (statSync(abs).isDirectory()) copyAssets(abs, join(dest, name));
    else if (!name.endsWith('.ts') || name.endsWith('.d.ts')) {
      mkdirSync(dest, { recursive: true });
      cpSync(abs, join(dest, name));
    }
  }
}

/** A fresh workspace for one contender, committed to git (affected needs a base). */
export async function createWorkspace({ contender, ws, templateDir, services, log }) {
  mkdirSync(ws.root, { recursive: true });
  writeFiles(ws.root, ws.profile.files({ services }));
  const rootFiles = contenderRootFiles(contender, ws);
  writeFiles(ws.root, rootFiles);
  writeFileSync(join(ws.root, lockfileName(ws.pm)), await lockfileFor(rootFiles['package.json'], log, ws.pm));
  symlinkSync(join(templateDir, 'node_modules'), join(ws.root, 'node_modules'), 'dir');
  await git(ws, ['init', '-q', '-b', 'main'], log);
  await commitAll(ws, 'workspace', log);
}

export const git = (ws, args, log) =>
  run('git', ['-c', 'user.email=bench@example.invalid', '-c', 'user.name=bench', '-c', 'commit.gpgsign=false', ...args], { cwd: ws.root, env: ws.env, log });

export async function commitAll(ws, message, log) {
  await git(ws, ['add', '--all', '.'], log);
  await git(ws, ['commit', '-q', '--allow-empty', '-m', message], log);
}

/**
 * What a fresh clone does not have: all of `.nx` (cache *and* workspace-data — with only the
 * cache folder gone, Nx 23 still reported `[local cache]` hits without restoring the outputs),
 * build output, receipts, staged contexts.
 */
export function wipeWorkspaceState(ws) {
  for (const rel of ['.nx', 'dist', '.nx-docker-delta']) rmSync(join(ws.root, rel), { recursive: true, force: true });
  for (const name of ws.services) rmSync(join(ws.root, 'apps', name, 'dist'), { recursive: true, force: true });
}

export const rel = (from, to) => relative(from, to) || '.';

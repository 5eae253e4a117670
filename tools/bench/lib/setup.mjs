// One-time preparation: the shared node_modules template, per-contender lockfiles, the plugin
// build, and a workspace per contender (same source, own root files, git history).
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { run } from './proc.mjs';
import { RUNTIME_DEPS, TOOLCHAIN_DEV_DEPS, writeFiles, workspaceFiles } from './workspace.mjs';
import { contenderRootFiles } from './contenders.mjs';

export const CACHE_DIR = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'nx-docker-delta-bench');

const PLUGIN_DEPS = JSON.parse(readFileSync(new URL('../../../packages/nx-docker-delta/package.json', import.meta.url), 'utf8')).dependencies ?? {};

/** Every package any contender needs, installed once and shared (node_modules is symlinked). */
const TEMPLATE_DEV_DEPS = {
  ...TOOLCHAIN_DEV_DEPS,
  '@nx/docker': '23.2.1',
  '@nx/node': '23.2.1',
  '@nx-tools/nx-container': '7.3.0',
  dotenv: '^16.4.5',
  // nx-docker-delta's own dependencies (its built copy is placed into this node_modules): read from
  // its package.json, so a new runtime dependency can never be missing here.
  ...PLUGIN_DEPS,
};

const sha = (text) => createHash('sha256').update(text).digest('hex').slice(0, 16);

const npmEnv = () => ({ ...process.env, NPM_CONFIG_YES: 'true', NPM_CONFIG_AUDIT: 'false', NPM_CONFIG_FUND: 'false' });

/** The shared node_modules, reinstalled only when its package.json changes. */
export const templatePackageJson = () =>
  JSON.stringify({ name: 'nx-docker-delta-bench-template', private: true, dependencies: RUNTIME_DEPS, devDependencies: TEMPLATE_DEV_DEPS, overrides: { 'node-fetch': '2.7.0' } }, null, 2) + '\n';

export const templateDir = () => join(CACHE_DIR, `template-${sha(templatePackageJson())}`);

export async function ensureTemplate(log) {
  const pkg = templatePackageJson();
  const dir = templateDir();
  if (existsSync(join(dir, '.complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), pkg);
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env: npmEnv(), log });
  writeFileSync(join(dir, '.complete'), new Date().toISOString());
  return dir;
}

/** package-lock.json for a contender's package.json (resolved once, then cached by content). */
export async function lockfileFor(packageJsonText, log) {
  const file = join(CACHE_DIR, 'locks', `${sha(packageJsonText)}.json`);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'nxbench-lock-'));
  try {
    writeFileSync(join(dir, 'package.json'), packageJsonText);
    await run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env: npmEnv(), log });
    mkdirSync(dirname(file), { recursive: true });
    const text = readFileSync(join(dir, 'package-lock.json'), 'utf8');
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
  writeFiles(ws.root, workspaceFiles({ services }));
  const rootFiles = contenderRootFiles(contender, ws);
  writeFiles(ws.root, rootFiles);
  writeFileSync(join(ws.root, 'package-lock.json'), await lockfileFor(rootFiles['package.json'], log));
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

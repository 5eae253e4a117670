/**
 * What toolchain a workspace uses, read from a Tree (so `--dry-run` and tests
 * on virtual trees see exactly what a real run sees).
 */
import type { Tree } from '@nx/devkit';

export type NodePackageManager = 'npm' | 'pnpm' | 'yarn' | 'yarn-berry';

/** A Node workspace: its package manager, pinned version (if known) and lockfile. */
export interface NodeToolchain {
  kind: 'node';
  packageManager: NodePackageManager;
  /** Exact version to install in the base, e.g. `9.15.9`; undefined = what the image ships. */
  version?: string;
  lockfile: string;
  /** Node major from `.nvmrc` / `.node-version` / engines, default `20`. */
  nodeMajor: string;
}

/** A mix umbrella: root `mix.exs` with `apps/*`. */
export interface ElixirToolchain {
  kind: 'elixir';
  appsPath: string;
  apps: string[];
  hasLock: boolean;
  hasConfig: boolean;
}

export type Toolchain = NodeToolchain | ElixirToolchain;

/** Toolchains the generators support, for error messages. */
export const SUPPORTED_TOOLCHAINS =
  'Node (npm, pnpm, yarn classic or berry, with a lockfile at the workspace root) or an Elixir mix umbrella (root mix.exs with apps/*)';

const LOCKFILES: Array<[string, NodePackageManager]> = [
  ['pnpm-lock.yaml', 'pnpm'],
  ['yarn.lock', 'yarn'],
  ['package-lock.json', 'npm'],
];

/** Reads the `packageManager` field: `pnpm@9.15.9+sha512…` → ['pnpm', '9.15.9']. */
function packageManagerField(tree: Tree): [string, string] | undefined {
  if (!tree.exists('package.json')) return undefined;
  try {
    const pm = JSON.parse(tree.read('package.json', 'utf-8') ?? '{}').packageManager;
    const m = typeof pm === 'string' ? /^(npm|pnpm|yarn)@(\d+\.\d+\.\d+[^+]*)/.exec(pm) : null;
    return m ? [m[1], m[2]] : undefined;
  } catch {
    return undefined;
  }
}

function nodeMajor(tree: Tree): string {
  for (const f of ['.nvmrc', '.node-version']) {
    const m = /(\d+)/.exec(tree.read(f, 'utf-8') ?? '');
    if (m) return m[1];
  }
  try {
    const engines = JSON.parse(tree.read('package.json', 'utf-8') ?? '{}').engines?.node;
    const m = typeof engines === 'string' ? /(\d+)/.exec(engines) : null;
    if (m && Number(m[1]) >= 18) return m[1];
  } catch {
    /* default below */
  }
  return '20';
}

/** Parses the umbrella's `apps_path` (default `apps`). */
function umbrellaAppsPath(mixExs: string): string | undefined {
  const m = /apps_path:\s*"([^"]+)"/.exec(mixExs);
  return m ? m[1] : undefined;
}

/** Detects the workspace toolchain, or undefined when it is none we support. */
export function detectToolchain(tree: Tree): Toolchain | undefined {
  if (tree.exists('mix.exs')) {
    const mix = tree.read('mix.exs', 'utf-8') ?? '';
    const appsPath = umbrellaAppsPath(mix) ?? (tree.exists('apps') ? 'apps' : undefined);
    if (appsPath) {
      const apps = tree
        .children(appsPath)
        .filter((a) => tree.exists(`${appsPath}/${a}/mix.exs`))
        .sort();
      return {
        kind: 'elixir',
        appsPath,
        apps,
        hasLock: tree.exists('mix.lock'),
        hasConfig: tree.exists('config'),
      };
    }
  }
  const field = packageManagerField(tree);
  const lock = LOCKFILES.find(([f]) => tree.exists(f));
  if (!lock && !field) return undefined;
  let pm: NodePackageManager = (lock?.[1] ?? field?.[0]) as NodePackageManager;
  let version = field && (field[0] === pm || (pm === 'yarn' && field[0] === 'yarn')) ? field[1] : undefined;
  if (pm === 'yarn') {
    const text = lock ? tree.read(lock[0], 'utf-8') ?? '' : '';
    const berry = text.includes('__metadata:') || (version !== undefined && Number(version.split('.')[0]) >= 2);
    if (berry) pm = 'yarn-berry';
    else version ??= '1.22.22';
  }
  if (pm === 'pnpm' && !version && lock) {
    const m = /lockfileVersion:\s*'?(\d+)/.exec(tree.read(lock[0], 'utf-8') ?? '');
    // Lockfile v9 is written by pnpm 9 and 10; v6 by pnpm 8. Pin the major, not a guess of the patch.
    version = m && Number(m[1]) >= 9 ? '9' : m && Number(m[1]) >= 6 ? '8' : undefined;
  }
  const lockfile = lock?.[0] ?? { npm: 'package-lock.json', pnpm: 'pnpm-lock.yaml', yarn: 'yarn.lock', 'yarn-berry': 'yarn.lock' }[pm];
  return { kind: 'node', packageManager: pm, version, lockfile, nodeMajor: nodeMajor(tree) };
}

/** In-umbrella dependencies of an app, transitively, from `{:dep, in_umbrella: true}` entries. */
export function inUmbrellaDeps(tree: Tree, appsPath: string, app: string): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    const mix = tree.read(`${appsPath}/${name}/mix.exs`, 'utf-8') ?? '';
    for (const m of mix.matchAll(/\{\s*:(\w+)\s*,\s*in_umbrella:\s*true/g)) {
      if (!seen.has(m[1]) && tree.exists(`${appsPath}/${m[1]}/mix.exs`)) {
        seen.add(m[1]);
        visit(m[1]);
      }
    }
  };
  visit(app);
  seen.delete(app);
  return [...seen].sort();
}

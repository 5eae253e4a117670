/**
 * npm lockfiles (v2/v3, the `packages` map keyed by install path) checked and pruned by their own
 * layout. Pure: no file system, no Nx.
 *
 * Why: Nx's pruning rebuilds npm's hoisting from its graph, and some versions place a nested
 * duplicate at the wrong path (seen with Nx 21: `dom-serializer@1.4.1` left resolving
 * `domhandler@3.3.0` where it needs `^4.2.0`, so `npm ci` refuses the lockfile), or fail and return
 * the whole root lockfile. The root lockfile's own layout is valid by construction: keeping the
 * entries reachable from the service's dependencies, at the paths they already have, gives a
 * pruned lockfile npm accepts, without re-hoisting anything.
 */
import satisfies = require('semver/functions/satisfies');
import validRange = require('semver/ranges/valid');

export interface NpmLockEntry {
  name?: string;
  version?: string;
  link?: boolean;
  resolved?: string;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

export interface NpmLock {
  name?: string;
  version?: string;
  lockfileVersion?: number;
  requires?: boolean;
  packages?: Record<string, NpmLockEntry>;
  [key: string]: unknown;
}

/** The manifest sections a pruned lockfile's root entry mirrors. */
export interface NpmManifest {
  name?: unknown;
  version?: unknown;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * Where Node's resolution finds `name` for the package installed at `from` ('' = the root): its
 * own node_modules, then each enclosing node_modules up to the root's.
 */
export function resolveInLock(packages: Record<string, NpmLockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}

type Edge = { name: string; spec: string; kind: 'prod' | 'optional' | 'peer' | 'dev' };

function edgesOf(entry: NpmLockEntry, root: boolean): Edge[] {
  const out: Edge[] = [];
  // A name in both dependencies and optionalDependencies is optional (package.json semantics).
  for (const [name, spec] of Object.entries(entry.dependencies ?? {})) if (!entry.optionalDependencies?.[name]) out.push({ name, spec, kind: 'prod' });
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) out.push({ name, spec, kind: 'optional' });
  for (const [name, spec] of Object.entries(entry.peerDependencies ?? {})) {
    // An optional peer is installed only when something else needs it.
    if (!entry.peerDependenciesMeta?.[name]?.optional) out.push({ name, spec, kind: 'peer' });
  }
  if (root) for (const [name, spec] of Object.entries(entry.devDependencies ?? {})) out.push({ name, spec, kind: 'dev' });
  return out;
}

/** The semver range a dependency spec asks for, or undefined when it is not a registry range (git, file:, a tag…). */
function rangeOf(spec: string): string | undefined {
  let range = spec;
  if (spec.startsWith('npm:')) {
    const at = spec.lastIndexOf('@');
    if (at <= 'npm:'.length) return undefined;
    range = spec.slice(at + 1);
  }
  return validRange(range, { loose: true }) ?? undefined;
}

/**
 * The first dependency of the lockfile's installed tree that npm would not accept: one that
 * resolves to nothing (and is not optional) or to a version outside its range. Only what is
 * reachable from the root entry is checked. Undefined when the tree is consistent.
 */
export function checkNpmLock(lock: NpmLock): string | undefined {
  const packages = lock.packages;
  if (!packages?.['']) return 'the lockfile has no "packages" root entry (lockfile v1?)';
  const seen = new Set<string>(['']);
  const queue = [''];
  while (queue.length) {
    const from = queue.shift() as string;
    const entry = packages[from];
    for (const edge of edgesOf(entry, from === '')) {
      const at = resolveInLock(packages, entry.link && entry.resolved ? entry.resolved : from, edge.name);
      const who = from === '' ? 'the root manifest' : `${entry.name ?? from.slice(from.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${entry.version ?? '?'}`;
      if (!at) {
        if (edge.kind === 'optional' || edge.kind === 'dev') continue;
        return `${who} needs ${edge.name}@${edge.spec}, which the lockfile does not hold where Node looks for it`;
      }
      const target = packages[at].link && packages[at].resolved ? (packages[at].resolved as string) : at;
      const found = packages[target] ?? packages[at];
      const range = rangeOf(edge.spec);
      if (range && found.version && !packages[at].link && !satisfies(found.version, range, { loose: true, includePrerelease: true })) {
        return `${who} needs ${edge.name}@${edge.spec}, but ${at} holds ${found.version}`;
      }
      if (!seen.has(target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return undefined;
}

export type PrunedNpmLock = { ok: true; lock: NpmLock; entries: number } | { ok: false; reason: string };

/**
 * The root lockfile pruned to what `manifest` needs, every entry at the path it has in the root
 * lockfile (no re-hoisting). Flags are recomputed for the new root: `optional` for what only
 * optional edges reach, `dev` for what only devDependencies reach; the legacy v1 `dependencies`
 * section is dropped (npm 7+ reads `packages`). Workspace links are not handled: `ok: false`.
 */
export function pruneNpmLock(rootLock: NpmLock, manifest: NpmManifest): PrunedNpmLock {
  const packages = rootLock.packages;
  if (!packages?.['']) return { ok: false, reason: 'the root lockfile has no "packages" map (lockfile v1)' };
  const rootEntry: NpmLockEntry = { name: typeof manifest.name === 'string' ? manifest.name : undefined, version: typeof manifest.version === 'string' ? manifest.version : undefined };
  for (const section of ['dependencies', 'optionalDependencies', 'devDependencies', 'peerDependencies'] as const) {
    const deps = manifest[section];
    if (deps && Object.keys(deps).length) rootEntry[section] = { ...deps };
  }

  // Three walks from the new root: everything (kept), without optional edges (required), and
  // without dev edges (production).
  const walk = (follow: (edge: Edge) => boolean): Set<string> | string => {
    const reached = new Set<string>();
    const queue: string[] = [''];
    while (queue.length) {
      const from = queue.shift() as string;
      const entry = from === '' ? rootEntry : packages[from];
      if (entry.link) return `${from} is a workspace link`;
      for (const edge of edgesOf(entry, from === '')) {
        if (!follow(edge)) continue;
        const at = resolveInLock(packages, from, edge.name);
        if (!at) {
          if (edge.kind === 'optional') continue;
          return `${from === '' ? 'the manifest' : from} needs ${edge.name}@${edge.spec}, which the root lockfile does not hold where Node looks for it`;
        }
        if (!reached.has(at)) {
          reached.add(at);
          queue.push(at);
        }
      }
    }
    return reached;
  };
  const kept = walk(() => true);
  if (typeof kept === 'string') return { ok: false, reason: kept };
  const required = walk((e) => e.kind !== 'optional');
  const production = walk((e) => e.kind !== 'dev');
  if (typeof required === 'string' || typeof production === 'string') return { ok: false, reason: typeof required === 'string' ? required : (production as string) };

  const out: Record<string, NpmLockEntry> = { '': dropUndefined(rootEntry) };
  for (const path of Object.keys(packages)) {
    if (!kept.has(path)) continue;
    const { dev: _dev, optional: _optional, devOptional: _devOptional, peer: _peer, ...entry } = packages[path];
    if (!production.has(path)) entry.dev = true;
    if (!required.has(path)) entry.optional = true;
    out[path] = entry;
  }
  const { dependencies: _legacy, packages: _all, ...top } = rootLock;
  return { ok: true, lock: dropUndefined({ ...top, name: rootEntry.name, version: rootEntry.version, packages: out }), entries: kept.size };
}

function dropUndefined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * What to stage as the npm lockfile of `project`, given the one Nx pruned: `undefined` keeps Nx's
 * (it is consistent, or it is the whole root lockfile — the caller explains that fallback);
 * otherwise the root lockfile pruned here, with why Nx's was not used. Throws one sentence when
 * Nx's lockfile is one npm would refuse and the root lockfile cannot be pruned here either: the
 * build would otherwise fail later, inside Docker, at `npm ci`.
 */
export function chooseNpmLock(input: { project: string; nxLock: string; rootLock: string; manifest: NpmManifest }): { lock: string; why: string } | undefined {
  let why: string | undefined;
  if (input.nxLock === input.rootLock) why = "Nx's pruning failed and returned the whole lockfile";
  else {
    try {
      const problem = checkNpmLock(JSON.parse(input.nxLock) as NpmLock);
      if (problem) why = `Nx's pruned lockfile is one npm would refuse: ${problem}`;
    } catch (error) {
      why = `Nx's pruned lockfile is not JSON (${(error as Error).message})`;
    }
  }
  if (!why) return undefined;
  let reason: string;
  try {
    const own = pruneNpmLock(JSON.parse(input.rootLock) as NpmLock, input.manifest);
    const problem = own.ok ? checkNpmLock(own.lock) : own.reason;
    if (own.ok && !problem) return { lock: JSON.stringify(own.lock, null, 2) + '\n', why };
    reason = problem as string;
  } catch (error) {
    reason = `the root package-lock.json is not JSON (${(error as Error).message})`;
  }
  if (input.nxLock === input.rootLock) return undefined;
  throw new Error(
    `Cannot stage an npm lockfile for "${input.project}": ${why}, and pruning the root package-lock.json here failed too (${reason}) — run \`npm install\` at the workspace root so package-lock.json matches every package.json, then rebuild.`
  );
}

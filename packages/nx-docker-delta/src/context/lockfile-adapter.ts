/**
 * The one place that talks to Nx's lockfile pruning (`createPackageJson` +
 * `generatePrunedDeployOutput`, exported by `@nx/js` and re-exported from
 * `@nx/devkit/internal`). Everything else in the plugin sees only
 * {@link prunePackageManifest}.
 *
 * Why the checks around the calls: Nx 23 fails *open*. When pruning throws
 * internally it prints an error block and returns the whole root lockfile, and
 * when the file-map cache is missing `createPackageJson` silently returns no
 * dependencies. Both would make every service's `deps` layer depend on every
 * other service, so both become loud errors here.
 */
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { InstalledManifest, planMissingPackages, planProvidedPeers, ProvidedPeer } from '../planning/module-specifiers';
import { PruneCache, pruneCacheInputs, pruneCacheKey } from './prune-cache';
import type { PackageManager, ProjectGraph } from '@nx/devkit';

/** Options for {@link prunePackageManifest}. */
export interface PruneOptions {
  /** Absolute workspace root (the process should also run there: Nx reads its caches from the cwd's workspace). */
  workspaceRoot: string;
  /** Nx project name of the service, e.g. `api`. */
  projectName: string;
  /** Project graph that includes external (`npm:`) nodes. */
  projectGraph: ProjectGraph;
  /** Package manager; detected from the root lockfile when omitted. */
  packageManager?: PackageManager;
  /** Keep devDependencies (for `--compile=docker` build manifests). Default false. */
  includeDev?: boolean;
  /** npm package names to force into the manifest (e.g. `typescript` for an in-Docker build). */
  helperDependencies?: string[];
  /**
   * Packages the shipped build output loads (context-relative file → package names). What the
   * graph-based manifest lacks is added at the version the graph holds as `npm:<name>` (Nx's
   * pruning then brings its dependencies); what the lockfile lacks stops the build.
   */
  loadedPackages?: ReadonlyArray<{ file: string; packages: string[] }>;
}

/** A workspace package the service installs from `workspace_modules/<name>` (TS-solution workspaces). */
export interface WorkspaceModule {
  /** Package name, e.g. `@acme/shared`. */
  name: string;
  /** Workspace-relative project root, e.g. `packages/shared`. */
  root: string;
  /** Its package.json with sibling workspace packages rewritten to `file:` paths inside workspace_modules. */
  manifest: Json;
}

/** A pruned manifest and lockfile (plus pnpm's install artifacts), as file contents. */
export interface PrunedManifest {
  packageManager: PackageManager;
  /** Relative path → content. Always has `package.json` and the lockfile. */
  files: Record<string, string>;
  /**
   * Workspace packages the pruned lockfile links as `workspace_modules/<name>`, transitively
   * (empty for path-mapped libraries, which the build output already contains). Only for the
   * production manifest.
   */
  workspaceModules: WorkspaceModule[];
  /** Packages added because the build output loads them though Nx's graph shows no import. */
  added: Array<{ packageName: string; version: string; file: string }>;
  /** Optional peers of installed packages added because the workspace installs them. */
  peers: ProvidedPeer[];
  /**
   * Why Nx's pruned npm lockfile was replaced by one pruned from the root lockfile's own layout
   * (Nx returned the whole root lockfile, or a tree npm would refuse). Absent when Nx's was used.
   */
  lockReplaced?: string;
}

type Json = Record<string, unknown>;

// `@nx/devkit/internal` is deliberately outside devkit's compatibility promise;
// it is loaded lazily, here only, so the plugin's createNodes never pays its
// ~250 ms and a future rename breaks one function with a clear message.
interface NxPruning {
  createPackageJson: (
    projectName: string,
    graph: ProjectGraph,
    options: {
      target?: string;
      root?: string;
      isProduction?: boolean;
      helperDependencies?: string[];
    }
  ) => Json;
  generatePrunedDeployOutput: (
    packageJson: Json,
    graph: ProjectGraph,
    projectRoot: string,
    options: {
      emit: (path: string, content: string | Buffer) => void;
      packageManager: PackageManager;
      workspaceRoot?: string;
    }
  ) => void;
  getLockFileName: (pm: PackageManager) => string;
  /**
   * False for the @nx/js fallback (Nx 20): its createLockFile does not know workspace packages
   * a service depends on by name, so {@link prunePackageManifest} links them itself (npm only).
   */
  linksWorkspaceModules?: boolean;
}

interface NxJsLockfileApi {
  createPackageJson: NxPruning['createPackageJson'];
  createLockFile: (packageJson: Json, graph: ProjectGraph, packageManager: PackageManager) => string;
  getLockFileName: (pm: PackageManager) => string;
}

function loadNxPruning(workspaceRoot: string): NxPruning {
  let internal: Partial<NxPruning> = {};
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    internal = require('@nx/devkit/internal') as Partial<NxPruning>;
  } catch {
    // Older @nx/devkit without the internal entry point: fall through to @nx/js.
  }
  if (
    typeof internal.createPackageJson === 'function' &&
    typeof internal.generatePrunedDeployOutput === 'function' &&
    typeof internal.getLockFileName === 'function'
  ) {
    return internal as NxPruning;
  }
  // Nx 21–22: @nx/devkit/internal has no pruning yet; @nx/js exports createPackageJson and
  // createLockFile publicly (the latter deprecated in 23, planned for removal in 25). @nx/js is
  // the workspace's, not ours, so it is resolved from the workspace root.
  let js: Partial<NxJsLockfileApi> = {};
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    js = require(require.resolve('@nx/js', { paths: [workspaceRoot] })) as Partial<NxJsLockfileApi>;
  } catch {
    js = {};
  }
  const { createPackageJson, createLockFile, getLockFileName } = js;
  if (typeof createPackageJson !== 'function' || typeof createLockFile !== 'function' || typeof getLockFileName !== 'function') {
    throw new Error(
      'This Nx version exports no lockfile pruning (neither generatePrunedDeployOutput from @nx/devkit/internal nor createLockFile from @nx/js) — install @nx/js matching your nx (21–23) in the workspace, or report your Nx version to nx-docker-delta.'
    );
  }
  return {
    createPackageJson,
    getLockFileName,
    linksWorkspaceModules: false,
    generatePrunedDeployOutput: (packageJson, graph, _projectRoot, o) =>
      o.emit(getLockFileName(o.packageManager), createLockFile(packageJson, graph, o.packageManager)),
  };
}

const DEP_SECTIONS = [
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
] as const;

/** Returns a deep copy with every object's keys sorted, so the bytes never depend on insertion order. */
export function sortKeysDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeysDeep) as T;
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const key of Object.keys(value as Json).sort()) {
      out[key] = sortKeysDeep((value as Json)[key]);
    }
    return out as T;
  }
  return value;
}

/** Stable JSON text: 2-space indent, trailing newline. Top-level key order kept (name, version… read best), dependency maps sorted. */
export function stableManifestText(manifest: Json): string {
  const copy: Json = { ...manifest };
  for (const section of DEP_SECTIONS) {
    if (copy[section] && typeof copy[section] === 'object') {
      copy[section] = sortKeysDeep(copy[section]);
    }
  }
  return JSON.stringify(copy, null, 2) + '\n';
}

/**
 * npm packages the graph says the project (and the workspace projects it
 * depends on, transitively) import. Used to detect an empty manifest caused by
 * a missing file-map cache.
 */
export function externalDepsFromGraph(
  graph: ProjectGraph,
  projectName: string,
  /** Workspace projects installed as packages (workspace_modules): their own manifests carry their dependencies. */
  linkedProjects: ReadonlySet<string> = new Set()
): string[] {
  const found = new Set<string>();
  const seen = new Set<string>();
  const stack = [projectName];
  while (stack.length) {
    const name = stack.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const dep of graph.dependencies[name] ?? []) {
      // Implicit edges are not imports (e.g. service → the project owning its base image).
      if (dep.type === 'implicit') continue;
      const ext = graph.externalNodes?.[dep.target];
      if (ext) found.add(ext.data.packageName);
      else if (graph.nodes[dep.target] && !linkedProjects.has(dep.target)) stack.push(dep.target);
    }
  }
  return [...found].sort();
}

const INSTALL_SECTIONS = ['dependencies', 'optionalDependencies', 'peerDependencies'] as const;

function readManifest(workspaceRoot: string, root: string): Json | undefined {
  try {
    return JSON.parse(readFileSync(join(workspaceRoot, root, 'package.json'), 'utf8')) as Json;
  } catch {
    return undefined;
  }
}

/** Package name → project (name and root) for every workspace project with a package.json. */
function workspacePackages(graph: ProjectGraph, workspaceRoot: string): Map<string, { project: string; root: string; manifest: Json }> {
  const out = new Map<string, { project: string; root: string; manifest: Json }>();
  for (const node of Object.values(graph.nodes)) {
    if (node.data.root === '.') continue;
    const manifest = readManifest(workspaceRoot, node.data.root);
    if (typeof manifest?.name === 'string') out.set(manifest.name, { project: node.name, root: node.data.root, manifest });
  }
  return out;
}

const depNames = (manifest: Json) =>
  INSTALL_SECTIONS.flatMap((section) => Object.keys((manifest[section] as Record<string, string> | undefined) ?? {}));

/**
 * Workspace packages a manifest depends on, transitively, with each one's manifest rewritten the
 * way Nx's copy-workspace-modules does (sibling workspace packages → `file:../<relative>`).
 */
export function collectWorkspaceModules(manifest: Json, graph: ProjectGraph, workspaceRoot: string): WorkspaceModule[] {
  const packages = workspacePackages(graph, workspaceRoot);
  const found = new Map<string, WorkspaceModule>();
  const visit = (m: Json) => {
    for (const name of depNames(m)) {
      const pkg = packages.get(name);
      if (!pkg || found.has(name) || name === manifest.name) continue;
      found.set(name, { name, root: pkg.root, manifest: pkg.manifest });
      visit(pkg.manifest);
    }
  };
  visit(manifest);
  const modules = [...found.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  return modules.map((mod) => ({ ...mod, manifest: rewriteWorkspaceSpecifiers(mod.manifest, found, (dep) => `file:${posix.relative(posix.join('workspace_modules', mod.name), posix.join('workspace_modules', dep))}`) }));
}

/** Workspace dependencies → `file:` specifiers; a workspace peer moves to dependencies (a `file:` peer is rejected by pnpm). */
function rewriteWorkspaceSpecifiers(manifest: Json, modules: ReadonlyMap<string, unknown>, spec: (name: string) => string): Json {
  const out: Json = { ...manifest };
  for (const section of INSTALL_SECTIONS) {
    const deps = out[section] as Record<string, string> | undefined;
    if (!deps) continue;
    const rewritten: Record<string, string> = {};
    for (const [name, range] of Object.entries(deps)) {
      if (!modules.has(name)) rewritten[name] = range;
      else if (section === 'peerDependencies') out.dependencies = { ...((out.dependencies as Record<string, string>) ?? {}), [name]: spec(name) };
      else rewritten[name] = spec(name);
    }
    out[section] = rewritten;
  }
  if (out.peerDependencies && Object.keys(out.peerDependencies as Json).length === 0) delete out.peerDependencies;
  return out;
}

/**
 * Finds why Nx fell back to the whole lockfile: a manifest dependency with no
 * matching external node in the graph (missing from the lockfile, or a
 * version the lockfile does not hold).
 */
function explainFallback(manifest: Json, graph: ProjectGraph): string | undefined {
  const nodes = Object.values(graph.externalNodes ?? {});
  for (const section of ['dependencies', 'optionalDependencies'] as const) {
    const deps = (manifest[section] ?? {}) as Record<string, string>;
    for (const [name, spec] of Object.entries(deps)) {
      if (/^(workspace:|file:|link:|portal:)/.test(spec)) continue;
      const candidates = nodes.filter((n) => n.data.packageName === name);
      if (candidates.length === 0) return `${name}@${spec} is not in the lockfile`;
    }
  }
  return undefined;
}

/**
 * Produces the service's pruned `package.json` and lockfile from the Nx graph.
 * Throws (never falls back to the whole lockfile) when pruning fails.
 */
/** `name` of every pruned manifest (the image's labels carry the project name). */
export const PRUNED_MANIFEST_NAME = 'nx-docker-delta-service';

/**
 * package.json fields the image never reads: Nx's project configuration, documentation, and
 * settings of development tools. `scripts`, `version`, `type`, `main`/`exports`/`imports`,
 * `engines`, `packageManager` and the dependency sections stay (install or run time may read them).
 */
export const NOT_INSTALLED_MANIFEST_FIELDS = [
  'nx',
  '$schema',
  'description',
  'keywords',
  'author',
  'contributors',
  'maintainers',
  'license',
  'repository',
  'bugs',
  'homepage',
  'funding',
  'files',
  'publishConfig',
  'jest',
  'eslintConfig',
  'prettier',
  'stylelint',
  'lint-staged',
  'husky',
  'commitlint',
  'browserslist',
] as const;

/**
 * The pruned manifest and lockfile of a service: remembered by everything they are made of
 * (./prune-cache.ts), so a delta that changes code but not what it imports prunes nothing and
 * loads no Nx module for it. `NX_DOCKER_PRUNE_CACHE=0` prunes every time.
 */
export function prunePackageManifest(o: PruneOptions): PrunedManifest {
  if (process.env.NX_DOCKER_PRUNE_CACHE === '0') return pruneNow(o);
  const { workspaceRoot, projectName, projectGraph, ...options } = o;
  const key = pruneCacheKey(pruneCacheInputs({ workspaceRoot, projectName, projectGraph, options }));
  const cache = new PruneCache<PrunedManifest>(workspaceRoot);
  const known = cache.get(key);
  if (known) return known;
  const pruned = pruneNow(o);
  cache.set(key, pruned);
  return pruned;
}

function pruneNow(o: PruneOptions): PrunedManifest {
  const nx = loadNxPruning(o.workspaceRoot);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pm = o.packageManager ?? (require('@nx/devkit') as typeof import('@nx/devkit')).detectPackageManager(o.workspaceRoot);
  const node = o.projectGraph.nodes[o.projectName];
  if (!node) {
    throw new Error(
      `Project "${o.projectName}" is not in the project graph — check the name with \`nx show projects\`.`
    );
  }
  const lockName = nx.getLockFileName(pm);
  let rootLock: string;
  try {
    rootLock = readFileSync(join(o.workspaceRoot, lockName), 'utf8');
  } catch {
    throw new Error(
      `No ${lockName} at the workspace root ${o.workspaceRoot} — run \`${pm} install\` so the pruned context can be built from a lockfile.`
    );
  }

  const manifest = nx.createPackageJson(o.projectName, o.projectGraph, {
    root: o.workspaceRoot,
    isProduction: !o.includeDev,
    helperDependencies: o.helperDependencies?.map((d) => `npm:${d}`),
    // Target inputs decide which files count: with `build`, spec-only imports stay out.
    target: node.data.targets?.['build'] ? 'build' : undefined,
  });

  const rootManifest = JSON.parse(
    readFileSync(join(o.workspaceRoot, 'package.json'), 'utf8')
  ) as Json;
  const rootDev = (rootManifest.devDependencies ?? {}) as Record<string, string>;
  // TS-solution workspaces: libraries the service depends on by package name are installed from
  // workspace_modules/<name> (where Nx's pruned lockfile points), not bundled into its build output.
  const workspaceModules = o.includeDev ? [] : collectWorkspaceModules(manifest, o.projectGraph, o.workspaceRoot);
  const linked = new Set(
    Object.values(o.projectGraph.nodes)
      .filter((n) => workspaceModules.some((m) => m.root === n.data.root))
      .map((n) => n.name)
  );
  const expected = externalDepsFromGraph(o.projectGraph, o.projectName, linked).filter(
    (d) => o.includeDev || !rootDev[d]
  );
  const got = new Set(
    Object.keys({
      ...((manifest.dependencies as Json) ?? {}),
      ...((manifest.devDependencies as Json) ?? {}),
      ...((manifest.peerDependencies as Json) ?? {}),
      ...((manifest.optionalDependencies as Json) ?? {}),
    })
  );
  const missing = expected.filter((d) => !got.has(d));
  if (missing.length > 0) {
    throw new Error(
      `Nx returned a manifest for "${o.projectName}" without ${missing.join(', ')} although the project graph shows the import — run the build from the workspace root (${o.workspaceRoot}) after \`nx reset\` so Nx's file-map cache is current.`
    );
  }

  const added = addLoadedPackages(manifest, o, { workspaceModules, lockName, pm });
  const peers = o.includeDev ? [] : addProvidedPeers(manifest, o, rootManifest, workspaceModules);

  // One name for every service: services with the same dependencies then stage byte-identical
  // manifests and lockfiles, and BuildKit runs their `deps` install once for all of them.
  manifest.name = PRUNED_MANIFEST_NAME;
  // For the same reason, the fields that neither install nor run anything: the project's Nx
  // configuration (targets, tags), its description and tool settings differ per service.
  for (const field of NOT_INSTALLED_MANIFEST_FIELDS) delete manifest[field];
  const files: Record<string, string> = {};
  const linkByHand = nx.linksWorkspaceModules === false && workspaceModules.length > 0;
  if (linkByHand && pm !== 'npm') {
    throw new Error(
      `This Nx version cannot prune a ${pm} lockfile for "${o.projectName}", which depends on workspace packages by name (${workspaceModules.map((m) => m.name).join(', ')}) — upgrade the workspace to Nx 21 or newer, or use npm.`
    );
  }
  // Nx prints its own error block when its pruning fails (and then returns the whole lockfile):
  // held back while an npm lockfile can still be pruned here, printed as it was otherwise.
  const nxOutput = holdOutput(() =>
    nx.generatePrunedDeployOutput(linkByHand ? withoutWorkspaceModules(manifest, workspaceModules) : manifest, o.projectGraph, node.data.root, {
      packageManager: pm,
      workspaceRoot: o.workspaceRoot,
      emit: (path, content) => {
        files[path] = typeof content === 'string' ? content : content.toString('utf8');
      },
    })
  );
  if (linkByHand && files[lockName]) files[lockName] = linkWorkspaceModulesNpm(files[lockName], manifest, workspaceModules);
  const ownLock =
    pm === 'npm' && workspaceModules.length === 0 && files[lockName] ? npmLock().chooseNpmLock({ project: o.projectName, nxLock: files[lockName], rootLock, manifest }) : undefined;
  if (ownLock) files[lockName] = ownLock.lock;
  const lockReplaced = ownLock?.why;
  if (!lockReplaced) nxOutput.release();
  const lock = files[lockName];
  if (lock === undefined || lock.length === 0) {
    throw new Error(
      `Nx produced no ${lockName} for "${o.projectName}" — ${pm} is not supported by the pruned context; use npm, pnpm or yarn.`
    );
  }
  if (lock === rootLock) {
    const why = explainFallback(manifest, o.projectGraph);
    throw new Error(
      `Lockfile pruning for "${o.projectName}" fell back to the whole ${lockName}${why ? ` because ${why}` : ''} — run \`${pm} install\` at the workspace root so ${lockName} matches package.json, then rebuild.`
    );
  }
  // generatePrunedDeployOutput may rewrite the manifest (pnpm config strip), so it is serialized last;
  // workspace packages then point at workspace_modules, as Nx's prune-lockfile executor writes them.
  const modules = new Map(workspaceModules.map((m) => [m.name, m]));
  files['package.json'] = stableManifestText(rewriteWorkspaceSpecifiers(manifest, modules, (name) => `file:./workspace_modules/${name}`));
  return { packageManager: pm, files, workspaceModules, added, peers, ...(lockReplaced ? { lockReplaced } : {}) };
}

/** What a manifest holds (any section, or installed from the workspace) and the version the graph locks for each npm package. */
function manifestFacts(manifest: Json, workspaceModules: WorkspaceModule[], graph: ProjectGraph): { present: Set<string>; locked: Map<string, string> } {
  const present = new Set<string>([
    ...workspaceModules.map((m) => m.name),
    ...DEP_SECTIONS.flatMap((section) => Object.keys((manifest[section] as Json | undefined) ?? {})),
  ]);
  const locked = new Map<string, string>();
  for (const [key, ext] of Object.entries(graph.externalNodes ?? {})) {
    if (key === `npm:${ext.data.packageName}`) locked.set(ext.data.packageName, ext.data.version);
  }
  return { present, locked };
}

/** Adds the optional peers the workspace installs ({@link planProvidedPeers}) to `manifest.dependencies`. */
function addProvidedPeers(manifest: Json, o: PruneOptions, rootManifest: Json, workspaceModules: WorkspaceModule[]): ProvidedPeer[] {
  const { present, locked } = manifestFacts(manifest, workspaceModules, o.projectGraph);
  const peers = planProvidedPeers({
    installs: Object.keys({ ...((manifest.dependencies as Json | undefined) ?? {}), ...((manifest.optionalDependencies as Json | undefined) ?? {}) }),
    manifestOf: (name) => {
      try {
        return JSON.parse(readFileSync(join(o.workspaceRoot, 'node_modules', name, 'package.json'), 'utf8')) as InstalledManifest;
      } catch {
        return undefined;
      }
    },
    rootDependencies: new Set(Object.keys((rootManifest.dependencies as Json | undefined) ?? {})),
    present,
    locked,
  });
  addDependencies(manifest, peers);
  return peers;
}

/** Runs `body` with stdout/stderr writes held; `release()` prints them afterwards (once). */
function holdOutput(body: () => void): { release: () => void } {
  const held: Array<[NodeJS.WriteStream, string | Uint8Array]> = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write);
  streams.forEach((stream) => {
    stream.write = ((chunk: string | Uint8Array) => {
      held.push([stream, chunk]);
      return true;
    }) as typeof stream.write;
  });
  const release = () => {
    for (const [stream, chunk] of held.splice(0)) stream.write(chunk);
  };
  try {
    body();
  } catch (error) {
    streams.forEach((stream, i) => (stream.write = originals[i]));
    release();
    throw error;
  }
  streams.forEach((stream, i) => (stream.write = originals[i]));
  return { release };
}

/**
 * Adds to `manifest.dependencies` every package the build output loads that the manifest lacks,
 * at the version the graph holds for `npm:<name>`; throws one sentence for a package the
 * lockfile does not hold. Returns what it added (nothing → the manifest is left untouched, so the
 * pruned lockfile is byte-identical to before).
 */
function addLoadedPackages(
  manifest: Json,
  o: PruneOptions,
  ctx: { workspaceModules: WorkspaceModule[]; lockName: string; pm: PackageManager }
): PrunedManifest['added'] {
  if (!o.loadedPackages?.length) return [];
  const { present, locked } = manifestFacts(manifest, ctx.workspaceModules, o.projectGraph);
  const ownName = o.projectGraph.nodes[o.projectName]?.data.metadata?.js?.packageName;
  const missing = planMissingPackages({
    requests: o.loadedPackages,
    present,
    locked,
    ignore: new Set(typeof ownName === 'string' ? [ownName] : []),
  });
  const unlocked = missing.find((m) => m.kind === 'unlocked');
  if (unlocked) {
    const library = Object.values(o.projectGraph.nodes).find(
      (n) => n.data.metadata?.js?.packageName === unlocked.packageName || n.name === unlocked.packageName
    );
    throw new Error(
      library
        ? `${unlocked.file} loads ${unlocked.packageName} at run time, but that is workspace project ${library.name}, which the image does not install — bundle it into the build output (leave it out of the bundler's externals) or depend on it by package name in ${o.projectName}'s package.json.`
        : `${unlocked.file} loads ${unlocked.packageName} at run time, but ${unlocked.packageName} is not in ${ctx.lockName} — add it to package.json and run \`${ctx.pm} install\`, so the image can install it.`
    );
  }
  const added = missing.flatMap((m) => (m.kind === 'add' ? [{ packageName: m.packageName, version: m.version, file: m.file }] : []));
  addDependencies(manifest, added);
  return added;
}

/** `manifest.dependencies` plus each package at its version, sorted (untouched when there are none). */
function addDependencies(manifest: Json, packages: ReadonlyArray<{ packageName: string; version: string }>): void {
  if (!packages.length) return;
  manifest.dependencies = sortKeysDeep({
    ...((manifest.dependencies as Json | undefined) ?? {}),
    ...Object.fromEntries(packages.map((p) => [p.packageName, p.version])),
  });
}

/**
 * What @nx/js 20's createLockFile can prune: the manifest without the workspace packages, plus
 * the npm dependencies those packages bring (so the lockfile holds them).
 */
export function withoutWorkspaceModules(manifest: Json, modules: WorkspaceModule[]): Json {
  const names = new Set(modules.map((m) => m.name));
  const dependencies: Record<string, string> = {};
  for (const [name, range] of Object.entries((manifest.dependencies as Record<string, string>) ?? {})) if (!names.has(name)) dependencies[name] = range;
  for (const mod of modules) {
    for (const section of INSTALL_SECTIONS) {
      for (const [name, range] of Object.entries((mod.manifest[section] as Record<string, string>) ?? {})) {
        if (!names.has(name) && !(name in dependencies) && !/^file:/.test(range)) dependencies[name] = range;
      }
    }
  }
  return { ...manifest, dependencies };
}

/**
 * Adds the workspace packages to an npm lockfile the way npm itself records `file:` folders
 * (a `node_modules/<name>` link to `workspace_modules/<name>` plus that folder's entry), and
 * makes the root entry list exactly the manifest's dependencies again.
 */
export function linkWorkspaceModulesNpm(lockText: string, manifest: Json, modules: WorkspaceModule[]): string {
  const lock = JSON.parse(lockText) as { packages?: Record<string, Json> } & Json;
  if (!lock.packages) return lockText;
  const names = new Set(modules.map((m) => m.name));
  const root = { ...(lock.packages[''] ?? {}) };
  const dependencies: Record<string, string> = {};
  for (const [name, range] of Object.entries((manifest.dependencies as Record<string, string>) ?? {})) {
    dependencies[name] = names.has(name) ? `file:./workspace_modules/${name}` : range;
  }
  if (Object.keys(dependencies).length) root.dependencies = dependencies;
  else delete root.dependencies;
  const packages: Record<string, Json> = { ...lock.packages, '': root };
  for (const mod of modules) {
    packages[`node_modules/${mod.name}`] = { resolved: `workspace_modules/${mod.name}`, link: true };
    const entry: Json = { name: mod.name, version: mod.manifest.version ?? '0.0.0' };
    for (const section of INSTALL_SECTIONS) {
      const deps = mod.manifest[section] as Record<string, string> | undefined;
      if (deps && Object.keys(deps).length) entry[section] = deps;
    }
    packages[`workspace_modules/${mod.name}`] = entry;
  }
  const ordered: Record<string, Json> = { '': packages[''] };
  for (const key of Object.keys(packages).filter((k) => k !== '').sort()) ordered[key] = packages[key];
  return JSON.stringify({ ...lock, packages: ordered }, null, 2) + '\n';
}

/** The npm lockfile check (it loads semver), only when a lockfile is pruned: a remembered pruning (prune-cache.ts) needs none. */
function npmLock(): typeof import('./npm-lock') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./npm-lock') as typeof import('./npm-lock');
}

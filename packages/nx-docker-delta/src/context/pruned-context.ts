/**
 * Stages the per-service pruned build context: the folder `docker build`
 * receives instead of the repository. It holds the service's pruned manifest
 * and lockfile, and exactly the workspace paths its Dockerfile COPYs (build
 * output, project files) at their workspace-relative paths — so the same
 * Dockerfile also builds, unpruned, from the workspace root.
 *
 * Files are synced, not recreated: unchanged files keep their bytes and mtime.
 */
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { ProjectGraph } from '@nx/devkit';
import { prunePackageManifest } from './lockfile-adapter';
import { readDockerfileFacts } from '../planning/dockerfile';
import { loadedPackages, readImportAnalysisGap } from './shipped-imports';
import { ContextEntry, globRegExp, IgnoreRules, MissingSourceError, readContextSources, readIgnoreRules } from './reader';

/** Options for {@link stagePrunedContext}. */
export interface StagePrunedContextOptions {
  /** Absolute workspace root, e.g. `/repo`. */
  workspaceRoot: string;
  /** Nx project name of the service, e.g. `api`. */
  projectName: string;
  /** Workspace-relative project root, e.g. `apps/api`. */
  projectRoot: string;
  /** Project graph from the executor context (with external `npm:` nodes). */
  projectGraph: ProjectGraph;
  /** Absolute path of the service Dockerfile, e.g. `/repo/apps/api/Dockerfile`. */
  dockerfilePath: string;
  /** Absolute directory to (re)create, e.g. `/repo/.nx-docker-delta/contexts/api`. */
  outputDir: string;
  /** Workspace-relative build output dir, e.g. `dist/apps/api`; staged (and required to exist) when given. */
  buildOutputPath?: string;
  /** Progress and warnings for the user (the executor's logger). */
  log?: (line: string) => void;
}

/** The staged context. */
export interface StagedContext {
  /** Absolute directory to pass to `docker build` as the context. */
  dir: string;
  /** Every staged file, relative to `dir`, `/`-separated, sorted. */
  files: string[];
}

/** Context folder (relative) where the `--compile=docker` build manifest is staged. */
export const BUILD_MANIFEST_DIR = '.nx-docker-delta/build-manifest';

/**
 * Where workspace libraries installed by package name (TS-solution workspaces) are staged:
 * `workspace_modules/<name>/` holds the library (manifest + build output), the path Nx's pruned
 * lockfile links it from. The same manifests alone are staged under WORKSPACE_MANIFESTS_DIR, so
 * the dependency install layer only changes when a library's dependencies do, not its code.
 */
export const WORKSPACE_MODULES_DIR = 'workspace_modules';
export const WORKSPACE_MANIFESTS_DIR = '.nx-docker-delta/workspace-manifests';

/** Root files that only pruning may provide. */
const PRUNED_ONLY = ['package.json', 'package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'yarn.lock'];

/** Never staged from a COPY'd directory: they are machine-local or secret. */
const SKIP_NAMES = new Set(['node_modules', '.git', '.nx', '.nx-docker-delta']);
const isSkipped = (name: string) => SKIP_NAMES.has(name) || name.startsWith('.env');

/** A staged file (bytes) or symbolic link (kept as a link, as Docker keeps it). */
export type StagedEntry = { content: Buffer; mode?: number } | { link: string };
type Entry = StagedEntry;

const toPosix = (p: string) => p.split(sep).join('/');

/**
 * Adds what a COPY source takes from the workspace to `out`, read by the context reader (the
 * one that hashes bases): `.dockerignore` applied, links kept. `rename` maps a workspace path
 * to its place in the staged context.
 */
function collect(
  ctx: { workspaceRoot: string; ignore: IgnoreRules },
  source: string,
  out: Map<string, Entry>,
  rename: (path: string) => string = (p) => p
): void {
  const entries = readContextSources({ contextDir: ctx.workspaceRoot, sources: [source], ignore: ctx.ignore, skipNames: isSkipped }).get(source) ?? [];
  for (const entry of entries) out.set(rename(entry.path), toEntry(entry));
}

/** The staged files that hold bytes (links are not scripts the image runs). */
function fileEntries(entries: ReadonlyMap<string, Entry>): Map<string, { content: Buffer }> {
  return new Map([...entries].flatMap(([path, entry]) => ('content' in entry ? [[path, entry] as const] : [])));
}

function toEntry(entry: ContextEntry): Entry {
  return entry.kind === 'symlink' ? { link: entry.linkTarget ?? '' } : { content: readFileSync(entry.abs), mode: entry.mode & 0o777 };
}

function writeIfChanged(abs: string, entry: Entry): void {
  let st: ReturnType<typeof lstatSync> | undefined;
  try {
    st = lstatSync(abs);
  } catch {
    st = undefined;
  }
  if ('link' in entry) {
    if (st?.isSymbolicLink() && readlinkSync(abs) === entry.link) return;
    if (st) removeTree(abs);
    mkdirSync(dirname(abs), { recursive: true });
    symlinkSync(entry.link, abs);
    return;
  }
  if (st) {
    if (st.isFile() && readFileSync(abs).equals(entry.content)) {
      if (entry.mode !== undefined && (st.mode & 0o777) !== entry.mode) chmodSync(abs, entry.mode);
      return;
    }
    removeTree(abs);
  }
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, entry.content, entry.mode !== undefined ? { mode: entry.mode } : {});
  if (entry.mode !== undefined) chmodSync(abs, entry.mode);
}

function removeTree(abs: string): void {
  const st = lstatSync(abs);
  if (st.isDirectory()) {
    for (const name of readdirSync(abs)) removeTree(join(abs, name));
    rmdirSync(abs);
  } else unlinkSync(abs);
}

/** Deletes files not in `keep` and directories left empty; returns whether `dir` is now empty. */
function prune(dir: string, rel: string, keep: Map<string, Entry>): boolean {
  let empty = true;
  for (const name of readdirSync(dir)) {
    const abs = join(dir, name);
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(abs);
    if (st.isDirectory()) {
      if (prune(abs, r, keep)) rmdirSync(abs);
      else empty = false;
    } else if (!keep.has(r)) unlinkSync(abs);
    else empty = false;
  }
  return empty;
}

/**
 * Stages the pruned context for one service and returns its directory. Throws
 * one actionable sentence when something it needs is missing.
 */
export async function stagePrunedContext(o: StagePrunedContextOptions): Promise<StagedContext> {
  const dfRel = toPosix(relative(o.workspaceRoot, o.dockerfilePath));
  const facts = readDockerfileFacts(readFileSync(o.dockerfilePath, 'utf8'), dfRel);
  const directives = facts.directives;
  // What `docker build` of the workspace root would send: staging never adds what it ignores.
  const reader = { workspaceRoot: o.workspaceRoot, ignore: readIgnoreRules(o.workspaceRoot, o.dockerfilePath) };

  // Before anything is staged: a graph without source imports yields a manifest without packages.
  const gap = readImportAnalysisGap(o.workspaceRoot);
  if (gap) {
    o.log?.(`⚠ ${gap}. The manifest of ${o.projectName} then comes only from what its build output loads.`);
  }

  // Context-relative, normalized: no leading `./`, no trailing `/`; `.` is the whole context.
  const sources = [
    ...new Set(facts.contextSources.map(({ source }) => source.replace(/^(\.\/)+/, '').replace(/\/+$/, '') || '.')),
  ].sort();
  // What the image ships from the workspace; its scripts are read for the packages they load.
  const copied = new Map<string, Entry>();
  for (const src of sources) {
    if (src === '.') {
      throw new Error(
        `${dfRel} copies the whole context (\`COPY . …\`), which defeats the pruned context — copy explicit paths or remove the \`# nx-docker-delta: context=pruned\` line.`
      );
    }
    if (src.startsWith(BUILD_MANIFEST_DIR)) continue;
    // Staged from pruning (possibly nothing: the Dockerfile copies them with a `[s]` wildcard).
    if (/^(workspace_module|\.nx-docker-delt)/.test(src)) continue;
    // Root manifests and lockfiles come from pruning only — never the workspace's own (whole) files,
    // also when a wildcard such as `pnpm-workspace.yam[l]` matches nothing pruning produced.
    if (!src.includes('/') && PRUNED_ONLY.some((name) => globRegExp(src).test(name))) continue;
    try {
      collect(reader, src, copied);
    } catch (error) {
      if (!(error instanceof MissingSourceError)) throw error;
      throw new Error(
        `${src} is copied by ${dfRel} but does not exist in the workspace${reader.ignore.file ? ` (or ${reader.ignore.file} excludes it)` : ''} — run \`nx run ${o.projectName}:build\` first if it is build output, or fix the COPY line.`
      );
    }
  }
  if (o.buildOutputPath) {
    const abs = join(o.workspaceRoot, o.buildOutputPath);
    if (!existsSync(abs)) {
      throw new Error(
        `Build output ${o.buildOutputPath} of "${o.projectName}" does not exist — run \`nx run ${o.projectName}:build\` before building the image.`
      );
    }
    collect(reader, toPosix(o.buildOutputPath).replace(/\/+$/, ''), copied);
  }

  const needsBuildManifest =
    directives['compile'] === 'docker' || sources.some((s) => s.startsWith(BUILD_MANIFEST_DIR));
  const pruned = prunePackageManifest({
    workspaceRoot: o.workspaceRoot,
    projectName: o.projectName,
    projectGraph: o.projectGraph,
    // With `compile=docker` the context holds sources; the output is built in Docker from the build manifest.
    loadedPackages: needsBuildManifest ? [] : loadedPackages(fileEntries(copied)),
  });
  const wanted = new Map<string, Entry>();
  for (const [path, content] of Object.entries(pruned.files)) {
    wanted.set(path, { content: Buffer.from(content), mode: 0o644 });
  }
  for (const mod of pruned.workspaceModules) {
    const dir = `${WORKSPACE_MODULES_DIR}/${mod.name}`;
    const main = typeof mod.manifest.main === 'string' ? mod.manifest.main : undefined;
    if (main && !existsSync(join(o.workspaceRoot, mod.root, main))) {
      throw new Error(
        `${mod.root}/${main.replace(/^\.\//, '')} (main of ${mod.name}, which ${o.projectName} depends on) does not exist — run \`nx run ${o.projectName}:build\` so its dependencies are built first, or fix "main" in ${mod.root}/package.json.`
      );
    }
    const root = mod.root.replace(/\/+$/, '');
    collect(reader, root, wanted, (p) => `${dir}${p.slice(root.length)}`);
    const manifest = { content: Buffer.from(JSON.stringify(mod.manifest, null, 2) + '\n'), mode: 0o644 };
    wanted.set(`${dir}/package.json`, manifest);
    wanted.set(`${WORKSPACE_MANIFESTS_DIR}/${dir}/package.json`, manifest);
  }

  let buildLockReplaced: string | undefined;
  if (needsBuildManifest) {
    const build = prunePackageManifest({
      workspaceRoot: o.workspaceRoot,
      projectName: o.projectName,
      projectGraph: o.projectGraph,
      packageManager: pruned.packageManager,
      includeDev: true,
      helperDependencies: buildHelperDependencies(o.workspaceRoot, o.projectGraph),
    });
    for (const [path, content] of Object.entries(build.files)) {
      wanted.set(`${BUILD_MANIFEST_DIR}/${path}`, { content: Buffer.from(content), mode: 0o644 });
    }
    buildLockReplaced = build.lockReplaced;
  }

  for (const [rel, entry] of copied) if (!wanted.has(rel)) wanted.set(rel, entry);
  if (pruned.peers.length) {
    o.log?.(
      `Added to the manifest of ${o.projectName} the optional peers its packages load when they are installed, as the workspace installs them: ${pruned.peers.map((p) => `${p.packageName}@${p.version} (of ${p.of})`).join(', ')}.`
    );
  }
  if (pruned.lockReplaced) {
    o.log?.(`Pruned the npm lockfile of ${o.projectName} from the root lockfile's own layout: ${pruned.lockReplaced}.`);
  }
  if (buildLockReplaced) {
    o.log?.(`Pruned the npm lockfile of ${o.projectName}'s build manifest (compile=docker) from the root lockfile's own layout: ${buildLockReplaced}.`);
  }
  if (pruned.added.length) {
    o.log?.(
      `Added to the manifest of ${o.projectName} what its build output loads but Nx's graph shows no import of: ${pruned.added.map((a) => `${a.packageName}@${a.version} (${a.file})`).join(', ')}.`
    );
  }

  const files = [...wanted.keys()].sort();
  syncStagedFolder(o.outputDir, wanted);
  return { dir: o.outputDir, files };
}

/**
 * Makes `dir` hold exactly `wanted` (plus a self-ignoring .gitignore): unchanged files keep
 * their bytes and mtime, others are written, everything else is deleted.
 */
export function syncStagedFolder(dir: string, wanted: Map<string, StagedEntry>): void {
  mkdirSync(dir, { recursive: true });
  // A staged context holds package.json and tsconfig files (workspace libraries): git and Nx must
  // not see it, or Nx finds each library twice ("MultipleProjectsWithSameNameError") and every
  // later command fails. A self-ignoring folder works whatever the workspace's .gitignore says.
  wanted.set('.gitignore', { content: Buffer.from('# Staged by nx-docker-delta for docker build: never commit it.\n*\n'), mode: 0o644 });
  for (const [rel, entry] of wanted) writeIfChanged(join(dir, rel), entry);
  prune(dir, '', wanted);
}

/**
 * npm packages an in-Docker `nx build` needs though no source imports them:
 * nx itself, the packages providing the build executors, and the compilers.
 * Only those present in the graph (i.e. in the root lockfile) are returned.
 */
export function buildHelperDependencies(workspaceRoot: string, graph: ProjectGraph): string[] {
  const root = JSON.parse(readFileSync(join(workspaceRoot, 'package.json'), 'utf8'));
  const declared = Object.keys({ ...(root.devDependencies ?? {}), ...(root.dependencies ?? {}) });
  const wanted = declared.filter(
    (d) => d === 'nx' || d.startsWith('@nx/') || d === 'typescript' || d === 'tslib' || d.startsWith('@swc/') || d === 'esbuild' || d === 'webpack' || d === 'webpack-cli'
  );
  return wanted.filter((d) => Object.values(graph.externalNodes ?? {}).some((n) => n.data.packageName === d)).sort();
}

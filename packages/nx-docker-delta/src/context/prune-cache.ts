// The pruned manifest and lockfile of a service, remembered between deltas. Pruning runs Nx's
// createPackageJson and lockfile pruning (and loads @nx/devkit for them: ~80 ms of a task
// process's start-up before any pruning), about 0.2 s of every one-service delta on a 2-core
// machine, although a code-only change leaves its result byte for byte the same. The key is
// everything the result is made of, read without Nx: the root lockfile, package.json and
// nx.json, the Nx version, this plugin's code, the options, the part of the project graph the
// service reaches (its projects and npm packages, their edges) and, for each of those projects,
// its package.json and which packages each of its files imports (Nx's file map, without the
// file hashes: an edit that imports nothing new keeps the key).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProjectGraph } from '@nx/devkit';
import { codeIdentity } from '../utils/code-identity';
import { workspaceDataDirectory } from '../utils/workspace-data';

const FORMAT = 'nx-docker-delta-pruned/1';
/** Results kept per workspace (a few per service: its current dependencies and the last ones). */
const KEPT = 64;

/** What the key is computed from (read by pruneCacheInputs; given directly in tests). */
export interface PruneCacheInputs {
  code: string;
  nxVersion: string;
  options: unknown;
  rootFiles: Record<string, string | undefined>;
  graph: ProjectGraph;
  projectName: string;
  /** Nx's file map: project → files with the packages and projects each imports. */
  projectFileMap: Record<string, Array<{ file: string; deps?: unknown[] }>> | undefined;
  /** A project's package.json text, by project root. */
  manifestOf: (root: string) => string | undefined;
}

/** The projects and npm packages `project` reaches in the graph, itself included, sorted. */
export function reachable(graph: ProjectGraph, project: string): string[] {
  const seen = new Set<string>([project]);
  const queue = [project];
  while (queue.length) {
    for (const dep of graph.dependencies[queue.shift() as string] ?? []) {
      if (seen.has(dep.target)) continue;
      seen.add(dep.target);
      queue.push(dep.target);
    }
  }
  return [...seen].sort();
}

/** The cache key: a SHA-256 over every input, each length-prefixed so no two inputs run together. */
export function pruneCacheKey(inputs: PruneCacheInputs): string {
  const hash = createHash('sha256');
  const part = (value: string) => hash.update(`${Buffer.byteLength(value)}:`).update(value);
  part(FORMAT);
  part(inputs.code);
  part(inputs.nxVersion);
  part(JSON.stringify(inputs.options ?? null));
  for (const name of Object.keys(inputs.rootFiles).sort()) {
    part(name);
    part(inputs.rootFiles[name] ?? '\0absent');
  }
  for (const name of reachable(inputs.graph, inputs.projectName)) {
    part(name);
    const node = inputs.graph.nodes[name];
    const external = inputs.graph.externalNodes?.[name];
    part(JSON.stringify(node ? { type: node.type, data: node.data } : external ? { type: external.type, data: external.data } : null));
    part(JSON.stringify((inputs.graph.dependencies[name] ?? []).map((d) => [d.target, d.type])));
    if (!node) continue;
    part(inputs.manifestOf(node.data.root) ?? '\0absent');
    const files = inputs.projectFileMap?.[name];
    part(files ? JSON.stringify(files.map((f) => [f.file, f.deps ?? []])) : '\0absent');
  }
  return hash.digest('hex');
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** A file's SHA-256 (lockfiles can be binary: bun.lockb), or undefined when it is absent. */
function readHash(path: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}

/** Every file at the workspace root that decides the package manager or the pruning. */
const ROOT_FILES = ['package.json', 'nx.json', 'package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'yarn.lock', '.yarnrc.yml', 'bun.lockb', 'bun.lock'];

/** The inputs as the workspace holds them now (root files by hash; the file map as Nx cached it). */
export function pruneCacheInputs(o: { workspaceRoot: string; projectName: string; projectGraph: ProjectGraph; options: unknown }): PruneCacheInputs {
  const root = o.workspaceRoot;
  let projectFileMap: PruneCacheInputs['projectFileMap'];
  try {
    projectFileMap = JSON.parse(readText(join(workspaceDataDirectory(root), 'file-map.json')) ?? 'null')?.fileMap?.projectFileMap;
  } catch {
    projectFileMap = undefined;
  }
  const rootFiles: Record<string, string | undefined> = {};
  for (const name of ROOT_FILES) rootFiles[name] = readHash(join(root, name));
  return {
    code: codeIdentity(__filename),
    nxVersion: readText(join(root, 'node_modules', 'nx', 'package.json')) ?? '',
    options: o.options,
    rootFiles,
    graph: o.projectGraph,
    projectName: o.projectName,
    projectFileMap,
    manifestOf: (projectRoot) => readText(join(root, projectRoot, 'package.json')),
  };
}

/** Remembered pruning results in the workspace data directory, one file per key. */
export class PruneCache<T> {
  private readonly dir: string;

  constructor(workspaceRoot: string) {
    this.dir = join(workspaceDataDirectory(workspaceRoot), 'nx-docker-delta-pruned');
  }

  get(key: string): T | undefined {
    try {
      const entry = JSON.parse(readFileSync(join(this.dir, `${key}.json`), 'utf8'));
      return entry?.format === FORMAT ? (entry.value as T) : undefined;
    } catch {
      return undefined;
    }
  }

  set(key: string, value: T): void {
    try {
      mkdirSync(this.dir, { recursive: true });
      const file = join(this.dir, `${key}.json`);
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify({ format: FORMAT, value }));
      renameSync(temp, file);
      this.trim();
    } catch {
      // A read-only data directory only costs the next delta a pruning.
    }
  }

  /** Keeps the KEPT newest results. */
  private trim(): void {
    const names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    if (names.length <= KEPT) return;
    const byAge = names.map((n) => ({ n, t: statSync(join(this.dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
    for (const { n } of byAge.slice(0, names.length - KEPT)) rmSync(join(this.dir, n), { force: true });
  }
}

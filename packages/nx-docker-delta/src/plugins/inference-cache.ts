// A persistent cache around inference, so an unchanged workspace costs file reads and one hash
// instead of parsing every Dockerfile again in every cold plugin worker (each `nx` command with
// the daemon off, and every daemon restart). The same idea as Nx's own plugins
// (`calculateHashForCreateNodes` + `hashArray` + a JSON file in the workspace data directory),
// built on node:crypto and node:fs only: loading @nx/devkit in the plugin worker costs ~0.7 s.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { codeIdentity } from '../utils/code-identity';
import { workspaceDataDirectory } from '../utils/workspace-data';

export { workspaceDataDirectory };

/** Bump when the cached shape or the meaning of a key changes. */
const CACHE_FORMAT = 'nx-docker-delta-inference/2';

/** One hash of an ordered list of strings (what devkit's `hashArray` does, on node:crypto). */
export function hashArray(values: readonly string[]): string {
  const hash = createHash('sha256');
  for (const value of values) hash.update(value).update('\0');
  return hash.digest('hex');
}

/** The inference code itself (utils/code-identity), with the format of what it caches. */
function inferenceIdentity(): string {
  return `${CACHE_FORMAT}|${codeIdentity(__filename)}`;
}

/**
 * A file of key → value entries in the workspace data directory, read once, written once at the
 * end of a call and only when something new was computed. Entries not used in the last call are
 * dropped then, so the file holds what the workspace looks like now, not its history.
 */
export class InferenceCache<T> {
  private readonly entries: Record<string, T>;
  private readonly used = new Set<string>();
  private dirty = false;

  constructor(readonly file: string) {
    this.entries = readEntries<T>(file);
  }

  get(key: string): T | undefined {
    if (!Object.prototype.hasOwnProperty.call(this.entries, key)) return undefined;
    this.used.add(key);
    return this.entries[key];
  }

  set(key: string, value: T): void {
    this.entries[key] = value;
    this.used.add(key);
    this.dirty = true;
  }

  /** Writes the used entries (atomically: a concurrent reader sees the old file or the new one). */
  save(): void {
    if (!this.dirty && this.used.size === Object.keys(this.entries).length) return;
    const kept: Record<string, T> = {};
    for (const key of this.used) kept[key] = this.entries[key];
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      const temp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify(kept));
      renameSync(temp, this.file);
    } catch {
      // A read-only or vanished data directory only costs the next run its cache hit.
    }
  }
}

function readEntries<T>(file: string): Record<string, T> {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

const PROJECT_MARKERS = ['project.json', 'package.json'];

/**
 * Everything inference reads from disk, as one hash: each candidate file's path and content,
 * and for every folder from the file up to the root which project markers exist there (a new
 * project.json changes which project owns a Dockerfile). Inference reads nothing else.
 */
export function inferenceKey(input: { files: readonly string[]; workspaceRoot: string; extra: readonly string[] }): string {
  // One running hash over every part (no hash object, path.join or array per file): this runs on
  // every nx command, in a cold plugin worker where each extra step costs.
  const hash = createHash('sha256');
  const part = (value: string | Buffer) => hash.update(value).update('\0');
  part(inferenceIdentity());
  for (const value of input.extra) part(value);
  const root = input.workspaceRoot.endsWith('/') ? input.workspaceRoot : `${input.workspaceRoot}/`;
  const markers = new Map<string, string>();
  const markersOf = (dir: string): string => {
    let known = markers.get(dir);
    if (known === undefined) {
      const prefix = dir === '.' ? root : `${root}${dir}/`;
      known = PROJECT_MARKERS.map((m) => (existsSync(prefix + m) ? '1' : '0')).join('');
      markers.set(dir, known);
    }
    return known;
  };
  for (const file of input.files) {
    part(file);
    let content: Buffer | string;
    try {
      content = readFileSync(root + file);
    } catch {
      content = '\0missing';
    }
    // The length first: a file's content can hold the separator.
    part(String(content.length));
    part(content);
    for (let dir = posix.dirname(file); ; dir = posix.dirname(dir)) {
      part(markersOf(dir));
      if (dir === '.' || dir === '' || dir === '/') break;
    }
  }
  return hash.digest('hex');
}

/** The cache file of one plugin configuration (options differ → a different file, as Nx's plugins do). */
export function cacheFileFor(workspaceRoot: string, kind: string, options: unknown): string {
  const optionsHash = hashArray([JSON.stringify(options ?? {})]).slice(0, 16);
  return join(workspaceDataDirectory(workspaceRoot), `nx-docker-delta-${kind}-${optionsHash}.json`);
}

/**
 * What inference asked the file system besides the Dockerfiles in the key (does `package.json`
 * exist at the root or in the project? is a project's package.json private?) and what it was
 * told. A cached result is only used while every answer still holds.
 */
type Probe = [kind: 'exists' | 'read', path: string, answer: string];
let recording: Probe[] | undefined;

/** `existsSync` for inference: recorded with the result being computed, re-checked on a hit. */
export function probeExists(path: string): boolean {
  const found = existsSync(path);
  recording?.push(['exists', path, found ? '1' : '0']);
  return found;
}

/** A text file inference reads (undefined when it cannot be read): recorded by its hash. */
export function probeRead(path: string): string | undefined {
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    text = undefined;
  }
  recording?.push(['read', path, answerOf(text)]);
  return text;
}

const answerOf = (text: string | undefined) => (text === undefined ? '-' : createHash('sha256').update(text).digest('hex'));

function stillTrue(probes: readonly Probe[]): boolean {
  return probes.every(([kind, path, answer]) => {
    if (kind === 'exists') return (existsSync(path) ? '1' : '0') === answer;
    try {
      return answerOf(readFileSync(path, 'utf8')) === answer;
    } catch {
      return answer === '-';
    }
  });
}

/**
 * Wraps a batched createNodes function: same answer, computed only when one of its inputs
 * (see `inferenceKey`, and the probes the computation made) changed since the last call.
 */
export function cachedInference<R>(
  infer: () => R,
  input: { files: readonly string[]; workspaceRoot: string; options: unknown; extra?: readonly string[] }
): R {
  const key = inferenceKey({ files: input.files, workspaceRoot: input.workspaceRoot, extra: [JSON.stringify(input.options ?? {}), ...(input.extra ?? [])] });
  const cache = new InferenceCache<{ value: R; probes: Probe[] }>(cacheFileFor(input.workspaceRoot, 'nodes', input.options));
  let entry = cache.get(key);
  if (entry === undefined || !stillTrue(entry.probes)) {
    const outer = recording;
    recording = [];
    try {
      entry = { value: infer(), probes: recording };
    } finally {
      recording = outer;
    }
    cache.set(key, entry);
  }
  cache.save();
  return entry.value;
}

/** The part of a createDependencies context the wrapper reads (Nx passes more). */
interface DependenciesContextLike {
  workspaceRoot: string;
  projects: Record<string, { targets?: Record<string, { executor?: string; options?: Record<string, unknown> }> }>;
  fileMap: { projectFileMap: Record<string, Array<{ file: string; hash: string }>> };
}

/**
 * Wraps createDependencies: the edges depend only on the options, this plugin's targets (their
 * executor options) and the content of each Dockerfile they name — whose hash Nx already hands
 * over in the file map, so a hit reads no file at all.
 */
export function cachedDependencies<R>(
  compute: () => R,
  input: { options: unknown; context: DependenciesContextLike; executors: readonly string[] }
): R {
  const parts: string[] = [inferenceIdentity(), JSON.stringify(input.options ?? {})];
  for (const [project, config] of Object.entries(input.context.projects)) {
    for (const [name, target] of Object.entries(config.targets ?? {})) {
      if (!target.executor || !input.executors.includes(target.executor)) continue;
      const dockerfile = target.options?.dockerfile;
      const hash = typeof dockerfile === 'string' ? input.context.fileMap.projectFileMap[project]?.find((f) => f.file === dockerfile)?.hash : undefined;
      parts.push(project, name, target.executor, JSON.stringify(target.options ?? {}), hash ?? '');
    }
  }
  const key = hashArray(parts);
  const cache = new InferenceCache<R>(cacheFileFor(input.context.workspaceRoot, 'dependencies', input.options));
  let value = cache.get(key);
  if (value === undefined) {
    value = compute();
    cache.set(key, value);
  }
  cache.save();
  return value;
}

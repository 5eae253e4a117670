import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { minimatch } from 'minimatch';
import type { HashedFile } from '../planning/hash';

/** Writes via a temp file + rename so a reader never sees half a file and a failure leaves the old one. */
export function writeFileAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

export function readJsonIfExists<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export class MissingSourceError extends Error {}

/** `.dockerignore` patterns (with `!` exceptions) as a predicate over context-relative posix paths. */
export function readDockerignore(contextDir: string): (path: string) => boolean {
  const file = join(contextDir, '.dockerignore');
  if (!existsSync(file)) return () => false;
  const rules = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
      return { negate, pattern };
    });
  return (path: string) => {
    let ignored = false;
    for (const { negate, pattern } of rules) {
      // A pattern matches the path itself or any of its parent folders, as in Docker.
      if (minimatch(path, pattern, { dot: true }) || minimatch(path, `${pattern}/**`, { dot: true })) {
        ignored = !negate;
      }
    }
    return ignored;
  };
}

/**
 * The files a list of COPY/ADD sources picks from a context, hashed. Directories are walked,
 * globs expanded, `.dockerignore` honoured. A source that matches nothing throws
 * MissingSourceError — the same build would fail in Docker with a less helpful message.
 */
export function hashContextSources(contextDir: string, sources: string[]): HashedFile[] {
  const ignored = readDockerignore(contextDir);
  const files = new Map<string, HashedFile>();
  let all: string[] | undefined;
  for (const raw of sources) {
    const source = posix.normalize(raw.replace(/^\/+/, '').replace(/^\.\//, '')).replace(/\/+$/, '') || '.';
    const matched: string[] = [];
    if (/[*?[]/.test(source)) {
      all ??= walk(contextDir, '.', ignored);
      matched.push(...all.filter((p) => minimatch(p, source, { dot: true }) || minimatch(p, `${source}/**`, { dot: true })));
    } else {
      const abs = join(contextDir, source);
      if (existsSync(abs)) {
        matched.push(...(statSync(abs).isDirectory() ? walk(contextDir, source, ignored) : ignored(source) ? [] : [source]));
        if (statSync(abs).isDirectory() && matched.length === 0) continue; // an empty folder is a valid source
      }
    }
    if (matched.length === 0) {
      throw new MissingSourceError(source);
    }
    for (const path of matched) files.set(path, hashFile(contextDir, path));
  }
  return [...files.values()];
}

function hashFile(contextDir: string, path: string): HashedFile {
  const abs = join(contextDir, path);
  const stat = statSync(abs);
  return {
    path,
    sha256: createHash('sha256').update(readFileSync(abs)).digest('hex'),
    executable: (stat.mode & 0o111) !== 0,
  };
}

function walk(contextDir: string, from: string, ignored: (p: string) => boolean): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const entry of readdirSync(join(contextDir, rel), { withFileTypes: true })) {
      const child = rel === '.' ? entry.name : `${rel}/${entry.name}`;
      if (ignored(child)) continue;
      if (entry.isDirectory()) visit(child);
      else if (entry.isFile() || entry.isSymbolicLink()) out.push(child);
    }
  };
  visit(from);
  return out.sort();
}

/** Workspace-relative posix path. */
export function toWorkspacePath(workspaceRoot: string, abs: string): string {
  return relative(workspaceRoot, abs).split(sep).join('/') || '.';
}

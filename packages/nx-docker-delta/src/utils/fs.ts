import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, relative, sep } from 'node:path';
import { ContextEntry, readContextSources, readIgnoreRules } from '../context/reader';
import type { HashedFile } from '../planning/hash';

export { MissingSourceError } from '../context/reader';

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

/**
 * The files a list of COPY/ADD sources picks from a context, hashed — read by the context
 * reader (src/context/reader.ts), the same one that stages pruned contexts: `.dockerignore` or
 * `<Dockerfile>.dockerignore` as BuildKit applies them, links kept as links, permission bits
 * included. A source that matches nothing throws MissingSourceError.
 */
export function hashContextSources(
  contextDir: string,
  sources: string[],
  options: { dockerfilePath?: string; workspaceRoot?: string; digests?: DigestMemo } = {}
): HashedFile[] {
  const ignore = readIgnoreRules(contextDir, options.dockerfilePath);
  const bySource = readContextSources({ contextDir, sources, ignore, workspaceRoot: options.workspaceRoot });
  const files = new Map<string, HashedFile>();
  for (const entries of bySource.values()) {
    for (const entry of entries) files.set(entry.path, hashEntry(entry, options.digests));
  }
  return [...files.values()];
}

/**
 * sha256 of files already read, by absolute path and stat identity (inode, size, mtime and
 * ctime — ctime moves on every write and cannot be set back), so a memo shared by the task
 * processes of one run reads each file once and never returns a stale digest.
 */
export interface DigestMemo {
  get(abs: string, stat: string): string | undefined;
  set(abs: string, stat: string, sha256: string): void;
}

/** A memo kept in one JSON file (loaded now, written by `save` when it learnt something). */
export function fileDigestMemo(file: string): DigestMemo & { save(): void } {
  let known: Record<string, [string, string]> = {};
  try {
    known = JSON.parse(readFileSync(file, 'utf8')) ?? {};
  } catch {
    known = {};
  }
  let dirty = false;
  return {
    get: (abs, stat) => (known[abs]?.[0] === stat ? known[abs][1] : undefined),
    set: (abs, stat, sha256) => {
      known[abs] = [stat, sha256];
      dirty = true;
    },
    save: () => {
      if (!dirty) return;
      try {
        writeFileAtomic(file, JSON.stringify(known));
      } catch {
        // Not remembered: the next task reads the files again.
      }
    },
  };
}

function hashEntry(entry: ContextEntry, digests?: DigestMemo): HashedFile {
  return {
    path: entry.path,
    sha256: digestOf(entry, digests),
    executable: entry.kind === 'file' && (entry.mode & 0o111) !== 0,
    mode: entry.mode,
    ...(entry.kind === 'symlink' ? { symlink: true } : {}),
  };
}

function digestOf(entry: ContextEntry, digests?: DigestMemo): string {
  if (entry.kind === 'symlink') return createHash('sha256').update(entry.linkTarget ?? '').digest('hex');
  if (!digests) return createHash('sha256').update(readFileSync(entry.abs)).digest('hex');
  const before = statSync(entry.abs, { bigint: true });
  const key = `${before.ino}:${before.size}:${before.mtimeNs}:${before.ctimeNs}`;
  const known = digests.get(entry.abs, key);
  if (known) return known;
  const sha256 = createHash('sha256').update(readFileSync(entry.abs)).digest('hex');
  const after = statSync(entry.abs, { bigint: true });
  // Written while read, or so recently that a same-size rewrite could share its timestamps
  // (coarse kernel clock ticks — git's "racy clean" case): hashed, but not remembered.
  const settled = BigInt(Date.now()) * 1_000_000n - after.ctimeNs > 2_000_000_000n;
  if (settled && `${after.ino}:${after.size}:${after.mtimeNs}:${after.ctimeNs}` === key) digests.set(entry.abs, key, sha256);
  return sha256;
}

/** Workspace-relative posix path. */
export function toWorkspacePath(workspaceRoot: string, abs: string): string {
  return relative(workspaceRoot, abs).split(sep).join('/') || '.';
}

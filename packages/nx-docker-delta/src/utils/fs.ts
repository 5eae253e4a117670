import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
  options: { dockerfilePath?: string; workspaceRoot?: string } = {}
): HashedFile[] {
  const ignore = readIgnoreRules(contextDir, options.dockerfilePath);
  const bySource = readContextSources({ contextDir, sources, ignore, workspaceRoot: options.workspaceRoot });
  const files = new Map<string, HashedFile>();
  for (const entries of bySource.values()) {
    for (const entry of entries) files.set(entry.path, hashEntry(entry));
  }
  return [...files.values()];
}

function hashEntry(entry: ContextEntry): HashedFile {
  const bytes = entry.kind === 'symlink' ? Buffer.from(entry.linkTarget ?? '') : readFileSync(entry.abs);
  return {
    path: entry.path,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    executable: entry.kind === 'file' && (entry.mode & 0o111) !== 0,
    mode: entry.mode,
    ...(entry.kind === 'symlink' ? { symlink: true } : {}),
  };
}

/** Workspace-relative posix path. */
export function toWorkspacePath(workspaceRoot: string, abs: string): string {
  return relative(workspaceRoot, abs).split(sep).join('/') || '.';
}

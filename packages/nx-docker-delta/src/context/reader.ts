/**
 * The one reader of build contexts. Staging a pruned context and hashing a base both ask it
 * which files a list of COPY sources takes from a context, so they cannot disagree with each
 * other — and it answers the way BuildKit does:
 *
 * - `.dockerignore` at the context root, or `<Dockerfile>.dockerignore` beside the Dockerfile
 *   (which then replaces it), matched with Docker's own rules (Go `filepath.Match` per segment,
 *   `**`, `!` exceptions, last match wins, a pattern also matches everything below a folder);
 * - symbolic links are kept as links, never followed; a link that leaves the workspace or
 *   points at nothing is refused with one sentence (Docker would ship a dangling link);
 * - the permission bits Docker records travel with each file.
 */
import createIgnore from '@balena/dockerignore';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';

/** One file or symbolic link of a context, by its context-relative `/` path. */
export interface ContextEntry {
  path: string;
  kind: 'file' | 'symlink';
  /** Permission bits (`mode & 0o7777`), as Docker records them. */
  mode: number;
  /** Absolute path on disk. */
  abs: string;
  /** Link text, for symlinks. */
  linkTarget?: string;
}

export class ContextError extends Error {}

/** A COPY source that matches nothing in the context (after `.dockerignore`). */
export class MissingSourceError extends ContextError {}

export interface IgnoreRules {
  /** Context-relative path of the file the patterns came from, if any. */
  file?: string;
  patterns: string[];
  ignores: (path: string) => boolean;
  /** Some pattern re-includes paths (`!…`): ignored folders must still be walked. */
  hasExceptions: boolean;
}

/**
 * The ignore rules BuildKit applies to a context: `<Dockerfile>.dockerignore` when it exists
 * beside the Dockerfile, else `<context>/.dockerignore`, else none.
 */
export function readIgnoreRules(contextDir: string, dockerfilePath?: string): IgnoreRules {
  const candidates = [
    ...(dockerfilePath ? [join(dirname(dockerfilePath), `${basename(dockerfilePath)}.dockerignore`)] : []),
    join(contextDir, '.dockerignore'),
  ];
  const file = candidates.find((candidate) => existsSync(candidate));
  return ignoreRules(file ? readFileSync(file, 'utf8') : '', file && toPosix(relative(contextDir, file)));
}

/** Rules from `.dockerignore` text. */
export function ignoreRules(text: string, file?: string): IgnoreRules {
  const patterns = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  // Docker matches case-sensitively on Linux; the library's default is case-insensitive.
  const matcher = createIgnore({ ignorecase: false }).add(patterns);
  return {
    file,
    patterns,
    ignores: (path: string) => matcher.ignores(path),
    hasExceptions: patterns.some((p) => p.startsWith('!')),
  };
}

export interface ReadSourcesOptions {
  /** Folder `docker build` receives. */
  contextDir: string;
  /** COPY/ADD sources, context-relative, as written (`src`, `./a/*.json`, `pnpm-workspace.yam[l]`). */
  sources: string[];
  ignore: IgnoreRules;
  /** Links must stay inside this folder. Default: the context. */
  workspaceRoot?: string;
  /** Names of folders never read (machine-local state), e.g. `.git`. */
  skipNames?: (name: string) => boolean;
}

/**
 * The files each COPY source takes from the context, keyed by source. A source that matches
 * nothing throws MissingSourceError (Docker fails the same build, later and less clearly),
 * except a folder that exists and is empty, or a wildcard, which BuildKit accepts empty.
 */
export function readContextSources(o: ReadSourcesOptions): Map<string, ContextEntry[]> {
  const out = new Map<string, ContextEntry[]>();
  for (const raw of o.sources) {
    const source = normalizeSource(raw);
    const segments = source === '.' ? [] : source.split('/');
    const firstGlob = segments.findIndex((s) => GLOB.test(s));
    const literal = (firstGlob === -1 ? segments : segments.slice(0, firstGlob)).join('/') || '.';
    const abs = join(o.contextDir, literal);
    const entries: ContextEntry[] = [];
    let exists = false;
    try {
      lstatSync(abs);
      exists = true;
    } catch {
      exists = false;
    }
    if (exists) {
      const patterns = firstGlob === -1 ? [] : segments.map(globRegExp);
      for (const entry of walk(o, literal)) {
        const parts = entry.path.split('/');
        if (patterns.length && (parts.length < patterns.length || !patterns.every((re, i) => re.test(parts[i])))) continue;
        entries.push(entry);
      }
    }
    if (entries.length === 0 && firstGlob === -1 && !(exists && lstatSync(abs).isDirectory() && !o.ignore.ignores(literal))) {
      throw new MissingSourceError(source);
    }
    out.set(source, entries);
  }
  return out;
}

/** Every file and link from `from` down (context-relative), in path order, ignore rules applied. */
export function walk(o: ReadSourcesOptions, from = '.'): ContextEntry[] {
  const root = o.workspaceRoot ?? o.contextDir;
  const out: ContextEntry[] = [];
  const visit = (rel: string) => {
    const abs = rel === '.' ? o.contextDir : join(o.contextDir, rel);
    const st = lstatSync(abs);
    const ignored = rel !== '.' && o.ignore.ignores(rel);
    if (st.isDirectory()) {
      if (rel !== '.' && o.skipNames?.(basename(rel))) return;
      // An ignored folder is skipped unless an exception may re-include something inside it.
      if (ignored && !o.ignore.hasExceptions) return;
      for (const name of readdirSync(abs).sort()) visit(rel === '.' ? name : `${rel}/${name}`);
      return;
    }
    if (ignored || (o.skipNames && o.skipNames(basename(rel)))) return;
    if (st.isSymbolicLink()) {
      const target = readlinkSync(abs);
      const resolved = resolve(dirname(abs), target);
      const display = toPosix(relative(root, abs));
      if (isAbsolute(target) || !isInside(root, resolved)) {
        throw new ContextError(
          `${display} is a symbolic link to ${target}, outside the workspace — Docker would copy a dangling link: replace it with the file itself, point it inside the workspace, or add it to .dockerignore.`
        );
      }
      if (!existsSync(resolved)) {
        throw new ContextError(`${display} is a broken symbolic link (to ${target}) — fix or delete it, or add it to .dockerignore.`);
      }
      out.push({ path: rel, kind: 'symlink', mode: 0o777, abs, linkTarget: target });
    } else if (st.isFile()) {
      out.push({ path: rel, kind: 'file', mode: st.mode & 0o7777, abs });
    }
  };
  visit(from);
  return out;
}

const GLOB = /[*?[\\]/;

/** One path segment's Go `filepath.Match` pattern (`*`, `?`, `[…]`, `\` escapes) as a RegExp. */
export function globRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < segment.length) re += escape(segment[++i]);
    else if (c === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end === -1) re += '\\[';
      else {
        let body = segment.slice(i + 1, end);
        if (body.startsWith('^')) body = `!${body.slice(1)}`;
        re += body.startsWith('!') ? `[^${body.slice(1).replace(/\\/g, '\\\\')}]` : `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += escape(c);
  }
  return new RegExp(`^${re}$`);
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** `./a/b/` → `a/b`; `/a` → `a`; `.` and `./` → `.` (the whole context). */
export function normalizeSource(raw: string): string {
  return posix.normalize(raw.replace(/^\/+/, '')).replace(/^(\.\/)+/, '').replace(/\/+$/, '') || '.';
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function toPosix(p: string): string {
  return p.split(sep).join('/');
}

/** Whether `statSync` says a path is a folder (following links), for callers that stage. */
export function isDirectory(abs: string): boolean {
  try {
    return statSync(abs).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Stages the build context of a dependency image: exactly the files its `deps` stage copies
 * (pruned manifest, lockfile, workspace-module manifests, package-manager config), taken from
 * the service's context — nothing else, so the image is a function of those bytes alone.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { HashedFile } from '../planning/hash';
import { hashContextSources, MissingSourceError } from '../utils/fs';
import { syncStagedFolder } from './pruned-context';

const WILDCARD = /[*?[]/;

/**
 * The files `sources` (COPY sources of the deps stage, as written) pick from `contextDir`,
 * hashed. A wildcard that matches nothing is valid (BuildKit accepts it); a literal path that
 * does not exist throws MissingSourceError.
 */
export function depsContextFiles(contextDir: string, sources: string[]): HashedFile[] {
  const files = new Map<string, HashedFile>();
  for (const source of sources) {
    try {
      for (const file of hashContextSources(contextDir, [source])) files.set(file.path, file);
    } catch (error) {
      if (error instanceof MissingSourceError && WILDCARD.test(source)) continue;
      throw error;
    }
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Copies `files` from `contextDir` into `outputDir` (synced: unchanged files are not rewritten). */
export function stageDepsContext(contextDir: string, files: HashedFile[], outputDir: string): string {
  const wanted = new Map<string, { content: Buffer; mode?: number }>();
  for (const file of files) {
    const abs = join(contextDir, file.path);
    wanted.set(file.path, { content: readFileSync(abs), mode: statSync(abs).mode & 0o777 });
  }
  syncStagedFolder(outputDir, wanted);
  return outputDir;
}

/**
 * Searches for secret bytes (a registry token, a private key) everywhere a build could have put
 * them: every file of `docker save` of the images (each layer tar, each config with its inline
 * cache metadata, the manifest), the daemon's whole data root (overlay2 snapshots, image/,
 * buildkit/ content and cache stores — a superset of anything a registry cache export could
 * upload), and any other folders (workspaces, staged contexts, temp folders). A fast streaming
 * search (`grep -rF`) does the reading; files that vanish mid-scan (other builds on the shared
 * daemon) are skipped silently.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerOrThrow } from './docker';

export interface Needle {
  /** What it is, for messages: never the value. */
  name: string;
  value: string;
}

export interface AreaScan {
  area: string;
  files: number;
  bytes: number;
  ms: number;
  /** `<needle name> in <file>` for every hit. */
  hits: string[];
}

export interface ImagesScan extends AreaScan {
  images: number;
  layerTars: number;
  configs: number;
  /** Configs that carry BuildKit's inline cache metadata (`moby.buildkit.cache.v0`). */
  inlineCacheConfigs: number;
}

/** Files and bytes under `root` (regular files only, not following links, skipping `merged` overlay mounts). */
function census(root: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const visit = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // vanished or unreadable
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'merged') visit(path);
      } else if (e.isFile()) {
        try {
          bytes += lstatSync(path).size;
          files++;
        } catch {
          // vanished mid-scan
        }
      }
    }
  };
  visit(root);
  return { files, bytes };
}

/** `grep -rF` of every needle under the roots; returns hits as `<needle> in <file>`. */
function grepRoots(roots: string[], needles: Needle[], scratch: string): string[] {
  if (roots.length === 0) return [];
  mkdirSync(scratch, { recursive: true });
  const patterns = join(scratch, 'patterns');
  writeFileSync(patterns, needles.map((n) => n.value).join('\n') + '\n', { mode: 0o600 });
  // -s: files that vanish mid-scan are not errors; -D skip: sockets and fifos are not read; -a -o -H: every
  // match is printed as `<file>:<needle>` (binary files too), so a hit never needs a second read;
  // `merged` folders are overlay mounts of running containers, whose lower and upper dirs are scanned anyway.
  const found = spawnSync('grep', ['-rsaoHF', '-D', 'skip', '--exclude-dir=merged', '-f', patterns, '--', ...roots], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (found.error) throw found.error;
  // Exit 2 also means "a file vanished" (silenced by -s); anything grep still prints on stderr is a real failure.
  if (found.status === 2 && found.stderr.trim()) throw new Error(`grep failed: ${found.stderr.trim()}`);
  const hits = new Set<string>();
  for (const line of (found.stdout ?? '').split('\n')) {
    const needle = needles.find((n) => line.endsWith(`:${n.value}`));
    if (needle) hits.add(`${needle.name} in ${line.slice(0, -(needle.value.length + 1))}`);
  }
  return [...hits];
}

/** Every file of one `docker save` of all `refs` (layers shared between them are saved once). */
export function scanImages(refs: string[], needles: Needle[], scratch: string): ImagesScan {
  const started = Date.now();
  mkdirSync(scratch, { recursive: true });
  const tar = join(scratch, 'images.tar');
  dockerOrThrow(['save', '-o', tar, ...refs]);
  const out = join(scratch, 'saved');
  mkdirSync(out, { recursive: true });
  const untar = spawnSync('tar', ['-xf', tar, '-C', out], { encoding: 'utf8' });
  if (untar.status !== 0) throw new Error(`tar -xf ${tar} failed: ${untar.stderr}`);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Array<{ Config: string; Layers: string[] }>;
  const configs = [...new Set(manifest.map((m) => m.Config))];
  const layerTars = new Set(manifest.flatMap((m) => m.Layers)).size;
  const inlineCacheConfigs = configs.filter((c) => 'moby.buildkit.cache.v0' in JSON.parse(readFileSync(join(out, c), 'utf8'))).length;
  const { files, bytes } = census(out);
  const hits = grepRoots([out], needles, join(scratch, 'grep')).map((h) => h.replace(`${out}/`, ''));
  // A file named like an rc file in a layer would be a leak of its own, token or not.
  const listing = spawnSync('sh', ['-c', `for t in "${out}"/*/layer.tar "${out}"/blobs/sha256/*; do tar -tf "$t" 2>/dev/null; done`], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  for (const line of listing.stdout.split('\n')) if (/(^|\/)(\.npmrc|\.yarnrc\.yml|\.yarnrc|id_ed25519|id_rsa)$/.test(line)) hits.push(`rc or key file ${line} in a layer`);
  return { area: `docker save of ${refs.length} images`, images: refs.length, layerTars, configs: configs.length, inlineCacheConfigs, files, bytes, ms: Date.now() - started, hits };
}

/** The daemon's data root (`docker info` → DockerRootDir); undefined with the reason when not readable (not root). */
export function scanDataRoot(needles: Needle[], scratch: string): AreaScan | { skipped: string } {
  const root = dockerOrThrow(['info', '--format', '{{.DockerRootDir}}']).trim();
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { skipped: `the data root ${root} is readable by root only (this run is uid ${process.getuid()}); CI runs as root` };
  }
  const started = Date.now();
  const { files, bytes } = census(root);
  const hits = grepRoots([root], needles, scratch);
  return { area: `daemon data root ${root}`, files, bytes, ms: Date.now() - started, hits };
}

/** Plain folders (workspaces, staged contexts, temp folders) that exist. */
export function scanFolders(area: string, roots: string[], needles: Needle[], scratch: string): AreaScan {
  const started = Date.now();
  let files = 0;
  let bytes = 0;
  const existing = roots.filter((r) => {
    try {
      lstatSync(r);
      return true;
    } catch {
      return false;
    }
  });
  for (const r of existing) {
    const c = census(r);
    files += c.files;
    bytes += c.bytes;
  }
  return { area, files, bytes, ms: Date.now() - started, hits: grepRoots(existing, needles, scratch) };
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

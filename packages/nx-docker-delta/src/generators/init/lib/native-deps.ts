/**
 * Does a lockfile need OS build tools (python3, make, g++) to install? Pure: lockfile text in,
 * the packages that may compile a native addon out. Decided when `init` writes the base, so a
 * workspace whose dependencies never run node-gyp gets a base without compilers (smaller, and
 * a cold build skips an apt/apk install).
 *
 * - npm (lockfile v2/v3): packages marked `hasInstallScript: true` (npm sets it for install
 *   scripts and for a `binding.gyp`), minus well-known install scripts that never compile, and
 *   only production ones: the base installs what the images ship (`npm ci --omit=dev`); a
 *   dev-only addon (e.g. `@parcel/watcher`'s `node-addon-api` under nx) never runs in it.
 *   Those are reported in `devOnly`, for workspaces that compile inside Docker.
 * - pnpm: `requiresBuild: true` (lockfiles of pnpm ≤ 8) or a package that builds native addons.
 * - yarn (classic and berry): a package that builds native addons (yarn records no build flag).
 * A lockfile this cannot read (npm v1) answers `undefined`: keep the compilers.
 */
import type { NodePackageManager } from '../../utils/toolchain';

/**
 * Packages whose presence means some dependency compiles (or may fall back to compiling) a
 * native addon: the node-gyp toolchain and addon helpers, and popular addons themselves.
 */
export const NATIVE_MARKERS = [
  'node-gyp',
  'nan',
  'node-addon-api',
  'prebuild-install',
  'node-gyp-build',
  '@mapbox/node-pre-gyp',
  'node-pre-gyp',
  'bcrypt',
  'sqlite3',
  'better-sqlite3',
  'canvas',
  'node-sass',
  'argon2',
  're2',
  'leveldown',
  'cpu-features',
  'libxmljs',
  'libxmljs2',
  'kerberos',
  'ref-napi',
  'ffi-napi',
  'isolated-vm',
];

/**
 * Install scripts that download a prebuilt binary, print a message or set up git hooks: no
 * compiler involved. Counting them would put compilers in almost every base.
 */
export const NON_COMPILING_INSTALL_SCRIPTS = [
  'esbuild',
  'nx',
  '@swc/core',
  'core-js',
  'core-js-pure',
  'protobufjs',
  'es5-ext',
  '@nestjs/core',
  'husky',
  'prisma',
  '@prisma/client',
  '@prisma/engines',
  'msw',
  'puppeteer',
  'cypress',
  'electron',
  'sharp',
  '@parcel/watcher',
  'fsevents',
  'spawn-sync',
  'styled-components',
  'yarn',
  'pnpm',
  'lefthook',
  '@biomejs/biome',
  '@sentry/cli',
  'ngrok',
  '@scarf/scarf',
];

export interface NativeBuildNeeds {
  /** Whether the base needs OS build tools; undefined = cannot tell (keep them). */
  needed: boolean | undefined;
  /** The packages that need them, sorted, for the comment in Dockerfile.base. */
  packages: string[];
  /** npm only: native packages that only development installs have (not counted in `needed`). */
  devOnly?: string[];
}

const nameFromPath = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

export function nativeBuildNeeds(pm: NodePackageManager, lockfileText: string | null): NativeBuildNeeds {
  if (lockfileText === null) return { needed: undefined, packages: [] };
  const found = new Set<string>();
  if (pm === 'npm') {
    let lock: { lockfileVersion?: number; packages?: Record<string, { hasInstallScript?: boolean; name?: string; dev?: boolean }> };
    try {
      lock = JSON.parse(lockfileText);
    } catch {
      return { needed: undefined, packages: [] };
    }
    if (!lock.packages || (lock.lockfileVersion ?? 1) < 2) return { needed: undefined, packages: [] };
    const devOnly = new Set<string>();
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path.includes('node_modules/')) continue;
      const name = entry.name ?? nameFromPath(path);
      if ((entry.hasInstallScript && !NON_COMPILING_INSTALL_SCRIPTS.includes(name)) || NATIVE_MARKERS.includes(name)) (entry.dev ? devOnly : found).add(name);
    }
    const dev = [...devOnly].filter((n) => !found.has(n)).sort();
    return { needed: found.size > 0, packages: [...found].sort(), ...(dev.length ? { devOnly: dev } : {}) };
  } else {
    for (const name of lockfilePackageNames(pm, lockfileText)) if (NATIVE_MARKERS.includes(name)) found.add(name);
    if (pm === 'pnpm') {
      // pnpm ≤ 8: `/name@version:` (or `/name/version:`) entries flagged `requiresBuild: true`.
      let current: string | undefined;
      for (const line of lockfileText.split(/\r?\n/)) {
        const key = /^ {2}'?\/?((?:@[^/@\s]+\/)?[^/@\s]+)[@/][^:]*'?:\s*$/.exec(line);
        if (key) current = key[1];
        else if (/^\S/.test(line)) current = undefined;
        else if (current && /^ {4}requiresBuild: true\s*$/.test(line) && !NON_COMPILING_INSTALL_SCRIPTS.includes(current)) found.add(current);
      }
    }
  }
  return { needed: found.size > 0, packages: [...found].sort() };
}

/** Package names a pnpm or yarn lockfile lists (its top-level entry keys). */
function lockfilePackageNames(pm: NodePackageManager, text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    // pnpm: `  /bcrypt@5.1.1:` / `  bcrypt@5.1.1:` / `  '@scope/x@1.0.0':`; yarn: `bcrypt@^5.0.0:` / `"@scope/x@^1", "@scope/x@^1.2":`.
    const m = pm === 'pnpm' ? /^ {2}'?\/?((?:@[^/@\s]+\/)?[^/@\s']+)[@/]/.exec(line) : /^"?((?:@[^/@\s]+\/)?[^/@\s"]+)@/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}

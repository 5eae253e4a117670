/**
 * Where a project's build writes its output when its build target declares no `outputs` (an
 * `nx:run-commands` `webpack-cli build`, a bare `vite build`): read from the bundler config the
 * way Nx's own plugins do. Static reading of the config text only — a user's config is never run.
 */
import { posix } from 'node:path';

/** A build output folder and the file (and setting) it was read from. */
export interface DeclaredOutput {
  /** Workspace-relative folder, e.g. `dist/apps/api`. */
  path: string;
  /** Workspace-relative config file, e.g. `apps/api/webpack.config.js`. */
  file: string;
  /** The setting, e.g. `output.path`. */
  setting: string;
}

/** Config files read, in order, relative to the project root. */
export const BUNDLER_CONFIGS = [
  'webpack.config.js',
  'webpack.config.cjs',
  'webpack.config.mjs',
  'webpack.config.ts',
  'rspack.config.js',
  'rspack.config.ts',
  'vite.config.ts',
  'vite.config.mts',
  'vite.config.js',
  'vite.config.mjs',
] as const;

/** tsconfig files read when the build runs `tsc` (their `outDir`). */
export const TSC_CONFIGS = ['tsconfig.build.json', 'tsconfig.app.json', 'tsconfig.lib.json', 'tsconfig.json'] as const;

const STR = `(['"\`])([^'"\`]+)\\1`;

/** `join(__dirname, '../../dist/x')` / `path.resolve(__dirname, '…')` / `'dist/x'` → [relative-to-config?, path]. */
function pathExpression(expr: string): { fromConfigDir: boolean; path: string } | undefined {
  const joined = new RegExp(`^(?:[\\w$]+\\.|require\\(\\s*['"](?:node:)?path['"]\\s*\\)\\.)?(?:join|resolve)\\(\\s*__dirname\\s*,\\s*${STR}\\s*\\)`).exec(expr);
  if (joined) return { fromConfigDir: true, path: joined[2] };
  const literal = new RegExp(`^${STR}`).exec(expr);
  if (literal && !literal[2].includes('${')) return { fromConfigDir: false, path: literal[2] };
  return undefined;
}

function normalizeOut(base: string, rel: string): string | undefined {
  if (posix.isAbsolute(rel)) return undefined;
  const joined = posix.normalize(posix.join(base, rel)).replace(/\/+$/, '');
  return joined.startsWith('..') || joined === '.' ? undefined : joined;
}

/**
 * The output folder a bundler config declares, relative to the workspace root. `configFile` is
 * workspace-relative; webpack's `NxAppWebpackPlugin({ outputPath })` and `output.path` without
 * `__dirname` are taken from the workspace root (where Nx runs the build), vite's `build.outDir`
 * from the config's folder (vite's default root).
 */
export function outputFromBundlerConfig(configFile: string, text: string): DeclaredOutput | undefined {
  const dir = posix.dirname(configFile);
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const isVite = /(^|\/)vite\.config\./.test(configFile);
  const patterns: Array<{ re: RegExp; setting: string }> = isVite
    ? [{ re: /\boutDir\s*:\s*/g, setting: 'build.outDir' }]
    : [
        { re: /\boutputPath\s*:\s*/g, setting: 'NxAppWebpackPlugin outputPath' },
        { re: /\boutput\s*:\s*\{[^}]*?\bpath\s*:\s*/g, setting: 'output.path' },
      ];
  for (const { re, setting } of patterns) {
    for (let m = re.exec(code); m; m = re.exec(code)) {
      const expr = pathExpression(code.slice(m.index + m[0].length).trimStart());
      if (!expr) continue;
      const path = normalizeOut(expr.fromConfigDir || isVite ? dir : '.', expr.path);
      if (path) return { path, file: configFile, setting };
    }
  }
  return undefined;
}

/** `compilerOptions.outDir` of a tsconfig (JSON with comments), relative to the workspace root. */
export function outputFromTsconfig(configFile: string, text: string): DeclaredOutput | undefined {
  const m = /"outDir"\s*:\s*"([^"]+)"/.exec(text.replace(/\/\*[\s\S]*?\*\//g, ''));
  if (!m) return undefined;
  const path = normalizeOut(posix.dirname(configFile), m[1]);
  return path ? { path, file: configFile, setting: 'compilerOptions.outDir' } : undefined;
}

/**
 * The declared output of a project whose build target has no `outputs`: its bundler config, or
 * (when the build command runs `tsc`) its tsconfig's `outDir`. `read` returns a workspace file's
 * text or undefined.
 */
export function findDeclaredOutput(o: { projectRoot: string; buildCommand?: string; read: (path: string) => string | undefined }): DeclaredOutput | undefined {
  const at = (file: string) => (o.projectRoot === '.' ? file : `${o.projectRoot}/${file}`);
  for (const name of BUNDLER_CONFIGS) {
    const text = o.read(at(name));
    const found = text === undefined ? undefined : outputFromBundlerConfig(at(name), text);
    if (found) return found;
  }
  if (o.buildCommand && /\btsc\b/.test(o.buildCommand)) {
    const project = /(?:-p|--project)\s+(\S+)/.exec(o.buildCommand)?.[1];
    for (const file of project ? [project] : TSC_CONFIGS.map(at)) {
      const text = o.read(file);
      const found = text === undefined ? undefined : outputFromTsconfig(file, text);
      if (found) return found;
    }
  }
  return undefined;
}

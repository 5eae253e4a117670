/**
 * Which npm packages a piece of shipped JavaScript loads at run time: the bare specifiers of its
 * `require('x')`, `import … from 'x'`, `import 'x'`, `export … from 'x'` and `import('x')`.
 * Pure: text in, names out. Used to check the pruned manifest against what the build output
 * really needs, because Nx's graph can miss imports without a word (no `typescript` installed,
 * imports from a folder that is no Nx project, helpers such as `tslib` that only the compiler adds).
 *
 * A small tokenizer (strings, template literals, comments, regular expressions) rather than a
 * regular expression over the text: a `require("x")` inside a comment or a string must not count,
 * or a harmless bundle would fail its build.
 */

/** One module load found in a file. */
export interface ModuleRequest {
  /** The specifier as written, e.g. `@acme/util/sub`. */
  specifier: string;
  /** The package it resolves to, e.g. `@acme/util`. */
  packageName: string;
}

type Token = { kind: 'id' | 'str' | 'punct'; value: string };

/** Keywords after which a `/` starts a regular expression, not a division. */
const REGEX_AFTER_KEYWORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  const regexAllowed = () => {
    const last = tokens[tokens.length - 1];
    if (!last) return true;
    if (last.kind === 'str') return false;
    if (last.kind === 'id') return REGEX_AFTER_KEYWORD.has(last.value);
    return !/^[)\]}]$/.test(last.value);
  };
  while (i < n) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      i = end < 0 ? n : end;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let value = '';
      while (j < n && text[j] !== c && text[j] !== '\n') {
        if (text[j] === '\\') {
          value += text[j + 1] ?? '';
          j += 2;
        } else value += text[j++];
      }
      tokens.push({ kind: 'str', value });
      i = j + 1;
    } else if (c === '`') {
      // Template literal: its text is no specifier we can trust; skip it, nested `${…}` included.
      let j = i + 1;
      let depth = 0;
      while (j < n) {
        if (text[j] === '\\') j += 2;
        else if (depth === 0 && text[j] === '`') break;
        else if (text[j] === '$' && text[j + 1] === '{') {
          depth++;
          j += 2;
        } else if (depth > 0 && text[j] === '}') {
          depth--;
          j++;
        } else j++;
      }
      tokens.push({ kind: 'punct', value: '`' });
      i = j + 1;
    } else if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let inClass = false;
      while (j < n && text[j] !== '\n') {
        if (text[j] === '\\') j += 2;
        else if (text[j] === '[') inClass = true, j++;
        else if (text[j] === ']') inClass = false, j++;
        else if (text[j] === '/' && !inClass) break;
        else j++;
      }
      j++;
      while (j < n && /[a-z]/i.test(text[j])) j++;
      tokens.push({ kind: 'punct', value: '/re/' });
      i = j;
    } else if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w$]/.test(text[j])) j++;
      tokens.push({ kind: 'id', value: text.slice(i, j) });
      i = j;
    } else if (/\s/.test(c)) {
      i++;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(text[j])) j++;
      tokens.push({ kind: 'id', value: text.slice(i, j) });
      i = j;
    } else {
      tokens.push({ kind: 'punct', value: c });
      i++;
    }
  }
  return tokens;
}

/** The specifiers (as written) a file loads with string literals. */
export function moduleSpecifiers(text: string): string[] {
  const t = tokenize(text);
  const found: string[] = [];
  for (let k = 0; k < t.length; k++) {
    const tok = t[k];
    if (tok.kind !== 'id') continue;
    const prev = t[k - 1];
    // `obj.require('x')` / `obj.import` is a property, not the loader.
    if (prev?.kind === 'punct' && prev.value === '.') continue;
    const next = t[k + 1];
    const after = t[k + 2];
    const close = t[k + 3];
    if ((tok.value === 'require' || tok.value === 'import') && next?.value === '(' && next.kind === 'punct' && after?.kind === 'str' && close?.kind === 'punct' && (close.value === ')' || close.value === ',')) {
      found.push(after.value);
    } else if (tok.value === 'import' && next?.kind === 'str') {
      found.push(next.value);
    } else if (tok.value === 'from' && next?.kind === 'str') {
      found.push(next.value);
    }
  }
  return found;
}

/**
 * The npm package a bare specifier names (`lodash/fp` → `lodash`, `@s/p/sub` → `@s/p`), or
 * undefined when it loads no package: relative and absolute paths, `node:` and other URL
 * schemes, `#internal` subpath imports, and Node built-ins (`fs`, `fs/promises`).
 */
export function packageOfSpecifier(specifier: string, builtins: ReadonlySet<string>): string | undefined {
  if (!specifier || /^[./#]/.test(specifier) || /^[a-z][a-z0-9+.-]*:/i.test(specifier)) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  if (specifier.startsWith('@') && parts.length < 2) return undefined;
  if (builtins.has(name) || builtins.has(specifier)) return undefined;
  // Not a valid npm package name (e.g. a webpack loader string or a template fragment).
  if (!/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/i.test(name)) return undefined;
  return name;
}

/** Every package a file loads, once each, in order of appearance. */
export function packageRequests(text: string, builtins: ReadonlySet<string>): ModuleRequest[] {
  const seen = new Set<string>();
  const out: ModuleRequest[] = [];
  for (const specifier of moduleSpecifiers(text)) {
    const packageName = packageOfSpecifier(specifier, builtins);
    if (!packageName || seen.has(packageName)) continue;
    seen.add(packageName);
    out.push({ specifier, packageName });
  }
  return out;
}

/** Files of shipped build output worth scanning: JavaScript that Node loads — no tests, maps or tool configs. */
export function isShippedScript(path: string): boolean {
  if (!/\.(c|m)?js$/.test(path)) return false;
  if (/(^|\/)node_modules\//.test(path)) return false;
  const name = path.slice(path.lastIndexOf('/') + 1);
  // webpack.config.js, jest.config.cjs, .eslintrc.js…: read by tools at build time, not by the service.
  if (/\.config\.(c|m)?js$/.test(name) || /^\.\w+rc\.(c|m)?js$/.test(name)) return false;
  return !/\.(spec|test)\.(c|m)?js$/.test(name);
}

/** Why a package the output loads is not in the pruned manifest, from what the planner can see. */
export type MissingPackage =
  | { kind: 'add'; packageName: string; version: string; file: string }
  | { kind: 'unlocked'; packageName: string; file: string };

/** Options for {@link planMissingPackages}. */
export interface MissingPackagesInput {
  /** Shipped file (context-relative) → the packages it loads. */
  requests: ReadonlyArray<{ file: string; packages: string[] }>;
  /** Package names the pruned manifest already holds (any section) or installs from the workspace. */
  present: ReadonlySet<string>;
  /** Package name → the version the project graph has as `npm:<name>` (the hoisted, locked one). */
  locked: ReadonlyMap<string, string>;
  /** Names that need no install (the service's own package name, workspace libraries bundled in). */
  ignore?: ReadonlySet<string>;
}

/** What the pruned manifest lacks for the build output to start, first file that needs each package. */
export function planMissingPackages(input: MissingPackagesInput): MissingPackage[] {
  const out = new Map<string, MissingPackage>();
  const files = [...input.requests].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  for (const { file, packages } of files) {
    for (const packageName of packages) {
      if (out.has(packageName) || input.present.has(packageName) || input.ignore?.has(packageName)) continue;
      const version = input.locked.get(packageName);
      out.set(packageName, version ? { kind: 'add', packageName, version, file } : { kind: 'unlocked', packageName, file });
    }
  }
  return [...out.values()].sort((a, b) => (a.packageName < b.packageName ? -1 : 1));
}

/** What decides whether Nx's graph holds a project's source imports (read at the edge). */
export interface ImportAnalysisFacts {
  /** `pluginsConfig['@nx/js']` of nx.json, if any. */
  jsPluginConfig?: { analyzeSourceFiles?: boolean };
  /** Names in the root package.json's dependencies and devDependencies. */
  rootDependencies: ReadonlySet<string>;
  /** Whether `typescript` resolves from the workspace root. */
  typescriptInstalled: boolean;
}

/**
 * Why Nx's project graph has no edges from projects to the npm packages their sources import, or
 * undefined when it has them. Mirrors Nx's own rule (nx/src/plugins/js): source files are analysed
 * only when `analyzeSourceFiles` is on (explicitly, or by default with an `@nx/*` JS plugin
 * installed) and `typescript` resolves — otherwise Nx skips them without a word.
 */
export function importAnalysisGap(facts: ImportAnalysisFacts): string | undefined {
  const config = facts.jsPluginConfig;
  if (config?.analyzeSourceFiles === false) {
    return 'nx.json sets pluginsConfig["@nx/js"].analyzeSourceFiles to false, so Nx\'s graph holds no source imports — remove that setting';
  }
  const jsPlugins = ['@nx/workspace', '@nx/js', '@nx/node', '@nx/next', '@nx/react', '@nx/angular', '@nx/web'];
  if (!config && !jsPlugins.some((p) => facts.rootDependencies.has(p))) {
    return 'no @nx/js is installed and nx.json does not set pluginsConfig["@nx/js"].analyzeSourceFiles, so Nx\'s graph holds no source imports — set it to true in nx.json (or install @nx/js)';
  }
  if (!facts.typescriptInstalled) {
    return 'typescript is not installed in the workspace, so Nx skips source import analysis and its graph holds no source imports — install it (e.g. `npm install -D typescript`)';
  }
  return undefined;
}

/** A package the manifest installs, with the peers its package.json declares. */
export interface InstalledManifest {
  name: string;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** An optional peer added because the workspace installs it (see {@link planProvidedPeers}). */
export interface ProvidedPeer {
  packageName: string;
  version: string;
  /** The installed package that declares it. */
  of: string;
}

/**
 * Optional peers of the packages a service installs that the workspace itself installs as
 * production dependencies: frameworks load them by name when they are there and never import
 * them where Nx's graph or the build output would show it — NestFactory.create loads
 * `@nestjs/platform-express`, the RMQ transport `amqplib`, TypeORM its drivers. The workspace's
 * node_modules has them, so the app runs in development; a pruned image without them dies at
 * start. Packages the pruned manifest already holds and peers the lockfile does not lock are left
 * out. `manifestOf` gives an installed package's manifest (undefined when it is not installed).
 */
export function planProvidedPeers(input: {
  installs: readonly string[];
  manifestOf: (name: string) => InstalledManifest | undefined;
  rootDependencies: ReadonlySet<string>;
  present: ReadonlySet<string>;
  locked: ReadonlyMap<string, string>;
}): ProvidedPeer[] {
  const out = new Map<string, ProvidedPeer>();
  const queue = [...input.installs].sort();
  const visited = new Set<string>();
  while (queue.length) {
    const name = queue.shift() as string;
    if (visited.has(name)) continue;
    visited.add(name);
    const manifest = input.manifestOf(name);
    // An optional peer may be declared in peerDependenciesMeta alone (debug → supports-color).
    const declared = new Set([...Object.keys(manifest?.peerDependencies ?? {}), ...Object.keys(manifest?.peerDependenciesMeta ?? {})]);
    for (const peer of [...declared].sort()) {
      if (!manifest?.peerDependenciesMeta?.[peer]?.optional) continue;
      if (!input.rootDependencies.has(peer) || input.present.has(peer) || out.has(peer)) continue;
      const version = input.locked.get(peer);
      if (!version) continue;
      out.set(peer, { packageName: peer, version, of: name });
      queue.push(peer);
    }
  }
  return [...out.values()].sort((a, b) => (a.packageName < b.packageName ? -1 : 1));
}

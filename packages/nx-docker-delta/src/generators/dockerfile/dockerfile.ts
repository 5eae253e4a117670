/**
 * `nx g nx-docker-delta:dockerfile --project=<name>`: writes the service's
 * Dockerfile for the detected toolchain. Thin: resolves facts from the Tree
 * (and, for inferred build targets, the cached project graph), then calls a
 * pure renderer.
 */
import {
  formatFiles,
  logger,
  readCachedProjectGraph,
  readNxJson,
  readJson,
  readProjectConfiguration,
  type ProjectConfiguration,
  type TargetConfiguration,
  type Tree,
  workspaceRoot,
} from '@nx/devkit';
import { posix } from 'node:path';
import { DEFAULT_BASE_DIR } from '../../constants';
import { findDeclaredOutput } from '../../planning/build-output';
import { baseNameFor, baseRepository } from '../../planning/targets';
import { detectToolchain, inUmbrellaDeps, SUPPORTED_TOOLCHAINS, type Toolchain } from '../utils/toolchain';
import { privateRegistryNote } from '../utils/private-registry';
import { writeUserFile } from '../utils/write-user-file';
import { ignoreRules } from '../../context/reader';
import { renderElixirDockerfile } from './lib/elixir-dockerfile';
import { renderNodeDockerfile, type NodeRuntime } from './lib/node-dockerfile';
import type { DockerfileGeneratorSchema } from './schema';

/** The cached graph belongs to the process's workspace: only use it when the tree is that workspace. */
function cachedGraph(tree: Tree) {
  if (tree.root !== workspaceRoot) return undefined;
  try {
    return readCachedProjectGraph();
  } catch {
    return undefined;
  }
}

interface ResolvedProject {
  name: string;
  root: string;
  targets: Record<string, TargetConfiguration>;
}

/** Tree first (project.json / package.json projects); the cached graph adds targets plugins infer. */
function resolveProject(tree: Tree, name: string, toolchain: Toolchain | undefined): ResolvedProject {
  let config: ProjectConfiguration | undefined;
  try {
    config = readProjectConfiguration(tree, name);
  } catch {
    config = undefined;
  }
  let inferred: Record<string, TargetConfiguration> = {};
  try {
    const node = cachedGraph(tree)?.nodes[name];
    if (node && (!config || node.data.root === config.root)) {
      config ??= node.data;
      inferred = node.data.targets ?? {};
    }
  } catch {
    // No cached graph (fresh clone, tests): the tree is all we have.
  }
  if (!config && toolchain?.kind === 'elixir' && tree.exists(`${toolchain.appsPath}/${name}/mix.exs`)) {
    return { name, root: `${toolchain.appsPath}/${name}`, targets: {} };
  }
  if (!config) {
    throw new Error(`Cannot find project "${name}" — check the name with \`nx show projects\`.`);
  }
  // project.json often names a target and leaves the rest to nx.json (`"build": {}` with `outputs`
  // in targetDefaults): the graph's resolved target has both, the tree's entry wins field by field.
  const targets: Record<string, TargetConfiguration> = { ...inferred };
  for (const [target, own] of Object.entries(config.targets ?? {})) {
    const resolved = inferred[target] ?? targetDefaultsFor(tree, target, own.executor);
    targets[target] = resolved ? { ...resolved, ...own, options: { ...resolved.options, ...own.options } } : own;
  }
  return { name, root: config.root, targets };
}

/** nx.json's targetDefaults for a target (by executor first, then by name, as Nx applies them), when no graph is cached. */
function targetDefaultsFor(tree: Tree, target: string, executor: string | undefined): TargetConfiguration | undefined {
  const defaults = (tree.exists('nx.json') ? readNxJson(tree)?.targetDefaults : undefined) ?? {};
  return ((executor ? defaults[executor] : undefined) ?? defaults[target]) as TargetConfiguration | undefined;
}

function interpolate(path: string, p: ResolvedProject, options: Record<string, unknown>): string | undefined {
  const out = globBase(
    path
      .replace('{workspaceRoot}/', '')
      .replace('{projectRoot}', p.root)
      .replace('{projectName}', p.name)
      .replace(/\{options\.(\w+)\}/g, (_m, k) => (typeof options[k] === 'string' ? (options[k] as string) : '\u0000'))
  );
  return out === '' || out.includes('\u0000') || out.includes('{') ? undefined : posix.normalize(out).replace(/\/+$/, '');
}

/** `packages/api/dist/**\/*.{js,map}` → `packages/api/dist`: the folder part before the first glob segment. */
function globBase(path: string): string {
  const segments = path.split('/');
  const first = segments.findIndex((s) => /[*?[{]/.test(s));
  return first === -1 ? path : segments.slice(0, first).join('/');
}

/**
 * The build target's output directory: explicit option, outputPath, or its first resolvable
 * output. Globs count by their folder and single files (a `.tsbuildinfo`) never do: the
 * `build` that @nx/js/typescript infers in TS-solution workspaces declares
 * `{projectRoot}/dist/**\/*.{js,…}{,.map}` and `{projectRoot}/dist/tsconfig.lib.tsbuildinfo`.
 */
export function findBuildOutput(p: ResolvedProject, target: TargetConfiguration | undefined): string | undefined {
  if (!target) return undefined;
  const options = (target.options ?? {}) as Record<string, unknown>;
  if (typeof options.outputPath === 'string') return posix.normalize(options.outputPath).replace(/\/+$/, '');
  for (const o of target.outputs ?? []) {
    const resolved = interpolate(o, p, options);
    if (resolved && resolved !== '.' && !/\.tsbuildinfo$/.test(resolved)) return resolved;
  }
  return undefined;
}

/** Entry file inside the output: tsc/swc keep the source layout, bundlers emit `<name>.js`. */
export function findMain(p: ResolvedProject, target: TargetConfiguration | undefined): string {
  const options = (target?.options ?? {}) as Record<string, unknown>;
  const main = typeof options.main === 'string' ? options.main : undefined;
  if (!main) return 'main.js';
  const js = main.replace(/\.(ts|mts|cts|tsx|jsx)$/, '.js');
  if (/^@nx\/js:(tsc|swc)$/.test(target?.executor ?? '')) {
    const rootDir = typeof options.rootDir === 'string' ? options.rootDir : p.root;
    return posix.relative(rootDir, js);
  }
  return posix.basename(js);
}

/**
 * The entry file relative to the build output. Without a `main` option (an `nx:run-commands`
 * `nest build`, say) the output on disk decides when the project was built: a tsc build whose
 * sources import a library outside the project root lands at `<out>/<projectRoot>/src/main.js`,
 * not `<out>/main.js` (nest-cli.json's `entryFile` names the file).
 */
export function mainInBuildOutput(tree: Tree, p: ResolvedProject, target: TargetConfiguration | undefined, out: string): string {
  const guess = findMain(p, target);
  if (typeof target?.options?.main === 'string' || tree.exists(posix.join(out, guess))) return guess;
  const entry = nestEntryFile(tree, p) ?? 'main';
  const candidates = [`${entry}.js`, `${p.root}/src/${entry}.js`, `src/${entry}.js`].filter((c, i, all) => all.indexOf(c) === i);
  const found = candidates.find((c) => tree.exists(posix.join(out, c)));
  if (found && found !== guess) {
    logger.info(`Entry file of ${p.name}: ${out}/${found} (found in the build output; --main overrides it).`);
    return found;
  }
  if (!found && !tree.exists(out)) {
    logger.info(`${out} does not exist yet, so the entry file is assumed to be ${guess}: run \`nx run ${p.name}:build\` first to have it checked, or pass --main.`);
  }
  return guess;
}

function nestEntryFile(tree: Tree, p: ResolvedProject): string | undefined {
  if (!tree.exists('nest-cli.json')) return undefined;
  try {
    const nest = readJson(tree, 'nest-cli.json') as { entryFile?: string; projects?: Record<string, { root?: string; entryFile?: string }> };
    const own = nest.projects?.[p.name] ?? Object.values(nest.projects ?? {}).find((q) => q.root === p.root);
    return own?.entryFile ?? nest.entryFile;
  } catch {
    return undefined;
  }
}

/**
 * Workspaces that build inside Docker often list `dist` in .dockerignore, which keeps the build
 * output a host-compiled image copies out of its context. Docker reads `<Dockerfile>.dockerignore`
 * beside the Dockerfile instead of the root file, so that copy of it, plus one `!<output>` line,
 * lets this image see its output and changes nothing for the workspace's other Dockerfiles.
 */
function dockerignoreKeepingOutput(tree: Tree, p: ResolvedProject, out: string): string | undefined {
  const own = posix.join(p.root, 'Dockerfile.dockerignore');
  if (tree.exists(own)) {
    // Docker reads this one, not the root file: it is the user's to fix, never replaced.
    if (ignoreRules(tree.read(own, 'utf-8') ?? '').ignores(`${out}/main.js`)) {
      logger.warn(`nx-docker-delta: ${own} excludes ${out}, the build output ${p.name}'s image copies — add \`!${out}\` to it.`);
    }
    return undefined;
  }
  const root = tree.read('.dockerignore', 'utf-8');
  if (!root || !ignoreRules(root).ignores(`${out}/main.js`)) return undefined;
  const text = `${root.trimEnd()}\n\n# Added by nx-docker-delta: the build output this image copies (the root .dockerignore keeps it out).\n!${out}\n`;
  if (ignoreRules(text).ignores(`${out}/main.js`)) {
    logger.warn(`nx-docker-delta: .dockerignore excludes ${out}, the build output ${p.name}'s image copies, and a \`!${out}\` line does not bring it back — fix .dockerignore or write ${p.root}/Dockerfile.dockerignore.`);
    return undefined;
  }
  logger.info(`nx-docker-delta: .dockerignore excludes ${out}, which ${p.name}'s image copies: ${p.root}/Dockerfile.dockerignore (Docker reads it instead, for this Dockerfile only) is that file plus \`!${out}\`.`);
  return text;
}

/** `--force` over a Dockerfile that EXPOSEs a port, without `--port`: the new one keeps that port (and says so). */
function keptPort(tree: Tree, path: string, force: boolean | undefined): number | undefined {
  if (!force || !tree.exists(path)) return undefined;
  const match = /^\s*EXPOSE\s+(\d+)/im.exec(tree.read(path, 'utf-8') ?? '');
  if (!match) return undefined;
  logger.info(`nx-docker-delta: kept EXPOSE ${match[1]} of the replaced ${path} (--port=<n> sets another).`);
  return Number(match[1]);
}

/** The workspace's shared base: at the root (seed layout), in init's default folder, or in `docker/*`. */
export function findBaseFile(tree: Tree): string | undefined {
  const candidates = ['Dockerfile.base', `${DEFAULT_BASE_DIR}/Dockerfile.base`];
  if (tree.exists('docker') && !tree.isFile('docker')) {
    candidates.push(...tree.children('docker').sort().map((dir) => `docker/${dir}/Dockerfile.base`));
  }
  return candidates.find((file) => tree.exists(file));
}

function baseFlavour(tree: Tree): NodeRuntime {
  const file = findBaseFile(tree);
  const base = (file && tree.read(file, 'utf-8')) ?? '';
  return /bookworm|bullseye|debian|slim/.test(base) ? 'debian-slim' : 'alpine';
}

function defaultBaseImage(tree: Tree): string {
  const entry = (readNxJson(tree)?.plugins ?? []).find((p) => typeof p !== 'string' && p.plugin === 'nx-docker-delta');
  const prefix = entry && typeof entry !== 'string' ? ((entry.options as { imagePrefix?: string })?.imagePrefix ?? '') : '';
  return baseRepository(baseNameFor(findBaseFile(tree) ?? 'Dockerfile.base'), prefix);
}

function workspaceDepRoots(tree: Tree, p: ResolvedProject): string[] {
  try {
    const graph = cachedGraph(tree);
    if (!graph) return [];
    const roots = new Set<string>();
    const stack = [p.name];
    while (stack.length) {
      for (const d of graph.dependencies[stack.pop() as string] ?? []) {
        const n = graph.nodes[d.target];
        if (n && !roots.has(n.data.root) && n.name !== p.name) {
          roots.add(n.data.root);
          stack.push(n.name);
        }
      }
    }
    return [...roots].sort();
  } catch {
    return [];
  }
}

export async function dockerfileGenerator(tree: Tree, schema: DockerfileGeneratorSchema): Promise<void> {
  const toolchain = detectToolchain(tree);
  const project = resolveProject(tree, schema.project, toolchain);
  if (!toolchain) {
    throw new Error(
      `No supported toolchain found for "${project.name}" — nx-docker-delta generates Dockerfiles for ${SUPPORTED_TOOLCHAINS}.`
    );
  }
  const baseImage = schema.baseImage ?? defaultBaseImage(tree);
  if (!findBaseFile(tree)) {
    logger.warn('nx-docker-delta: no Dockerfile.base found — run `nx g nx-docker-delta:init` to create the shared base.');
  }
  const port = schema.port ?? keptPort(tree, posix.join(project.root, 'Dockerfile'), schema.force);
  let content: string;
  /** `<Dockerfile>.dockerignore` text when the root .dockerignore would keep the build output out (see dockerignoreKeepingOutput). */
  let includeBuildOutput: string | undefined;
  if (toolchain.kind === 'elixir') {
    const app = posix.basename(project.root);
    if (!new RegExp(`releases:[\\s\\S]*\\b${app}:`).test(tree.read('mix.exs', 'utf-8') ?? '')) {
      logger.warn(
        `nx-docker-delta: the umbrella mix.exs defines no "${app}" release — add \`releases: [${app}: [applications: [${app}: :permanent]]]\` to its project/0, or \`mix release ${app}\` fails.`
      );
    }
    content = renderElixirDockerfile({
      app,
      appsPath: toolchain.appsPath,
      apps: toolchain.apps,
      umbrellaDeps: inUmbrellaDeps(tree, toolchain.appsPath, app),
      hasLock: toolchain.hasLock,
      hasConfig: toolchain.hasConfig,
      runtime: schema.runtime === 'debian-slim' || (!schema.runtime && baseFlavour(tree) === 'debian-slim') ? 'debian-slim' : 'alpine',
      baseImage,
      runtimeImage: schema.runtimeImage,
      port,
    });
  } else {
    const compile = schema.compile ?? 'host';
    const buildTarget = project.targets['build'];
    let buildOutputPath = schema.buildOutputPath ?? findBuildOutput(project, buildTarget);
    if (!buildOutputPath) {
      // No `outputs` (e.g. an nx:run-commands `webpack-cli build`): the bundler config says where.
      const command = [buildTarget?.options?.command, ...((buildTarget?.options?.commands as unknown[]) ?? [])]
        .map((c) => (typeof c === 'string' ? c : (c as { command?: string } | undefined)?.command))
        .filter(Boolean)
        .join(' && ');
      const declared = findDeclaredOutput({ projectRoot: project.root, buildCommand: command, read: (path) => (tree.exists(path) ? (tree.read(path, 'utf-8') ?? undefined) : undefined) });
      if (declared) {
        buildOutputPath = declared.path;
        logger.info(`Build output of ${project.name}: ${declared.path} (from ${declared.setting} in ${declared.file}; --buildOutputPath overrides it).`);
      }
    }
    if (!buildOutputPath) {
      throw new Error(
        `Cannot find the build output of "${project.name}" — give its build target an "outputs" entry (or options.outputPath), declare it in its webpack/vite config, or pass --buildOutputPath=dist/${project.root}.`
      );
    }
    if (compile === 'host') includeBuildOutput = dockerignoreKeepingOutput(tree, project, buildOutputPath);
    const rootConfigFiles = ['nx.json', 'tsconfig.base.json', 'tsconfig.json'].filter((f) => tree.exists(f));
    const packageManagerFiles =
      toolchain.packageManager === 'yarn-berry'
        ? // Not .yarnrc.yml: it may hold npmAuthToken; the install step mounts it as the secret "yarnrc".
          ['.yarn/releases'].filter((f) => tree.exists(f))
        : [];
    content = renderNodeDockerfile({
      projectName: project.name,
      projectRoot: project.root,
      packageManager: toolchain.packageManager,
      lockfile: toolchain.lockfile,
      buildOutputPath,
      main: schema.main ?? mainInBuildOutput(tree, project, buildTarget, buildOutputPath),
      compile,
      runtime: schema.runtime ?? baseFlavour(tree),
      nodeMajor: toolchain.nodeMajor,
      baseImage,
      runtimeImage: schema.runtimeImage,
      port,
      healthPath: schema.healthPath,
      rootConfigFiles,
      workspaceDepRoots: compile === 'docker' ? (schema.workspaceDeps ?? workspaceDepRoots(tree, project)) : undefined,
      packageManagerFiles,
    });
  }
  writeUserFile(tree, posix.join(project.root, 'Dockerfile'), content, { force: schema.force });
  if (includeBuildOutput) writeUserFile(tree, posix.join(project.root, 'Dockerfile.dockerignore'), includeBuildOutput, { force: schema.force });
  const registryNote = toolchain.kind === 'node' ? privateRegistryNote(tree) : undefined;
  if (registryNote) logger.info(registryNote);
  if (!schema.skipFormat) await formatFiles(tree);
}

export default dockerfileGenerator;

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
function dockerignoreKeepingOutput(tree: Tree, p: ResolvedProject, out: string): { text: string; note: string } | undefined {
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
  return { text, note: `nx-docker-delta: .dockerignore excludes ${out}, which ${p.name}'s image copies: ${p.root}/Dockerfile.dockerignore (Docker reads it instead, for this Dockerfile only) is that file plus \`!${out}\`.` };
}

/**
 * `--force` over a hand-written Dockerfile: what it shipped from the workspace (COPY lines of its
 * last stage, also through a build stage that copied the repository) and the generator steps it
 * ran (`prisma generate`) that the generated one does not — said once, so a file the service
 * reads at run time (a `.proto`, templates) is not lost silently.
 */
function warnDroppedByReplacement(tree: Tree, path: string, replaced: string, generated: string): void {
  const dropped = droppedByReplacement(replaced, generated).filter((d) => tree.exists(d.source));
  const generates = /\bprisma\s+generate\b/.test(replaced);
  if (!dropped.length && !generates) return;
  const parts: string[] = [];
  if (dropped.length) {
    parts.push(
      `copied ${dropped.map((d) => d.source).join(', ')} into the image, which the generated one does not — add ${dropped.map((d) => `\`COPY ${d.source} ${d.dest}\``).join(', ')} to its release stage for what the service reads at run time (such files are staged into the pruned context like the build output)`
    );
  }
  if (generates) {
    parts.push('ran `prisma generate`, which the generated one does not — generate the Prisma client in its deps stage (COPY the schema, RUN npx prisma generate) or the service stops with "@prisma/client did not initialize yet"');
  }
  logger.warn(`nx-docker-delta: the replaced ${path} ${parts.join('; it also ')}.`);
}

const NOT_SHIPPED_SOURCE = /^(\.|\.\/|package(-lock)?\.json|package\*\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|pnpm-workspace\.yaml|\.npmrc|\.yarnrc(\.yml)?|node_modules(\/.*)?|dist(\/.*)?|nx\.json|tsconfig[^/]*\.json)$/;

/**
 * Workspace paths the last stage of `replaced` copies (directly, or from an earlier stage that
 * copied the whole repository to its WORKDIR) that `generated` never names, with the destination
 * the replaced Dockerfile gave them. Manifests, lockfiles, node_modules and build output (`dist/…`)
 * are not listed: the generated Dockerfile has its own.
 */
export function droppedByReplacement(replaced: string, generated: string): Array<{ source: string; dest: string }> {
  const lines = replaced.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim());
  type Stage = { name?: string; workdir: string; copiedRepoTo?: string };
  const stages: Stage[] = [];
  const last: Array<{ from?: string; sources: string[]; dest: string; workdir: string }> = [];
  for (const line of lines) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      stages.push({ name: from[1]?.toLowerCase(), workdir: '/' });
      last.length = 0;
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) continue;
    const workdir = /^WORKDIR\s+(\S+)/i.exec(line);
    if (workdir) {
      stage.workdir = workdir[1].startsWith('/') ? workdir[1] : posix.join(stage.workdir, workdir[1]);
      continue;
    }
    const copy = /^(?:COPY|ADD)\s+(.*)$/i.exec(line);
    if (!copy) continue;
    const words = copy[1].split(/\s+/).filter(Boolean);
    const fromFlag = words.find((w) => w.startsWith('--from='))?.slice('--from='.length).toLowerCase();
    const args = words.filter((w) => !w.startsWith('--'));
    if (args.length < 2) continue;
    const dest = args[args.length - 1];
    const sources = args.slice(0, -1);
    if (!fromFlag && sources.length === 1 && (sources[0] === '.' || sources[0] === './')) stage.copiedRepoTo = posix.resolve(stage.workdir, dest);
    last.push({ from: fromFlag, sources, dest, workdir: stage.workdir });
  }
  const named = new Map(stages.filter((s) => s.name).map((s) => [s.name as string, s]));
  const out: Array<{ source: string; dest: string }> = [];
  for (const copy of last) {
    for (const raw of copy.sources) {
      let source: string | undefined = raw.replace(/^\.\//, '').replace(/\/+$/, '');
      if (copy.from !== undefined) {
        const repo = named.get(copy.from)?.copiedRepoTo;
        const inStage = posix.resolve(named.get(copy.from)?.workdir ?? '/', raw);
        source = repo && (inStage === repo || inStage.startsWith(`${repo}/`)) ? posix.relative(repo, inStage) : undefined;
      }
      if (!source || NOT_SHIPPED_SOURCE.test(source) || generated.includes(source)) continue;
      const dest = copy.dest.startsWith('/') ? copy.dest : `./${posix.relative('.', copy.dest.replace(/^\.\//, '')) || '.'}`;
      if (!out.some((o) => o.source === source)) out.push({ source, dest: dest.endsWith('/') || dest === '.' || dest === './' ? dest : `${dest}/` });
    }
  }
  return out;
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

/** The workspace's Node major, unless the base installs on another one (then the base's, with one warning). */
function runtimeNodeMajor(tree: Tree, workspaceMajor: string, runtimeImage: string | undefined): string {
  if (runtimeImage) return workspaceMajor;
  const file = findBaseFile(tree);
  const major = file ? baseNodeMajor(tree.read(file, 'utf-8') ?? '') : undefined;
  if (!major || major === workspaceMajor) return workspaceMajor;
  logger.warn(
    `nx-docker-delta: ${file} installs dependencies on Node ${major} while the workspace asks for Node ${workspaceMajor}; the runtime image uses Node ${major} too, so native addons load — change NODE_IMAGE in ${file} (or pass --runtimeImage) to move both.`
  );
  return major;
}

function baseFlavour(tree: Tree): NodeRuntime {
  const file = findBaseFile(tree);
  const base = (file && tree.read(file, 'utf-8')) ?? '';
  return /bookworm|bullseye|debian|slim/.test(base) ? 'debian-slim' : 'alpine';
}

/**
 * The Node major of the base's `node:<major>…` image (`ARG NODE_IMAGE=…` or `FROM node:…`): the
 * dependency image installs on the base, so the runtime must run that major too — a native addon
 * compiled for Node 20 does not load in Node 22. Undefined when the base names no such image.
 */
export function baseNodeMajor(base: string): string | undefined {
  const m = /^\s*(?:ARG\s+NODE_IMAGE\s*=\s*|FROM\s+(?:--platform=\S+\s+)?)["']?(?:[\w.:-]+\/)*node:(\d+)(?=[-.@"'\s]|$)/im.exec(base);
  return m?.[1];
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
  let includeBuildOutput: { text: string; note: string } | undefined;
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
      nodeMajor: runtimeNodeMajor(tree, toolchain.nodeMajor, schema.runtimeImage),
      baseImage,
      runtimeImage: schema.runtimeImage,
      port,
      healthPath: schema.healthPath,
      rootConfigFiles,
      workspaceDepRoots: compile === 'docker' ? (schema.workspaceDeps ?? workspaceDepRoots(tree, project)) : undefined,
      packageManagerFiles,
    });
  }
  const dockerfilePath = posix.join(project.root, 'Dockerfile');
  const replaced = schema.force && tree.exists(dockerfilePath) ? (tree.read(dockerfilePath, 'utf-8') ?? undefined) : undefined;
  const written = writeUserFile(tree, dockerfilePath, content, { force: schema.force });
  if (written === 'overwritten' && replaced !== undefined && toolchain.kind === 'node') warnDroppedByReplacement(tree, dockerfilePath, replaced, content);
  // A kept Dockerfile is the user's: its build context stays as it was (no .dockerignore beside it).
  if (includeBuildOutput && written !== 'kept') {
    logger.info(includeBuildOutput.note);
    writeUserFile(tree, posix.join(project.root, 'Dockerfile.dockerignore'), includeBuildOutput.text, { force: schema.force });
  }
  const registryNote = toolchain.kind === 'node' ? privateRegistryNote(tree) : undefined;
  if (registryNote) logger.info(registryNote);
  if (!schema.skipFormat) await formatFiles(tree);
}

export default dockerfileGenerator;

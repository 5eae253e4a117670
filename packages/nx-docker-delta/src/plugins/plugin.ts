// Types only: loading @nx/devkit at run time costs ~0.7 s in a cold plugin worker, on every nx
// command, and inference needs nothing from it but a string constant.
import type {
  CreateDependencies,
  CreateNodesContext,
  CreateNodesResult,
  CreateNodesV2,
  DependencyType,
  RawProjectGraphDependency,
  TargetConfiguration,
} from '@nx/devkit';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, join, posix, relative, sep } from 'node:path';
import { inferContext, quickCopySources, templateArgs } from '../planning/context';
import type { Minimatch as MinimatchClass } from 'minimatch';
import { DockerfileFacts, readDockerfileFacts, readDockerfilePreamble } from '../planning/dockerfile';
import { cachedDependencies, cachedInference, probeExists, probeRead } from './inference-cache';
import { unsupportedNxMessage } from '../planning/nx-version';
import { workspaceNxVersion } from '../utils/workspace-nx';
import { INSTALLED_DOCKER_BUILD_SCRIPT, NormalizedPluginOptions, NxDockerDeltaPluginOptions, normalizePluginOptions } from '../planning/options';
import {
  BaseSpec,
  EXECUTORS,
  baseNameFor,
  buildTarget,
  chooseBase,
  createBaseTargets,
  createServiceTargets,
  projectNameInDockerfilePath,
  serviceVariants,
  releasePublishTarget,
} from '../planning/targets';
import { RELEASE_PUBLISH_TARGET } from '../constants';

/**
 * Every file whose name contains Dockerfile/Containerfile; the `baseGlob` and `serviceGlobs`
 * options then pick bases and services among them (the pattern itself must be static for Nx).
 */
const DOCKERFILES = '**/*{Dockerfile,dockerfile,Containerfile}*';

export const createNodesV2: CreateNodesV2<NxDockerDeltaPluginOptions> = [
  DOCKERFILES,
  (files, rawOptions, context) => {
    const unsupported = unsupportedNxMessage(workspaceNxVersion(context.workspaceRoot));
    if (unsupported) {
      warnOnce(unsupported);
      // Nx 19 and older may call this with the v1 signature (one file, one result object).
      return (typeof files === 'string' ? {} : []) as Array<readonly [string, CreateNodesResult]>;
    }
    const script = dockerBuildScript(context.workspaceRoot);
    return cachedInference(() => inferDockerTargets(files, normalizePluginOptions(rawOptions, script), context), {
      files,
      workspaceRoot: context.workspaceRoot,
      options: rawOptions,
      extra: [
        script,
        JSON.stringify(Object.keys(context.nxJsonConfiguration.namedInputs ?? {})),
        // nx-release-publish targets exist only where nx.json configures `release`.
        String(context.nxJsonConfiguration.release !== undefined),
      ],
    });
  },
];

/** Nx 23+ read `createNodes`, Nx 21 requires `createNodesV2`: the same tuple under both names. */
export const createNodes = createNodesV2;

const scripts = new Map<string, string>();
/**
 * The docker-build script (bin/docker-build.ts) as `nx:run-commands` runs it from the workspace
 * root: `node_modules/nx-docker-delta/…` when that is this plugin (an install, or a link to it),
 * else its path relative to the root, or absolute when it lives outside the workspace.
 */
function dockerBuildScript(workspaceRoot: string): string {
  let known = scripts.get(workspaceRoot);
  if (known === undefined) {
    const script = join(__dirname, '..', 'bin', 'docker-build.js');
    const real = (path: string) => {
      try {
        return realpathSync(path);
      } catch {
        return undefined;
      }
    };
    const installed = real(join(workspaceRoot, INSTALLED_DOCKER_BUILD_SCRIPT));
    const relativePath = relative(workspaceRoot, script).split(sep).join('/');
    known = installed !== undefined && installed === real(script) ? INSTALLED_DOCKER_BUILD_SCRIPT : relativePath.startsWith('..') || isAbsolute(relativePath) ? script : relativePath;
    scripts.set(workspaceRoot, known);
  }
  return known;
}

const warned = new Set<string>();
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  // Not devkit's logger: loading @nx/devkit costs every nx command ~0.7 s (see the imports above).
  console.warn(message);
}

interface Candidate {
  file: string;
  root: string;
  text: string;
  facts?: DockerfileFacts;
}

function inferDockerTargets(
  files: readonly string[],
  options: NormalizedPluginOptions,
  context: CreateNodesContext
): Array<readonly [string, CreateNodesResult]> {
  const roots = new ProjectRoots(context.workspaceRoot);
  const excluded = matcher(options.exclude);
  const baseFile = matcher([options.baseGlob]);
  const serviceFile = matcher(options.serviceGlobs);
  const bases: Array<Candidate & { spec: BaseSpec }> = [];
  const services: Candidate[] = [];
  for (const file of files) {
    if (excluded(file)) continue;
    const isBase = baseFile(file);
    const isService = !isBase && serviceFile(file);
    if (!isBase && !isService) continue;
    const root = isService ? roots.serviceOwner(file, options.dockerfileMap) : roots.ownerOf(posix.dirname(file));
    if (root === undefined) {
      if (isService && (options.dockerfileMap[file] !== undefined || projectNameInDockerfilePath(file) !== undefined)) {
        // Never a silent drop: this file says which project it is for, and that project was not found.
        console.warn(
          `nx-docker-delta: ${file} names ${options.dockerfileMap[file] ?? `project "${projectNameInDockerfilePath(file)}"`} but no project folder matches it — map it in nx.json: plugins[nx-docker-delta].options.dockerfileMap = { "${file}": "<project root>" }.`
        );
      }
      continue;
    }
    const text = readFileSync(join(context.workspaceRoot, file), 'utf8');
    // A template for several apps (`COPY apps/${APP_NAME}`, the arg passed per compose service)
    // is no image of its own: no service, no project for it (init says so). Mapped on purpose: kept.
    if (isService && options.dockerfileMap[file] === undefined && templateArgs(text).length > 0) continue;
    // Bases: the whole file (their COPY sources are inputs). Services: only the preamble.
    const candidate: Candidate = { file, root, text, facts: tryFacts(isBase ? readDockerfileFacts : readDockerfilePreamble, text, file) };
    if (isBase) {
      bases.push({ ...candidate, spec: { name: candidate.facts?.directives.name ?? baseNameFor(file), dockerfile: file, context: posix.dirname(file) } });
    } else {
      services.push(candidate);
    }
  }

  const baseSpecs = bases.map((b) => b.spec);
  const sourcesOf = (spec: BaseSpec) => bases.find((b) => b.spec === spec)?.facts?.contextSources.map((s) => s.source) ?? [];
  const servicesByRoot = rankServices(services);
  const results: Array<readonly [string, CreateNodesResult]> = [];

  const basesByRoot = groupBy(bases, (b) => b.root);
  for (const [root, owned] of basesByRoot) {
    const targets = createBaseTargets({
      projectRoot: root,
      bases: owned.map((b) => b.spec),
      sources: Object.fromEntries(owned.map((b) => [b.file, sourcesOf(b.spec)])),
      options,
    });
    if (!servicesByRoot.has(root)) targets[options.buildTargetName] = buildTarget(options, [options.baseTargetName]);
    results.push([owned[0].file, { projects: { [root]: { targets } } }]);
  }

  const namedInputs = Object.keys(context.nxJsonConfiguration.namedInputs ?? {});
  // Only workspaces that release with `nx release` get the publish target.
  const usesRelease = context.nxJsonConfiguration.release !== undefined;
  const serviceTargetsFor = (service: Candidate, variant: string | undefined): Record<string, TargetConfiguration> => {
    if (!service.facts) {
      // An unparsable Dockerfile still gets its targets; the executor reports the exact error.
      return fallbackServiceTargets(service, options, variant);
    }
    const choice = chooseBase(service.facts, baseSpecs, { imagePrefix: options.imagePrefix });
    const base = choice.kind === 'base' ? choice.base : undefined;
    const copySources = quickCopySources(service.text);
    const buildContext = inferContext({
      projectRoot: service.root,
      directive: service.facts.directives.context,
      sources: copySources,
      exists: (path) => probeExists(join(context.workspaceRoot, path)),
      dockerfileDir: posix.dirname(service.file),
    });
    return createServiceTargets({
      projectRoot: service.root,
      dockerfile: service.file,
      facts: service.facts,
      base,
      baseSources: base ? sourcesOf(base) : undefined,
      namedInputs,
      ownsBase: basesByRoot.has(service.root),
      context: buildContext,
      copySources,
      variant,
      options,
    });
  };
  for (const [root, ranked] of servicesByRoot) {
    // One target per image: the primary keeps `docker-service`, every other Dockerfile of the
    // project gets `docker-service-<variant>`, and docker-build waits for all of them.
    const variants = serviceVariants(root, ranked.slice(1).map((c) => c.file));
    const perFile = ranked.map((service) => ({ file: service.file, targets: serviceTargetsFor(service, variants.get(service.file)) }));
    const guards = [
      ...(basesByRoot.has(root) ? [options.baseTargetName] : []),
      ...perFile.flatMap((p) => Object.keys(p.targets).filter((t) => t !== options.buildTargetName)),
    ];
    perFile[0].targets[options.buildTargetName] = buildTarget(options, guards);
    if (usesRelease && !isPublicPackage(context.workspaceRoot, root)) perFile[0].targets[RELEASE_PUBLISH_TARGET] = releasePublishTarget();
    for (const { file, targets } of perFile) {
      if (file !== perFile[0].file) delete targets[options.buildTargetName];
      results.push([file, { projects: { [root]: { targets } } }]);
    }
  }
  return results;
}

/**
 * Globs compiled once per createNodes call. `minimatch(file, glob)` compiles the glob again for
 * every file: with the default 1 base + 5 service globs that was ~3,000 compilations for 500
 * Dockerfiles and about a third of createNodes' time.
 */
function matcher(globs: readonly string[]): (file: string) => boolean {
  // Required here, not at the top: ~30 ms of a cold plugin worker that a cache hit never needs.
  const { Minimatch } = require('minimatch') as { Minimatch: typeof MinimatchClass };
  const compiled = globs.map((glob) => new Minimatch(glob, { dot: true }));
  return (file) => compiled.some((m) => m.match(file));
}

/** A project's service Dockerfiles, primary first: the one that shares a base, then the plainest name. */
function rankServices(services: Candidate[]): Map<string, Candidate[]> {
  const rank = (c: Candidate): Array<number | string> =>
    [c.facts?.declaresBaseArg ? 0 : 1, posix.dirname(c.file) === c.root ? 0 : 1, posix.basename(c.file).length, c.file];
  const compare = (a: Candidate, b: Candidate) => {
    const [ra, rb] = [rank(a), rank(b)];
    const i = ra.findIndex((value, index) => value !== rb[index]);
    return i < 0 ? 0 : ra[i] < rb[i] ? -1 : 1;
  };
  const byRoot = groupBy(services, (c) => c.root);
  for (const list of byRoot.values()) list.sort(compare);
  return byRoot;
}

function fallbackServiceTargets(service: Candidate, options: NormalizedPluginOptions, variant?: string): Record<string, TargetConfiguration> {
  const name = variant ? `${options.serviceTargetName}-${variant}` : options.serviceTargetName;
  return {
    [name]: { executor: EXECUTORS.service, cache: false, options: variant ? { dockerfile: service.file, variant } : { dockerfile: service.file } },
  };
}

/**
 * A package.json that is not `private` is an npm package: its `nx-release-publish` is npm's
 * (Nx infers it), and a Dockerfile beside it must not take that over.
 */
function isPublicPackage(workspaceRoot: string, root: string): boolean {
  const text = probeRead(join(workspaceRoot, root, 'package.json'));
  if (text === undefined) return false;
  try {
    return JSON.parse(text).private !== true;
  } catch {
    return false;
  }
}

function tryFacts(read: typeof readDockerfileFacts, text: string, file: string): DockerfileFacts | undefined {
  try {
    return read(text, file);
  } catch (error) {
    // The executor reports it as one sentence; here only under NX_VERBOSE_LOGGING, as devkit's logger.verbose would.
    if (process.env.NX_VERBOSE_LOGGING === 'true') console.log(`nx-docker-delta: ${(error as Error).message}`);
    return undefined;
  }
}

/** Nearest folder (the file's own or a parent) holding project.json or package.json. */
class ProjectRoots {
  private readonly known = new Map<string, boolean>();
  constructor(private readonly workspaceRoot: string) {}

  ownerOf(dir: string): string | undefined {
    let current = dir;
    for (;;) {
      if (this.isProject(current)) return current;
      if (current === '.' || current === '') return undefined;
      current = posix.dirname(current);
    }
  }

  /**
   * The project a service Dockerfile belongs to: `dockerfileMap` first; then, for a file outside
   * any project folder (at the root, or under `docker/<name>/`), the project its name carries
   * (`api.dockerfile`, `Dockerfile.api`, `docker/api/Dockerfile`); else the nearest project folder.
   */
  serviceOwner(file: string, map: Readonly<Record<string, string>>): string | undefined {
    const mapped = map[file];
    if (mapped !== undefined) return this.projectNamed(mapped);
    const owner = this.ownerOf(posix.dirname(file));
    if (owner !== undefined && owner !== '.' && owner !== '') return owner;
    const name = projectNameInDockerfilePath(file);
    const named = name === undefined ? undefined : this.projectNamed(name);
    return named ?? owner;
  }

  /** A project root given as a root, or a name found in the usual folders. */
  private projectNamed(rootOrName: string): string | undefined {
    const clean = rootOrName.replace(/^(\.\/)+/, '').replace(/\/+$/, '') || '.';
    if (this.isProject(clean)) return clean;
    const bare = clean.replace(/^@[^/]+\//, '');
    return ['apps', 'packages', 'services', 'libs', ''].map((dir) => (dir ? `${dir}/${bare}` : bare)).find((dir) => this.isProject(dir));
  }

  private isProject(dir: string): boolean {
    let known = this.known.get(dir);
    if (known === undefined) {
      const abs = join(this.workspaceRoot, dir);
      known = probeExists(join(abs, 'project.json')) || probeExists(join(abs, 'package.json'));
      this.known.set(dir, known);
    }
    return known;
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) map.set(key(item), [...(map.get(key(item)) ?? []), item]);
  return map;
}

const factsCache = new Map<string, DockerfileFacts | undefined>();

/**
 * Graph edges service → the project owning its base, so changing a base makes exactly its
 * services affected. They are `implicit`, not `static`: @nx/js's typescript-sync turns every
 * non-implicit project dependency into a TypeScript project reference, and in a TS-solution
 * workspace (`create-nx-workspace --preset=ts`) the base usually belongs to the root project,
 * so `nx sync` added `"path": "../.."` to each service's tsconfig.lib.json and `tsc --build`
 * failed with TS6202 "Project references may not form a circular graph".
 */
export const createDependencies: CreateDependencies<NxDockerDeltaPluginOptions> = (rawOptions, context) =>
  cachedDependencies(() => baseDependencies(rawOptions, context), { options: rawOptions, context, executors: Object.values(EXECUTORS) });

const baseDependencies = (...[rawOptions, context]: Parameters<CreateDependencies<NxDockerDeltaPluginOptions>>): RawProjectGraphDependency[] => {
  const options = normalizePluginOptions(rawOptions);
  const bases: Array<{ spec: BaseSpec; project: string }> = [];
  for (const [project, config] of Object.entries(context.projects)) {
    const target = config.targets?.[options.baseTargetName];
    if (target?.executor !== EXECUTORS.base) continue;
    for (const spec of (target.options?.bases ?? []) as BaseSpec[]) bases.push({ spec, project });
  }
  if (bases.length === 0) return [];
  const specs = bases.map((b) => b.spec);
  const dependencies: RawProjectGraphDependency[] = [];
  // Every service target: a project with several Dockerfiles has `docker-service-<variant>` ones too.
  const serviceTargets = Object.entries(context.projects).flatMap(([project, config]) =>
    Object.values(config.targets ?? {})
      .filter((t) => t.executor === EXECUTORS.service)
      .map((target) => ({ project, target }))
  );
  for (const { project, target } of serviceTargets) {
    const dockerfile = target.options?.dockerfile as string | undefined;
    if (!dockerfile) continue;
    // A Dockerfile mapped from outside the project folder (`api.dockerfile` at the root) is another project's or no project's file.
    const hash =
      context.fileMap.projectFileMap[project]?.find((f) => f.file === dockerfile)?.hash ??
      context.fileMap.nonProjectFiles?.find((f) => f.file === dockerfile)?.hash ??
      Object.values(context.fileMap.projectFileMap).flat().find((f) => f.file === dockerfile)?.hash;
    if (!hash) continue;
    const key = `${dockerfile}@${hash}`;
    if (!factsCache.has(key)) {
      const path = join(context.workspaceRoot, dockerfile);
      factsCache.set(key, existsSync(path) ? tryFacts(readDockerfilePreamble, readFileSync(path, 'utf8'), dockerfile) : undefined);
    }
    const facts = factsCache.get(key);
    if (!facts) continue;
    const choice = chooseBase(facts, specs, { requested: target.options?.base, imagePrefix: options.imagePrefix });
    if (choice.kind !== 'base') continue;
    const owner = bases.find((b) => b.spec.dockerfile === choice.base.dockerfile)?.project;
    if (!owner || owner === project || dependencies.some((d) => d.source === project && d.target === owner)) continue;
    dependencies.push({ source: project, target: owner, type: 'implicit' as DependencyType.implicit });
  }
  return dependencies;
};

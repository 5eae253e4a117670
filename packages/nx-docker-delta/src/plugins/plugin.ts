// Types only: loading @nx/devkit at run time costs ~0.7 s in a cold plugin worker, on every nx
// command, and inference needs nothing from it but a string constant.
import type {
  CreateDependencies,
  CreateNodesContext,
  CreateNodesResult,
  CreateNodesV2,
  DependencyType,
  RawProjectGraphDependency,
} from '@nx/devkit';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Minimatch } from 'minimatch';
import { DockerfileFacts, readDockerfileFacts, readDockerfilePreamble } from '../planning/dockerfile';
import { unsupportedNxMessage } from '../planning/nx-version';
import { workspaceNxVersion } from '../utils/workspace-nx';
import { NormalizedPluginOptions, NxDockerDeltaPluginOptions, normalizePluginOptions } from '../planning/options';
import {
  BaseSpec,
  EXECUTORS,
  baseNameFor,
  buildTarget,
  chooseBase,
  createBaseTargets,
  createServiceTargets,
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
    return inferDockerTargets(files, normalizePluginOptions(rawOptions), context);
  },
];

/** Nx 23+ read `createNodes`, Nx 21 requires `createNodesV2`: the same tuple under both names. */
export const createNodes = createNodesV2;

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
    const root = roots.ownerOf(posix.dirname(file));
    if (root === undefined) continue;
    const text = readFileSync(join(context.workspaceRoot, file), 'utf8');
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
  const primaryService = pickPrimaryServices(services);
  const results: Array<readonly [string, CreateNodesResult]> = [];

  const basesByRoot = groupBy(bases, (b) => b.root);
  for (const [root, owned] of basesByRoot) {
    const targets = createBaseTargets({
      projectRoot: root,
      bases: owned.map((b) => b.spec),
      sources: Object.fromEntries(owned.map((b) => [b.file, sourcesOf(b.spec)])),
      options,
    });
    if (!primaryService.has(root)) targets[options.buildTargetName] = buildTarget(options, [options.baseTargetName]);
    results.push([owned[0].file, { projects: { [root]: { targets } } }]);
  }

  const namedInputs = Object.keys(context.nxJsonConfiguration.namedInputs ?? {});
  // Only workspaces that release with `nx release` get the publish target.
  const usesRelease = context.nxJsonConfiguration.release !== undefined;
  for (const service of primaryService.values()) {
    if (!service.facts) {
      // An unparsable Dockerfile still gets its targets; the executor reports the exact error.
      results.push([service.file, { projects: { [service.root]: { targets: fallbackServiceTargets(service, options) } } }]);
      continue;
    }
    const choice = chooseBase(service.facts, baseSpecs, { imagePrefix: options.imagePrefix });
    const base = choice.kind === 'base' ? choice.base : undefined;
    const targets = createServiceTargets({
      projectRoot: service.root,
      dockerfile: service.file,
      facts: service.facts,
      base,
      baseSources: base ? sourcesOf(base) : undefined,
      namedInputs,
      ownsBase: basesByRoot.has(service.root),
      baseIsOwn: base !== undefined && bases.some((b) => b.spec === base && b.root === service.root),
      options,
    });
    if (usesRelease && !isPublicPackage(context.workspaceRoot, service.root)) targets[RELEASE_PUBLISH_TARGET] = releasePublishTarget();
    results.push([service.file, { projects: { [service.root]: { targets } } }]);
  }
  return results;
}

/**
 * Globs compiled once per createNodes call. `minimatch(file, glob)` compiles the glob again for
 * every file: with the default 1 base + 5 service globs that was ~3,000 compilations for 500
 * Dockerfiles and about a third of createNodes' time.
 */
function matcher(globs: readonly string[]): (file: string) => boolean {
  const compiled = globs.map((glob) => new Minimatch(glob, { dot: true }));
  return (file) => compiled.some((m) => m.match(file));
}

/** One service image per project: prefer the Dockerfile that shares a base, then the plainest name. */
function pickPrimaryServices(services: Candidate[]): Map<string, Candidate> {
  const byRoot = new Map<string, Candidate>();
  const rank = (c: Candidate): Array<number | string> =>
    [c.facts?.declaresBaseArg ? 0 : 1, posix.dirname(c.file) === c.root ? 0 : 1, posix.basename(c.file).length, c.file];
  const before = (a: Candidate, b: Candidate) => {
    const [ra, rb] = [rank(a), rank(b)];
    const i = ra.findIndex((value, index) => value !== rb[index]);
    return i >= 0 && ra[i] < rb[i];
  };
  for (const candidate of services) {
    const current = byRoot.get(candidate.root);
    if (!current || before(candidate, current)) byRoot.set(candidate.root, candidate);
  }
  return byRoot;
}

function fallbackServiceTargets(service: Candidate, options: NormalizedPluginOptions) {
  return {
    [options.serviceTargetName]: { executor: EXECUTORS.service, cache: false, options: { dockerfile: service.file } },
    [options.buildTargetName]: buildTarget(options, [options.serviceTargetName]),
  };
}

/**
 * A package.json that is not `private` is an npm package: its `nx-release-publish` is npm's
 * (Nx infers it), and a Dockerfile beside it must not take that over.
 */
function isPublicPackage(workspaceRoot: string, root: string): boolean {
  const path = join(workspaceRoot, root, 'package.json');
  if (!existsSync(path)) return false;
  try {
    return JSON.parse(readFileSync(path, 'utf8')).private !== true;
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

  private isProject(dir: string): boolean {
    let known = this.known.get(dir);
    if (known === undefined) {
      const abs = join(this.workspaceRoot, dir);
      known = existsSync(join(abs, 'project.json')) || existsSync(join(abs, 'package.json'));
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
export const createDependencies: CreateDependencies<NxDockerDeltaPluginOptions> = (rawOptions, context) => {
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
  for (const [project, config] of Object.entries(context.projects)) {
    const target = config.targets?.[options.serviceTargetName];
    if (target?.executor !== EXECUTORS.service) continue;
    const dockerfile = target.options?.dockerfile as string | undefined;
    if (!dockerfile) continue;
    const hash = context.fileMap.projectFileMap[project]?.find((f) => f.file === dockerfile)?.hash;
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
    if (!owner || owner === project) continue;
    dependencies.push({ source: project, target: owner, type: 'implicit' as DependencyType.implicit });
  }
  return dependencies;
};

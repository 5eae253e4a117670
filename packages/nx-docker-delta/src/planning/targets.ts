import type { TargetConfiguration } from '@nx/devkit';
import { posix } from 'node:path';
import { ENV, RECEIPTS_DIR } from '../constants';
import type { ContextChoice } from './context';
import type { DockerfileFacts } from './dockerfile';
import { parseImageRef, sanitizeRepository } from './image-ref';
import type { NormalizedPluginOptions } from './options';

/** A shared base image as the planner sees it. Paths are workspace-relative posix. */
export interface BaseSpec {
  name: string;
  dockerfile: string;
  context: string;
  /** Optional build args and stage for this base. */
  buildArgs?: Record<string, string>;
  target?: string;
}

export const EXECUTORS = {
  base: 'nx-docker-delta:base',
  service: 'nx-docker-delta:service',
  verify: 'nx-docker-delta:verify',
  releasePublish: 'nx-docker-delta:release-publish',
} as const;

const IMAGE_ENV_INPUTS = [ENV.registry, ENV.push, ENV.pushLong, ENV.platform, ENV.tags, ENV.cacheRegistry].map((env) => ({ env }));

/** Base name from its file: `workspace` at the workspace root, else its folder's name. */
export function baseNameFor(dockerfile: string): string {
  const dir = posix.dirname(dockerfile);
  return dir === '.' ? 'workspace' : sanitizeRepository(posix.basename(dir)) || 'workspace';
}

/** Image repository (no registry, no tag) of a base. */
export function baseRepository(name: string, imagePrefix = ''): string {
  // `database` is not already a base name: only `base` or a `-base`/`_base`/`.base` suffix is.
  return `${imagePrefix}${/(?:^|[-_.])base$/.test(name) ? name : `${name}-base`}`;
}

export function baseReceiptPath(name: string): string {
  return `${RECEIPTS_DIR}/bases/${name}.json`;
}

/** `variant`: the image's name among a project's several Dockerfiles (`worker` → `docker-service-worker.json`). */
export function serviceReceiptPath(projectRoot: string, variant?: string): string {
  const file = variant ? `docker-service-${variant}.json` : 'docker-service.json';
  return projectRoot === '.' ? `${RECEIPTS_DIR}/${file}` : `${RECEIPTS_DIR}/${projectRoot}/${file}`;
}

/**
 * The project name a Dockerfile outside any project folder carries: `api.dockerfile`,
 * `api.Dockerfile`, `Dockerfile.api`, `docker/api/Dockerfile` → `api`. Undefined for a plain
 * `Dockerfile` or `Containerfile` (it names nothing).
 */
export function projectNameInDockerfilePath(file: string): string | undefined {
  const parts = file.split('/');
  const name = parts[parts.length - 1];
  const m = /^(.+)\.(?:dockerfile|Dockerfile|containerfile|Containerfile)$/.exec(name) ?? /^(?:Dockerfile|Containerfile)\.(.+)$/.exec(name);
  if (m) return m[1];
  if (parts.length >= 3 && /^(docker|dockerfiles|containers?)$/i.test(parts[parts.length - 3])) return parts[parts.length - 2];
  return undefined;
}

/**
 * Names of a project's several service images: the primary keeps the plain target, every other
 * Dockerfile gets `<serviceTarget>-<variant>` from what its path adds (`Dockerfile.worker`,
 * `worker.dockerfile`, `docker/worker/Dockerfile` → `worker`), made unique.
 */
export function serviceVariants(projectRoot: string, files: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const file of files) {
    const rel = projectRoot === '.' || !file.startsWith(`${projectRoot}/`) ? file : file.slice(projectRoot.length + 1);
    const named = projectNameInDockerfilePath(rel) ?? (rel.includes('/') ? rel.split('/').slice(-2)[0] : rel);
    let variant = sanitizeRepository(named).replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'image';
    for (let i = 2; used.has(variant); i++) variant = `${variant.replace(/-\d+$/, '')}-${i}`;
    used.add(variant);
    out.set(file, variant);
  }
  return out;
}

export type BaseChoice =
  | { kind: 'base'; base: BaseSpec }
  | { kind: 'standalone' }
  | { kind: 'unknown'; requested: string }
  | { kind: 'ambiguous' };

/**
 * Which base a service builds on. `ARG BASE_IMAGE=<name>` before the first FROM names it (by
 * base name or image repository); a bare `ARG BASE_IMAGE` means the only base there is; no ARG
 * means the Dockerfile does not share a base and builds standalone.
 */
export function chooseBase(
  facts: Pick<DockerfileFacts, 'declaresBaseArg' | 'baseArgDefault'>,
  bases: BaseSpec[],
  options: { requested?: string | false; imagePrefix?: string } = {}
): BaseChoice {
  if (options.requested === false) return { kind: 'standalone' };
  const requested = options.requested ?? facts.baseArgDefault;
  if (requested) {
    const repo = parseImageRef(requested).repository;
    // A registry path may carry namespaces (`europe-docker.pkg.dev/acme/images/node-base`):
    // its image repository is the tail.
    const isRepo = (candidate: string) => repo === candidate || repo.endsWith(`/${candidate}`);
    const base = bases.find(
      (b) => b.name === requested || b.name === repo || isRepo(baseRepository(b.name, options.imagePrefix)) || isRepo(baseRepository(b.name))
    );
    return base ? { kind: 'base', base } : { kind: 'unknown', requested };
  }
  if (!facts.declaresBaseArg) return { kind: 'standalone' };
  if (bases.length === 1) return { kind: 'base', base: bases[0] };
  return bases.length === 0 ? { kind: 'unknown', requested: '(none defined)' } : { kind: 'ambiguous' };
}

/** Inputs that stand for a base image: its Dockerfile and exactly the files it copies. */
export function baseInputs(base: BaseSpec, sources: string[]): string[] {
  // The ignore file the context reader applies: `<Dockerfile>.dockerignore` beside it, else the context's.
  const files = [
    `{workspaceRoot}/${base.dockerfile}`,
    `{workspaceRoot}/${base.dockerfile}.dockerignore`,
    `{workspaceRoot}/${join(base.context, '.dockerignore')}`,
  ];
  for (const source of sources) {
    const relative = source.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    const path = join(base.context, relative);
    if (relative === '' || relative === '.') {
      files.push(base.context === '.' ? '{workspaceRoot}/**/*' : `{workspaceRoot}/${base.context}/**/*`);
    } else {
      files.push(`{workspaceRoot}/${path}`, `{workspaceRoot}/${path}/**/*`);
    }
  }
  return [...new Set(files)];
}

export interface BaseTargetsInput {
  projectRoot: string;
  bases: BaseSpec[];
  /** COPY sources per base dockerfile, from its parsed Dockerfile. */
  sources: Record<string, string[]>;
  options: NormalizedPluginOptions;
}

/** `docker-base` (+ `docker-build` when the project has no service) for a project owning bases. */
export function createBaseTargets(input: BaseTargetsInput): Record<string, TargetConfiguration> {
  const { options, bases } = input;
  const names = bases.map((b) => b.name).join(', ');
  return {
    [options.baseTargetName]: {
      executor: EXECUTORS.base,
      // Not cached by Nx on purpose: the executor checks the content-addressed tag in the image
      // store and the registry every time (milliseconds), so a restored receipt can never claim
      // a base image this machine cannot use.
      cache: false,
      options: { bases, imagePrefix: options.imagePrefix || undefined },
      inputs: [...bases.flatMap((b) => baseInputs(b, input.sources[b.dockerfile] ?? [])), ...IMAGE_ENV_INPUTS],
      outputs: bases.map((b) => `{workspaceRoot}/${baseReceiptPath(b.name)}`),
      metadata: {
        description: `Build the shared base image${bases.length > 1 ? 's' : ''} ${names}, tagged by a hash of exactly its inputs (built once, reused everywhere)`,
        technologies: ['docker'],
        help: helpFor('base'),
      },
    },
  };
}

export interface ServiceTargetsInput {
  projectRoot: string;
  /** Workspace-relative path of the service Dockerfile. */
  dockerfile: string;
  facts: DockerfileFacts;
  /** The base this service builds on, when it shares one. */
  base?: BaseSpec;
  baseSources?: string[];
  /** Named inputs defined in nx.json (to prefer `production`). */
  namedInputs: string[];
  /** Whether this project also owns a base (then docker-build waits for both). */
  ownsBase: boolean;
  /** The inferred build context (planning/context); default: the directive, else the project folder. */
  context?: ContextChoice;
  /** COPY/ADD sources as written (cheap scan): with a workspace-root context they are the task's inputs. */
  copySources?: string[];
  /** Set for a project's second, third… Dockerfile: target `<serviceTarget>-<variant>`, image `<project>-<variant>`. */
  variant?: string;
  options: NormalizedPluginOptions;
}

export function createServiceTargets(input: ServiceTargetsInput): Record<string, TargetConfiguration> {
  const { options, projectRoot, dockerfile, facts } = input;
  const pruned = facts.directives.context === 'pruned';
  const context: ContextChoice =
    input.context ?? (pruned ? { context: 'pruned', reason: "the Dockerfile's `# nx-docker-delta: context=pruned` line" } : { context: projectRoot, reason: 'the project folder (default)' });
  const fromRoot = context.context === '.' && projectRoot !== '.';
  const named = input.namedInputs.includes('production') ? 'production' : 'default';
  const dockerfileDir = posix.dirname(dockerfile);
  const inputs: TargetConfiguration['inputs'] = [
    named,
    `^${named}`,
    `{workspaceRoot}/${dockerfile}`,
    // Docker reads `<context>/.dockerignore`, or `<Dockerfile>.dockerignore` beside the Dockerfile.
    `{workspaceRoot}/${dockerfile}.dockerignore`,
    pruned || fromRoot ? '{workspaceRoot}/.dockerignore' : `{workspaceRoot}/${join(context.context, '.dockerignore')}`,
    // A workspace-root context: what the Dockerfile copies from the root changes the image too.
    ...(fromRoot ? rootCopyInputs(input.copySources ?? []) : []),
    ...(input.base ? baseInputs(input.base, input.baseSources ?? []) : []),
    ...IMAGE_ENV_INPUTS,
  ];
  // Not `docker-base`: the service makes its base available itself (builds/base.ts ensureBase:
  // found in the image store or the registry, else built once under a machine-wide lock), so a
  // one-service delta starts no base task process (~0.4 s) when the base did not change. The
  // base owner's own docker-build still runs docker-base (and `--refresh`); the implicit graph
  // edge service → base owner keeps `nx affected` right when the base changes.
  const dependsOn: TargetConfiguration['dependsOn'] = [options.compileTargetName];
  const serviceOptions: Record<string, unknown> = { dockerfile };
  if (pruned) serviceOptions.context = 'pruned';
  else if (context.context !== projectRoot || dockerfileDir !== projectRoot) serviceOptions.context = context.context;
  if (options.imagePrefix) serviceOptions.imagePrefix = options.imagePrefix;
  if (input.variant) serviceOptions.variant = input.variant;
  const serviceTarget = input.variant ? `${options.serviceTargetName}-${input.variant}` : options.serviceTargetName;

  const shares = input.base
    ? `on the shared base ${input.base.name}`
    : facts.declaresBaseArg
      ? 'on no base yet: its ARG BASE_IMAGE matches no single Dockerfile.base (set ARG BASE_IMAGE=<base name>)'
      : 'standalone (it declares no ARG BASE_IMAGE)';
  return {
    [serviceTarget]: {
      executor: EXECUTORS.service,
      cache: true,
      options: serviceOptions,
      inputs: inputs.filter((i, index) => typeof i !== 'string' || inputs.indexOf(i) === index),
      outputs: [`{workspaceRoot}/${serviceReceiptPath(projectRoot, input.variant)}`],
      dependsOn,
      metadata: {
        description: `Build the ${posix.basename(dockerfile)} image ${shares}, only its own layers; writes a receipt`,
        technologies: ['docker'],
        help: helpFor('service'),
        ...(input.context ? { context: { path: context.context, reason: context.reason } } : {}),
      },
    },
    [options.buildTargetName]: buildTarget(options, input.ownsBase ? [options.baseTargetName, serviceTarget] : [serviceTarget]),
  };
}

/**
 * `docker-build`: the entry point; verifies every image its receipts name is really there. A
 * command (`nx:run-commands`, run in Nx's own process) that starts the plugin's script with
 * plain node — not an executor, for which Nx would start a task process on every delta's
 * critical path. Options given on the command line (`--push`, `--tags=…`) reach the builds
 * (dependsOn forwards them) and the script (run-commands appends them).
 */
export function buildTarget(options: NormalizedPluginOptions, guards: string[]): TargetConfiguration {
  const script = /^[\w@./-]+$/.test(options.dockerBuildScript) ? options.dockerBuildScript : JSON.stringify(options.dockerBuildScript);
  return {
    executor: 'nx:run-commands',
    cache: false,
    options: { command: `node ${script} --targets=${guards.join(',')}` },
    dependsOn: guards.map((target) => ({ target, params: 'forward' as const })),
    metadata: {
      description: 'Build what changed and make sure every image the receipts name is available (pulls or rebuilds after a cache hit if not)',
      technologies: ['docker'],
      help: helpFor('verify'),
    },
  };
}

/** `{workspaceRoot}/<source>` (and everything under it) for plain COPY sources; build output (`dist/`) comes from dependsOn. */
function rootCopyInputs(sources: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of sources) {
    const source = raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '') || '.';
    if (source.includes('$') || source.startsWith('/') || source.startsWith('..') || source.startsWith('dist/')) continue;
    if (source === '.') out.push('{workspaceRoot}/**/*');
    else out.push(`{workspaceRoot}/${source}`, `{workspaceRoot}/${source}/**/*`);
  }
  return out;
}

/**
 * `nx-release-publish` for a service: `nx release publish` tags the image its receipt recorded
 * with the release version. Not cached: it changes the registry, and it is cheap.
 */
export function releasePublishTarget(): TargetConfiguration {
  return {
    executor: EXECUTORS.releasePublish,
    cache: false,
    options: {},
    metadata: {
      description: 'Run by `nx release publish`: tag the image the receipt recorded (by digest) with the release version',
      technologies: ['docker'],
      help: helpFor('release-publish'),
    },
  };
}

function helpFor(executor: 'base' | 'service' | 'verify' | 'release-publish') {
  return {
    command: `node -e "console.log(JSON.stringify(require('nx-docker-delta/dist/executors/${executor}/schema.json'), null, 2))"`,
    example: executor === 'service' ? { options: { tags: ['latest'], push: true } } : {},
  };
}

function join(dir: string, file: string): string {
  return dir === '.' || dir === '' ? file : `${dir}/${file}`;
}


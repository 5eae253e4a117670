import type { ProjectGraph } from '@nx/devkit';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { CONTEXTS_DIR, RECEIPT_SCHEMA_VERSION } from '../constants';
import { stagePrunedContext } from '../context/pruned-context';
import { DockerEngine } from '../engine/docker';
import type { GitInfo } from '../engine/git';
import { pingRegistry } from '../engine/registry';
import { readDockerfileFacts } from '../planning/dockerfile';
import { assertImageName, assertTag, qualify, sanitizeRepository, sanitizeTag } from '../planning/image-ref';
import { ImageReceipt, summaryLine } from '../planning/receipt';
import { BaseSpec, chooseBase, serviceReceiptPath } from '../planning/targets';
import { writeFileAtomic } from '../utils/fs';
import { BuildInputError, ensureBase } from './base';
import { layerCache } from './cache';
import { dependencyImageFor } from './deps';
import type { ImageOptions, ImageSettings } from './settings';

/** Options of the service executor (schema.json is the source of truth). */
export interface ServiceOptions extends ImageOptions {
  /** Workspace-relative path of the Dockerfile. */
  dockerfile: string;
  /** Build context: a workspace-relative folder, or `pruned` for a staged per-service context. Default: the project root. */
  context?: string;
  /** Image repository without registry or tag. Default: the project name, sanitized (`@acme/api` → `acme-api`). */
  image?: string;
  /** Base to build on (its name); `false` builds standalone. Default: what the Dockerfile's `ARG BASE_IMAGE` names. */
  base?: string | false;
  /** Extra `--build-arg`s. */
  buildArgs?: Record<string, string>;
  /** Extra OCI labels. */
  labels?: Record<string, string>;
  /** Dockerfile stage to build (`--target`). */
  target?: string;
  /** Build without layer cache. */
  noCache?: boolean;
}

export interface ServiceContext {
  workspaceRoot: string;
  project: string;
  projectRoot: string;
  projectGraph: ProjectGraph;
  engine: DockerEngine;
  settings: ImageSettings;
  /** Every base defined in the workspace, with the project that owns it. */
  bases: Array<{ spec: BaseSpec; project: string }>;
  /** The identity of the inputs (the Nx task hash); the content tag is derived from it. */
  inputHash: string;
  log: (line: string) => void;
  signal?: AbortSignal;
  outcome?: 'built' | 'rebuilt';
  git: GitInfo;
}

/** Builds one service image on its base and writes its receipt. */
export async function buildService(options: ServiceOptions, ctx: ServiceContext): Promise<ImageReceipt> {
  const started = Date.now();
  const { engine, settings, workspaceRoot } = ctx;
  const dockerfilePath = join(workspaceRoot, options.dockerfile);
  if (!existsSync(dockerfilePath)) {
    throw new BuildInputError(`Dockerfile ${options.dockerfile} of project ${ctx.project} does not exist — fix the "dockerfile" option or create it.`);
  }
  const dockerfileText = readFileSync(dockerfilePath, 'utf8');
  const facts = readDockerfileFacts(dockerfileText, options.dockerfile);

  const repository = options.image ?? `${settings.imagePrefix}${sanitizeRepository(ctx.project)}`;
  const image = qualify(repository, settings.registry);
  assertImageName(image, `image name of ${ctx.project}`);
  const contentTag = `nx-${sanitizeTag(ctx.inputHash).slice(0, 40)}`;
  assertTag(contentTag);
  const ref = `${image}:${contentTag}`;
  const tags = [ref, ...settings.tags.map((t) => `${image}:${t}`)];
  if (settings.push) await pingRegistry(settings.registry as string);

  const choice = chooseBase(facts, ctx.bases.map((b) => b.spec), { requested: options.base, imagePrefix: settings.imagePrefix });
  const known = ctx.bases.map((b) => b.spec.name).join(', ') || 'none';
  let base: { name: string; ref: string } | undefined;
  if (choice.kind === 'unknown') {
    throw new BuildInputError(
      `${options.dockerfile} builds on base "${choice.requested}" but no Dockerfile.base defines it (known bases: ${known}) — fix ARG BASE_IMAGE or add that base.`
    );
  }
  if (choice.kind === 'ambiguous') {
    throw new BuildInputError(
      `${options.dockerfile} declares ARG BASE_IMAGE without saying which base (known bases: ${known}) — write e.g. ARG BASE_IMAGE=${ctx.bases[0].spec.name}-base.`
    );
  }
  if (choice.kind === 'base') {
    if (!facts.declaresBaseArg || !facts.usesBaseArg) {
      throw new BuildInputError(
        `${options.dockerfile} is configured to build on base "${choice.base.name}" but ${facts.declaresBaseArg ? 'no FROM uses ${BASE_IMAGE}' : 'declares no ARG BASE_IMAGE before its first FROM'} — add \`ARG BASE_IMAGE\` before the first FROM and build \`FROM \${BASE_IMAGE}\`.`
      );
    }
    const owner = ctx.bases.find((b) => b.spec === choice.base)?.project ?? ctx.project;
    const baseReceipt = await ensureBase(choice.base, { ...ctx, project: owner });
    base = { name: choice.base.name, ref: baseReceipt.ref };
  } else {
    ctx.log(`${options.dockerfile} does not share a base (no ARG BASE_IMAGE before its first FROM) — building it standalone.`);
  }

  let contextDir: string;
  if (options.context === 'pruned') {
    const staged = await stagePrunedContext({
      workspaceRoot,
      projectName: ctx.project,
      projectRoot: ctx.projectRoot,
      projectGraph: ctx.projectGraph,
      dockerfilePath,
      outputDir: join(workspaceRoot, CONTEXTS_DIR, ctx.projectRoot === '.' ? '_root' : ctx.projectRoot),
    });
    contextDir = staged.dir;
    ctx.log(`Staged pruned context for ${ctx.project}: ${staged.files.length} files in ${posix.relative(workspaceRoot, staged.dir) || staged.dir}`);
  } else {
    contextDir = join(workspaceRoot, options.context ?? ctx.projectRoot);
    if (!existsSync(contextDir)) {
      throw new BuildInputError(`Build context ${options.context} of project ${ctx.project} does not exist — fix the "context" option.`);
    }
  }

  const deps = await dependencyImageFor(
    {
      dockerfileText,
      dockerfilePath,
      dockerfile: options.dockerfile,
      contextDir,
      baseRef: base?.ref ?? options.buildArgs?.BASE_IMAGE ?? facts.baseArgDefault ?? '',
      baseKey: base ? `${base.name}@${base.ref.slice(base.ref.lastIndexOf(':') + 1)}` : undefined,
      owner: base?.name ?? ctx.project,
      buildArgs: options.buildArgs ?? {},
      noCache: options.noCache,
    },
    ctx
  );

  const { cacheFrom, cacheTo } = await layerCache(engine, settings, { image, repository });

  const labels = {
    'org.opencontainers.image.title': ctx.project,
    ...gitLabels(ctx.git),
    ...projectVersionLabel(join(workspaceRoot, ctx.projectRoot)),
    'dev.nx-docker-delta.project': ctx.project,
    'dev.nx-docker-delta.inputs': ctx.inputHash,
    ...(base ? { 'dev.nx-docker-delta.base': base.ref } : {}),
    ...(deps ? { 'dev.nx-docker-delta.deps': deps.ref } : {}),
    ...options.labels,
  };

  ctx.log(`Building ${ctx.project} → ${ref}${base ? ` on ${base.ref}` : ''}`);
  const built = await engine.build(
    {
      dockerfile: dockerfilePath,
      context: contextDir,
      tags,
      buildArgs: { ...(base ? { BASE_IMAGE: base.ref } : {}), ...(deps ? { DEPS_IMAGE: deps.ref } : {}), ...options.buildArgs },
      labels,
      target: options.target,
      platform: settings.platform,
      cacheFrom,
      cacheTo,
      push: settings.push && engine.client.mode === 'buildx',
      noCache: options.noCache,
    },
    { onLine: ctx.log, signal: ctx.signal, what: ctx.project }
  );
  let digest = built.digest;
  if (settings.push && engine.client.mode !== 'buildx') {
    for (const tag of tags) {
      const pushed = await engine.push(tag, { signal: ctx.signal });
      if (tag === ref) digest = pushed;
    }
  }
  const info = await engine.inspectImage(ref);
  const receipt: ImageReceipt = {
    schemaVersion: RECEIPT_SCHEMA_VERSION,
    kind: 'service',
    project: ctx.project,
    image,
    ref,
    tags: tags.map((t) => t.slice(image.length + 1)),
    imageId: built.imageId,
    digest,
    pushed: settings.push,
    base,
    ...(deps ? { deps } : {}),
    inputHash: ctx.inputHash,
    steps: { total: built.stats.total, run: built.stats.run, cached: built.stats.cached },
    sizeBytes: info?.size ?? 0,
    durationMs: Date.now() - started,
    builder: engine.client.mode,
    platform: settings.platform,
    outcome: ctx.outcome ?? 'built',
  };
  writeReceipt(workspaceRoot, ctx.projectRoot, receipt);
  ctx.log(summaryLine(receipt, ctx.project));
  return receipt;
}

export function writeReceipt(workspaceRoot: string, projectRoot: string, receipt: ImageReceipt): void {
  writeFileAtomic(join(workspaceRoot, serviceReceiptPath(projectRoot)), JSON.stringify(receipt, null, 2) + '\n');
}

function gitLabels(git: GitInfo): Record<string, string> {
  return {
    ...(git.sha ? { 'org.opencontainers.image.revision': git.sha } : {}),
    ...(git.remote ? { 'org.opencontainers.image.source': git.remote } : {}),
  };
}

function projectVersionLabel(projectDir: string): Record<string, string> {
  try {
    const version = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8')).version;
    return typeof version === 'string' ? { 'org.opencontainers.image.version': version } : {};
  } catch {
    return {};
  }
}

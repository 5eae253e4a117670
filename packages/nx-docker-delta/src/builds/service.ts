import type { ProjectGraph } from '@nx/devkit';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { CONTEXTS_DIR, RECEIPT_SCHEMA_VERSION } from '../constants';
import { stagePrunedContext } from '../context/pruned-context';
import { DockerEngine } from '../engine/docker';
import type { GitInfo } from '../engine/git';
import { baseSource } from '../planning/build-plan';
import { readDockerfileFacts } from '../planning/dockerfile';
import { serviceContentTag } from '../planning/hash';
import { assertImageName, sanitizeRepository, serviceImageRef } from '../planning/image-ref';
import { formatPhases, PhaseTimer } from '../planning/phases';
import { ImageReceipt, summaryLine } from '../planning/receipt';
import { canonicalSourceUrl } from '../planning/source-url';
import { BaseSpec, chooseBase, serviceReceiptPath } from '../planning/targets';
import { writeFileAtomic } from '../utils/fs';
import { assembleService, NotAssembled } from './assemble';
import { ensureBase } from './base';
import { BuildInputError } from './input-error';
import { layerCache } from './cache';
import { buildDepsForPeer, dependencyImageFor } from './deps';
import { readDepsStage } from '../planning/deps';
import type { RunLedger } from './run-ledger';
import { targetPlatform } from './settings';
import type { BuildInputOptions, ImageOptions, ImageSettings } from './settings';

/** Options of the service executor (schema.json is the source of truth). */
export interface ServiceOptions extends ImageOptions, BuildInputOptions {
  /** Workspace-relative path of the Dockerfile. */
  dockerfile: string;
  /** Build context: a workspace-relative folder (`.` = workspace root), or `pruned` for a staged per-service context. Default: the Dockerfile's `context=` directive, else the project root. */
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
  /**
   * The image's name among the project's several Dockerfiles, e.g. `worker` (set by inference for
   * `Dockerfile.worker`): the image is `<project>-worker`, the receipt `docker-service-worker.json`.
   */
  variant?: string;
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
  /** Images an earlier task of this nx invocation already verified; this build records its own. */
  ledger?: RunLedger;
  /** Print the per-phase timing breakdown (`nx … --verbose`). */
  verbose?: boolean;
  /** The other services of this run, for work stealing while this one waits (see peerWork). */
  peers?: () => PeerService[];
}

/** Builds one service image on its base and writes its receipt. */
export async function buildService(options: ServiceOptions, ctx: ServiceContext): Promise<ImageReceipt> {
  const started = Date.now();
  const timer = new PhaseTimer();
  let mark = performance.now();
  /** Ends the phase that began at the previous mark. */
  const lap = (phase: Parameters<PhaseTimer['add']>[0]) => {
    const now = performance.now();
    timer.add(phase, now - mark);
    mark = now;
  };
  const { engine, settings, workspaceRoot } = ctx;
  if (engine.client.probe) timer.add('probe', engine.client.probe.ms);
  const dockerfilePath = join(workspaceRoot, options.dockerfile);
  if (!existsSync(dockerfilePath)) {
    throw new BuildInputError(`Dockerfile ${options.dockerfile} of project ${ctx.project} does not exist — fix the "dockerfile" option or create it.`);
  }
  const dockerfileText = readFileSync(dockerfilePath, 'utf8');
  const facts = readDockerfileFacts(dockerfileText, options.dockerfile);
  // The option (set by inference) wins; the directive covers targets written by hand.
  const contextOption = options.context ?? facts.directives['context'] ?? ctx.projectRoot;
  const fromRoot = (contextOption === '.' || contextOption === '') && ctx.projectRoot !== '.';

  const repository = options.image ?? `${settings.imagePrefix}${sanitizeRepository(ctx.project)}${options.variant ? `-${options.variant}` : ''}`;
  const platform = targetPlatform(settings, engine);
  const { image, ref } = serviceImageRef({
    ...settings,
    project: ctx.project,
    image: options.image,
    variant: options.variant,
    contentTag: serviceContentTag(ctx.inputHash, platform),
  });
  assertImageName(image, `image name of ${ctx.project}`);
  const tags = [ref, ...settings.tags.map((t) => `${image}:${t}`)];
  if (settings.push) await engine.registry.ping(settings.registry as string);

  const base = await resolveBase(options, facts, { ...ctx, fromRoot });
  lap('hash');
  const { contextDir, stagedFiles } = await serviceContext(options, contextOption, ctx, dockerfilePath);
  lap('stage');
  // Waiting for the dependency set another task installs: install a later service's set meanwhile.
  const whileWaiting = ctx.peers && ctx.ledger ? peerWork(ctx.peers, { ...ctx, ledger: ctx.ledger }) : undefined;
  const deps = await dependencyImageFor(
    {
      ...depsInput(options, { dockerfileText, dockerfilePath, contextDir, base, facts, project: ctx.project }),
      noCache: options.noCache,
      // Without a registry, layerCache (below) inspects the previous image: one docker call for both.
      prefetch: settings.registry ? [] : [`${image}:latest`],
    },
    { ...ctx, whileWaiting }
  );

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

  lap('deps');
  const buildArgs = { ...(base ? { BASE_IMAGE: base.ref } : {}), ...(deps ? { DEPS_IMAGE: deps.ref } : {}), ...options.buildArgs };
  const assembled = await assembleService(
    {
      dockerfileText,
      context: contextOption,
      contextDir,
      files: stagedFiles,
      buildArgs,
      hasDepsImage: !!deps,
      owner: base?.name ?? ctx.project,
      image,
      ref,
      tags,
      labels,
      platform,
      target: options.target,
      noCache: options.noCache,
    },
    { workspaceRoot, project: ctx.project, engine, settings, log: ctx.log, signal: ctx.signal, lap }
  );
  /** Writes the receipt of what was made, records it for docker-build of this run, prints the summary. */
  const finish = (made: Pick<ImageReceipt, 'imageId' | 'digest' | 'pushed' | 'steps' | 'sizeBytes' | 'assembled'>, inStore: boolean): ImageReceipt => {
    const receipt: ImageReceipt = {
      schemaVersion: RECEIPT_SCHEMA_VERSION,
      kind: 'service',
      project: ctx.project,
      image,
      ref,
      tags: tags.map((t) => t.slice(image.length + 1)),
      imageId: made.imageId,
      digest: made.digest,
      pushed: made.pushed,
      base,
      ...(deps ? { deps } : {}),
      ...(made.assembled ? { assembled: made.assembled } : {}),
      inputHash: ctx.inputHash,
      steps: made.steps,
      sizeBytes: made.sizeBytes,
      durationMs: Date.now() - started,
      phasesMs: timer.timings(),
      builder: engine.client.mode,
      platform,
      outcome: ctx.outcome ?? 'built',
    };
    writeReceipt(workspaceRoot, ctx.projectRoot, receipt, options.variant);
    if (inStore) ctx.ledger?.record(ref, { imageId: made.imageId, pushed: made.pushed, digest: made.digest });
    ctx.log(summaryLine(receipt, ctx.project));
    if (ctx.verbose) ctx.log(`${ctx.project} phases: ${formatPhases(receipt.phasesMs ?? {})}${engine.client.probe?.reused ? ' (docker probe reused)' : ''}`);
    return receipt;
  };
  if (!(assembled instanceof NotAssembled)) {
    // Under every tag, in the registry or the local store: docker-build of this run has nothing left to check.
    const { imageId, digest, sizeBytes, record } = assembled;
    return finish({ imageId, digest, pushed: !record.local, steps: { total: 0, run: 0, cached: 0 }, sizeBytes, assembled: record }, true);
  }
  if (!assembled.quiet) ctx.log(`Not assembled — building with docker build: ${assembled.reason}.`);
  const { cacheFrom, cacheTo } = await layerCache(engine, settings, { image, repository });
  const contextLabel = contextOption === 'pruned' ? `pruned, ${posix.relative(workspaceRoot, contextDir)}` : fromRoot ? '. (workspace root)' : contextOption;
  ctx.log(`Building ${ctx.project} → ${ref}${base ? ` on ${base.ref}` : ''} (context: ${contextLabel})`);
  if (settings.secrets.length) ctx.log(`Build secrets (values hidden): ${settings.secrets.map((s) => s.id).join(', ')}`);
  const built = await engine.build(
    {
      dockerfile: dockerfilePath,
      context: contextDir,
      tags,
      buildArgs,
      labels,
      target: options.target,
      platform: settings.platform,
      cacheFrom,
      cacheTo,
      push: settings.push && engine.client.mode === 'buildx',
      secrets: settings.secrets,
      ssh: settings.ssh,
      network: settings.network,
      noCache: options.noCache,
    },
    { onLine: ctx.log, signal: ctx.signal, what: ctx.project }
  );
  lap('build');
  let digest = built.digest;
  if (settings.push && engine.client.mode !== 'buildx') {
    digest = await engine.push(ref, { signal: ctx.signal });
    // The other tags name the manifest just pushed: the registry API points them at it (no
    // second docker push re-checking every layer; a registry that wants docker's own
    // credentials gets the push).
    for (const tag of tags.slice(1)) await engine.pointRegistryTag({ image, tag: tag.slice(image.length + 1), digest, imageId: built.imageId });
    lap('push');
  }
  const info = await engine.inspectImage(ref);
  lap('verify');
  const { total, run, cached } = built.stats;
  return finish({ imageId: built.imageId, digest, pushed: settings.push, steps: { total, run, cached }, sizeBytes: info?.size ?? 0 }, !!info);
}

/** The shared base a service builds on (built or found first), or undefined for a standalone build. */
async function resolveBase(
  options: ServiceOptions,
  facts: ReturnType<typeof readDockerfileFacts>,
  ctx: ServiceContext & { fromRoot: boolean }
): Promise<{ name: string; ref: string } | undefined> {
  const { engine, settings } = ctx;
  const choice = chooseBase(facts, ctx.bases.map((b) => b.spec), { requested: options.base, imagePrefix: settings.imagePrefix });
  const known = ctx.bases.map((b) => b.spec.name).join(', ') || 'none';
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
    const source = baseSource(engine.client, { push: settings.push });
    if (source.kind === 'unreachable') throw new BuildInputError(source.message);
    const owner = ctx.bases.find((b) => b.spec === choice.base)?.project ?? ctx.project;
    const baseReceipt = await ensureBase(choice.base, { ...ctx, project: owner });
    return { name: choice.base.name, ref: baseReceipt.ref };
  }
  if (ctx.fromRoot) {
    ctx.log(
      `${options.dockerfile} is built from the workspace root, the context it was written for, and does not share a base (no ARG BASE_IMAGE before its first FROM) — it builds unchanged; \`nx g nx-docker-delta:dockerfile --project=${ctx.project}\` writes one that builds only its own layers on the shared base.`
    );
  } else {
    ctx.log(`${options.dockerfile} does not share a base (no ARG BASE_IMAGE before its first FROM) — building it standalone.`);
  }
  return undefined;
}

/** The build context: the pruned context staged (into `stageInto`, default the service's own folder), or a workspace folder. */
async function serviceContext(
  options: ServiceOptions,
  contextOption: string,
  ctx: Pick<ServiceContext, 'workspaceRoot' | 'project' | 'projectRoot' | 'projectGraph' | 'log'>,
  dockerfilePath: string,
  stageInto?: string
): Promise<{ contextDir: string; stagedFiles: string[] }> {
  const { workspaceRoot } = ctx;
  if (contextOption === 'pruned') {
    const staged = await stagePrunedContext({
      workspaceRoot,
      projectName: ctx.project,
      projectRoot: ctx.projectRoot,
      projectGraph: ctx.projectGraph,
      dockerfilePath,
      outputDir: stageInto ?? join(workspaceRoot, CONTEXTS_DIR, ctx.projectRoot === '.' ? '_root' : ctx.projectRoot, ...(options.variant ? [`_${options.variant}`] : [])),
      log: ctx.log,
    });
    ctx.log(`Staged pruned context for ${ctx.project}: ${staged.files.length} files in ${posix.relative(workspaceRoot, staged.dir) || staged.dir}`);
    return { contextDir: staged.dir, stagedFiles: staged.files };
  }
  const contextDir = join(workspaceRoot, contextOption);
  if (!existsSync(contextDir)) {
    throw new BuildInputError(`Build context ${contextOption} of project ${ctx.project} does not exist — fix the "context" option or the \`# nx-docker-delta: context=\` line.`);
  }
  return { contextDir, stagedFiles: [] };
}

/** What the dependency image of a service is made of (planning/deps.ts names the stage). */
function depsInput(
  options: ServiceOptions,
  s: { dockerfileText: string; dockerfilePath: string; contextDir: string; base?: { name: string; ref: string }; facts: ReturnType<typeof readDockerfileFacts>; project: string }
) {
  return {
    dockerfileText: s.dockerfileText,
    dockerfilePath: s.dockerfilePath,
    dockerfile: options.dockerfile,
    contextDir: s.contextDir,
    baseRef: s.base?.ref ?? options.buildArgs?.BASE_IMAGE ?? s.facts.baseArgDefault ?? '',
    baseKey: s.base ? `${s.base.name}@${s.base.ref.slice(s.base.ref.lastIndexOf(':') + 1)}` : undefined,
    owner: s.base?.name ?? s.project,
    buildArgs: options.buildArgs ?? {},
  };
}

/** Another service of this run whose dependency image this task may build while it waits. */
export interface PeerService {
  project: string;
  projectRoot: string;
  options: ServiceOptions;
  settings: ImageSettings;
}

/**
 * Work stealing within `--parallel`: while this task waits for the dependency set another task
 * installs, it installs the set of a service that runs later in this run (whose build output is
 * there, and whose set nobody has or is building) instead of sleeping. At most one per task: an
 * install cannot be interrupted, and a second one would mostly delay this service's own build
 * after its set is ready (measured on the benchmark's 2-core machine). Failures only cost the
 * attempt (that service builds its own set later). True when it built one.
 */
function peerWork(peers: () => PeerService[], ctx: ServiceContext & { ledger: RunLedger }): () => Promise<boolean> {
  let queue: PeerService[] | undefined;
  let done = false;
  return async () => {
    if (done) return false;
    queue ??= peers();
    while (queue.length > 0) {
      const peer = queue.shift() as PeerService;
      const scratch = join(ctx.workspaceRoot, CONTEXTS_DIR, '.peers', `${process.pid}-${sanitizeRepository(peer.project)}${peer.options.variant ? `-${peer.options.variant}` : ''}`);
      const quiet = (line: string) => (ctx.verbose ? ctx.log(`[${peer.project}] ${line}`) : undefined);
      try {
        const dockerfilePath = join(ctx.workspaceRoot, peer.options.dockerfile);
        const dockerfileText = readFileSync(dockerfilePath, 'utf8');
        const stage = readDepsStage(dockerfileText);
        if (stage.kind !== 'deps' || peer.options.noCache) continue;
        const facts = readDockerfileFacts(dockerfileText, peer.options.dockerfile);
        const contextOption = peer.options.context ?? facts.directives['context'] ?? peer.projectRoot;
        const peerCtx = { ...ctx, project: peer.project, projectRoot: peer.projectRoot, settings: peer.settings, log: quiet };
        const base = await resolveBase(peer.options, facts, { ...peerCtx, fromRoot: false });
        const { contextDir } = await serviceContext(peer.options, contextOption, peerCtx, dockerfilePath, scratch);
        const input = { ...depsInput(peer.options, { dockerfileText, dockerfilePath, contextDir, base, facts, project: peer.project }), stage: stage.stage };
        if (await buildDepsForPeer(input, { ...ctx, settings: peer.settings }, peer.project)) return (done = true);
      } catch (error) {
        if (ctx.signal?.aborted) throw error;
        quiet(`not building its dependency image meanwhile: ${(error as Error).message}`);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }
    return false;
  };
}

export function writeReceipt(workspaceRoot: string, projectRoot: string, receipt: ImageReceipt, variant?: string): void {
  writeFileAtomic(join(workspaceRoot, serviceReceiptPath(projectRoot, variant)), JSON.stringify(receipt, null, 2) + '\n');
}

function gitLabels(git: GitInfo): Record<string, string> {
  const source = canonicalSourceUrl(git.remote);
  return {
    ...(git.sha ? { 'org.opencontainers.image.revision': git.sha } : {}),
    ...(source ? { 'org.opencontainers.image.source': source } : {}),
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

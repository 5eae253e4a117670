import { join } from 'node:path';
import { DEPS_CONTEXTS_DIR } from '../constants';
import { depsContextFiles, stageDepsContext } from '../context/deps-context';
import { DockerEngine } from '../engine/docker';
import { type DepsStage, depsRepository, readDepsStage } from '../planning/deps';
import { contentTag, depsContentHash } from '../planning/hash';
import { assertImageName, qualify } from '../planning/image-ref';
import type { ImageReceipt } from '../planning/receipt';
import { MissingSourceError } from '../utils/fs';
import { BuildInputError } from './input-error';
import { tryWithLock, withLock } from './lock';
import type { RunLedger } from './run-ledger';
import { targetPlatform } from './settings';
import type { ImageSettings } from './settings';

/** What the service receipt records about its dependency image (planning/receipt.ts). */
export type DepsRecord = NonNullable<ImageReceipt['deps']>;

export interface DepsContext {
  workspaceRoot: string;
  project: string;
  engine: DockerEngine;
  settings: ImageSettings;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** This run's ledger: a dependency image another task built for this one is claimed there. */
  ledger?: RunLedger;
  /** Work to do instead of sleeping while another task installs this dependency set. */
  whileWaiting?: () => Promise<boolean>;
}

/** What a task that built a dependency image for another task of the run leaves in the ledger. */
interface BuiltForPeer {
  builtBy: string;
  steps?: DepsRecord['steps'];
  digest?: string;
}

export interface DepsPlanInput {
  stage: DepsStage;
  /** Absolute path of the service Dockerfile (the deps image is its `--target <stage>`). */
  dockerfilePath: string;
  dockerfile: string;
  /** The service's build context (staged pruned context or a folder). */
  contextDir: string;
  /** The base it installs on (passed as BASE_IMAGE) and the owner naming the repository. */
  baseRef: string;
  /**
   * What the hash knows of the base: for a shared base its name and content tag (the same with
   * or without a registry, so push mode finds the image built locally), else `baseRef`.
   */
  baseKey?: string;
  owner: string;
  /** Build args of the service build; only those the stage references go in. */
  buildArgs: Record<string, string>;
  /** Other images the caller will inspect next (its layer-cache source): asked about in the same docker call. */
  prefetch?: string[];
}

/** The content-addressed reference of a dependency image, computed from exactly its inputs. */
export function planDeps(input: DepsPlanInput, ctx: Pick<DepsContext, 'settings' | 'engine'>) {
  let files;
  try {
    files = depsContextFiles(input.contextDir, input.stage.contextSources);
  } catch (error) {
    if (error instanceof MissingSourceError) {
      throw new BuildInputError(
        `${input.dockerfile}: stage "${input.stage.stage}" copies "${error.message}" but the build context has no such file — create it or fix that COPY line.`
      );
    }
    throw error;
  }
  const buildArgs = Object.fromEntries(
    Object.entries(input.buildArgs).filter(([key]) => key !== 'BASE_IMAGE' && input.stage.argsUsed.includes(key))
  );
  const hash = depsContentHash({
    instructions: input.stage.instructions,
    globalArgs: input.stage.globalArgs,
    files,
    baseRef: input.baseKey ?? input.baseRef,
    buildArgs,
    // The daemon's platform when none is set: an arm64 and an amd64 machine never share a tag.
    platform: targetPlatform(ctx.settings, ctx.engine),
  });
  const image = qualify(depsRepository(input.owner, ctx.settings.imagePrefix), ctx.settings.registry);
  assertImageName(image, `dependency image name for "${input.owner}"`);
  const tag = contentTag(hash);
  return { image, tag, ref: `${image}:${tag}`, hash, files, buildArgs: { ...buildArgs, BASE_IMAGE: input.baseRef } };
}

/**
 * Makes the dependency image available and says how: found in the local image store, pulled
 * from the registry (never reinstalled), or built once with `--target <deps stage>` from a
 * context holding only the stage's inputs — under a lock per content tag, so services with the
 * same pruned dependency set running in parallel install once.
 */
export async function ensureDeps(input: DepsPlanInput, ctx: DepsContext): Promise<DepsRecord> {
  const plan = planDeps(input, ctx);
  const { engine, settings } = ctx;
  // Already here and nothing to push: no lock (services sharing it do not queue on it).
  if (!settings.push) await engine.prefetchImages([plan.ref, ...(input.prefetch ?? [])]);
  if (!settings.push && (await engine.inspectImage(plan.ref))) {
    return found(plan, ctx, 'reused', 'is in the local image store — not reinstalled.');
  }
  // Push mode and already in the registry: not reinstalled and not pulled either. The service
  // build reads it from the registry only when its `COPY --from=dependencies` is not cached
  // (Docker 20.10: that build pulls it first); an assembled image needs it nowhere.
  if (settings.push && engine.leavesImagesInRegistry) {
    const remote = await engine.remoteState(plan.ref);
    if (remote.state === 'present') {
      engine.leftInRegistry(plan.ref);
      return found(plan, ctx, 'remote', 'is in the registry — not reinstalled, not pulled.', remote.digest);
    }
  }
  return withLock(
    depsLock(ctx, plan.tag),
    async () => {
      if (await engine.inspectImage(plan.ref)) {
        let digest: string | undefined;
        if (settings.push) {
          const remote = await engine.remoteState(plan.ref);
          digest = remote.state === 'present' ? remote.digest : await engine.push(plan.ref, { signal: ctx.signal });
        }
        return found(plan, ctx, 'reused', 'is in the local image store — not reinstalled.', digest);
      }
      if (settings.registry) {
        const remote = await engine.remoteState(plan.ref);
        if (remote.state === 'present' && (await engine.pull(plan.ref, { signal: ctx.signal })) && (await engine.inspectImage(plan.ref))) {
          ctx.log(`Dependency image ${plan.ref} pulled from the registry — not reinstalled.`);
          return { ref: plan.ref, inputHash: plan.hash, outcome: 'pulled', digest: remote.digest };
        }
      }

      // Built earlier without a registry (same inputs, same tag): tag it into the registry's name.
      const unqualified = `${depsRepository(input.owner, settings.imagePrefix)}:${plan.tag}`;
      if (settings.registry && unqualified !== plan.ref && (await engine.inspectImage(unqualified))) {
        await engine.tag(unqualified, plan.ref);
        const digest = settings.push ? await engine.push(plan.ref, { signal: ctx.signal }) : undefined;
        ctx.log(`Dependency image ${plan.ref} is ${unqualified} from the local image store — not reinstalled.`);
        return { ref: plan.ref, inputHash: plan.hash, outcome: 'reused', digest };
      }
      ctx.log(`Building dependency image ${plan.ref} (stage ${input.stage.stage} of ${input.dockerfile}, ${plan.files.length} input files)`);
      return buildDeps(input, plan, ctx);
    },
    { whileWaiting: ctx.whileWaiting }
  );
}

/**
 * Work stealing: builds the dependency image of `peer` (another service of this run) while this
 * task waits for its own set, if nobody has it or is building it. Returns whether it built one;
 * the peer's task then finds the image and claims the build in its receipt (run ledger). Needs a
 * ledger, so that exactly one receipt says the image was built.
 */
export async function buildDepsForPeer(input: DepsPlanInput, ctx: DepsContext & { ledger: RunLedger }, peer: string): Promise<boolean> {
  const plan = planDeps(input, ctx);
  const { engine, settings } = ctx;
  const present = async () =>
    !!(await engine.inspectImage(plan.ref)) || (!!settings.registry && (await engine.remoteState(plan.ref)).state === 'present');
  if (await present()) return false;
  const taken = await tryWithLock(depsLock(ctx, plan.tag), async () => {
    if (await present()) return false;
    ctx.log(`Building dependency image ${plan.ref} for ${peer} while waiting for this service's own (stage ${input.stage.stage} of ${input.dockerfile}, ${plan.files.length} input files)`);
    const built = await buildDeps(input, plan, ctx);
    ctx.ledger.offer<BuiltForPeer>(plan.ref, { builtBy: ctx.project, steps: built.steps, digest: built.digest });
    return true;
  });
  return taken.acquired && taken.value;
}

const depsLock = (ctx: Pick<DepsContext, 'workspaceRoot'>, tag: string) => join(ctx.workspaceRoot, '.nx-docker-delta', 'locks', `deps-${tag}`);

/** A dependency image that is already there: built for this task by another of the run (claimed), or reused. */
function found(plan: ReturnType<typeof planDeps>, ctx: DepsContext, outcome: 'reused' | 'remote', how: string, digest?: string): DepsRecord {
  const peer = ctx.ledger?.claim<BuiltForPeer>(plan.ref);
  if (peer) {
    ctx.log(`Dependency image ${plan.ref} was built for ${ctx.project} by the task of ${peer.builtBy} while it waited — not reinstalled.`);
    return { ref: plan.ref, inputHash: plan.hash, outcome: 'built', digest: digest ?? peer.digest, steps: peer.steps, builtBy: peer.builtBy };
  }
  ctx.log(`Dependency image ${plan.ref} ${how}`);
  return { ref: plan.ref, inputHash: plan.hash, outcome, digest };
}

/** `docker build --target <deps stage>` from a context of only the stage's inputs (pushed in push mode). */
async function buildDeps(input: DepsPlanInput, plan: ReturnType<typeof planDeps>, ctx: DepsContext): Promise<DepsRecord> {
  const { engine, settings } = ctx;
  const dir = stageDepsContext(input.contextDir, plan.files, join(ctx.workspaceRoot, DEPS_CONTEXTS_DIR, plan.tag));
  const built = await engine.build(
    {
      dockerfile: input.dockerfilePath,
      context: dir,
      tags: [plan.ref],
      buildArgs: plan.buildArgs,
      labels: { 'dev.nx-docker-delta.deps': plan.hash },
      target: input.stage.stage,
      platform: settings.platform,
      cacheFrom: [],
      push: settings.push && engine.client.mode === 'buildx',
      // The install is where private registries and git+ssh dependencies are read.
      secrets: settings.secrets,
      ssh: settings.ssh,
      network: settings.network,
    },
    { onLine: ctx.log, signal: ctx.signal, what: `dependency image ${plan.tag}` }
  );
  let digest = built.digest;
  if (settings.push && engine.client.mode !== 'buildx') digest = await engine.push(plan.ref, { signal: ctx.signal });
  const { total, run, cached } = built.stats;
  return { ref: plan.ref, inputHash: plan.hash, outcome: 'built', digest, steps: { total, run, cached } };
}

/**
 * The dependency image of one service build, or undefined when its Dockerfile does not follow
 * the convention (planning/deps.ts) — then the build runs as before, after one printed reason
 * when the file tried to follow it.
 */
export async function dependencyImageFor(
  input: Omit<DepsPlanInput, 'stage'> & { dockerfileText: string; noCache?: boolean },
  ctx: DepsContext
): Promise<DepsRecord | undefined> {
  const found = readDepsStage(input.dockerfileText);
  if (found.kind === 'none') return undefined;
  if (found.kind === 'unsupported') {
    ctx.log(`${input.dockerfile}: no dependency image (${found.reason}) — its dependency stage builds inline.`);
    return undefined;
  }
  if (input.noCache) {
    ctx.log(`${input.dockerfile}: --no-cache builds the dependency stage inline, not from a dependency image.`);
    return undefined;
  }
  return ensureDeps({ ...input, stage: found.stage }, ctx);
}

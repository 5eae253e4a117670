import type { ProjectGraph } from '@nx/devkit';
import { join } from 'node:path';
import type { DockerEngine } from '../engine/docker';
import type { GitInfo } from '../engine/git';
import { ImageReceipt, isReceipt, summaryLine } from '../planning/receipt';
import { serviceContentTag } from '../planning/hash';
import { serviceImageRef } from '../planning/image-ref';
import { BaseSpec, EXECUTORS, baseReceiptPath, serviceReceiptPath } from '../planning/targets';
import { readJsonIfExists } from '../utils/fs';
import { BuildInputError } from './input-error';
import type { RunLedger } from './run-ledger';
import type { ServiceOptions } from './service';
import { resolveBuildInputs, resolveSettings, targetPlatform, usesCommitTags } from './settings';
import type { ImageSettings } from './settings';
import type { SmokeOptions } from './smoke';

export type Availability =
  | { available: true; receipt: ImageReceipt; outcome: ImageReceipt['outcome']; note: string }
  | { available: false; note: string };

/**
 * Is the image a (possibly cache-restored) receipt names really usable here? The receipt must
 * name the reference `expected` (recomputed from today's settings and content hash); pushed
 * images must be in the registry under their content tag with the receipt's digest; local ones
 * in the image store, or pullable by the digest the receipt recorded. Never trusts the receipt alone.
 */
export async function checkAvailability(
  receipt: ImageReceipt,
  engine: DockerEngine,
  settings: ImageSettings,
  expected?: { ref: string }
): Promise<Availability> {
  // A receipt restored from a (remote) cache must name what today's settings and inputs make.
  if (expected && receipt.ref !== expected.ref) {
    return { available: false, note: `the receipt names ${receipt.ref}, but today's settings and inputs make ${expected.ref}` };
  }
  if (settings.push) {
    const remote = await engine.remoteState(receipt.ref);
    if (remote.state === 'present' && receipt.digest && remote.digest && remote.digest !== receipt.digest) {
      return { available: false, note: `the registry serves ${remote.digest} under ${receipt.ref}, not ${receipt.digest} as the receipt says` };
    }
    if (remote.state === 'present') {
      return { available: true, receipt: { ...receipt, digest: remote.digest ?? receipt.digest }, outcome: 'reused', note: `${receipt.ref} is in the registry` };
    }
    // Only the very image the receipt names may go back: never whatever the local tag is now.
    const local = await engine.inspectImage(receipt.imageId);
    if (local) {
      await engine.tag(receipt.imageId, receipt.ref);
      const digest = await engine.push(receipt.ref);
      return {
        available: true,
        receipt: { ...receipt, digest, pushed: true, outcome: 'pushed' },
        outcome: 'pushed',
        note: `${receipt.ref} was missing from the registry; the local image ${shortId(receipt.imageId)} it names was pushed again`,
      };
    }
    return { available: false, note: `${receipt.ref} is neither in the registry nor (as image ${shortId(receipt.imageId)}) in the local image store` };
  }
  const local = await engine.inspectImage(receipt.ref);
  if (local) {
    return { available: true, receipt: { ...receipt, imageId: local.id }, outcome: 'reused', note: `${receipt.ref} is in the local image store` };
  }
  if (receipt.digest) {
    const byDigest = `${receipt.image}@${receipt.digest}`;
    if (await engine.pull(byDigest)) {
      await engine.tag(byDigest, receipt.ref);
      const pulled = await engine.inspectImage(receipt.ref);
      if (pulled) {
        return { available: true, receipt: { ...receipt, imageId: pulled.id, outcome: 'pulled' }, outcome: 'pulled', note: `${receipt.ref} was pulled by digest ${receipt.digest}` };
      }
    }
  }
  return { available: false, note: `${receipt.ref} is not in the local image store${receipt.digest ? ' and could not be pulled by digest' : ''}` };
}

/** `pointTags` for a service receipt: the tags it lists become today's configured tags. */
export async function applyTags(receipt: ImageReceipt, settings: ImageSettings, engine: DockerEngine): Promise<ImageReceipt> {
  const contentTag = receipt.ref.slice(receipt.image.length + 1);
  const tags = await (await tags_()).pointTags({ image: receipt.image, contentTag, imageId: receipt.imageId, digest: receipt.digest }, settings.tags, {
    engine,
    push: settings.push,
  });
  return { ...receipt, tags };
}

function shortId(imageId: string): string {
  return imageId.replace(/^sha256:/, '').slice(0, 12);
}

/** The reference a service's receipt must name today: its settings, image name and content tag (platform included). */
function expectedServiceRef(input: { project: string; image?: string; variant?: string; settings: ImageSettings; inputHash: string; platform: string | undefined }): { image: string; ref: string } {
  const contentTag = serviceContentTag(input.inputHash, input.platform);
  return serviceImageRef({ ...input.settings, project: input.project, image: input.image, variant: input.variant, contentTag });
}

/** One target docker-build guards, as Nx resolved it (options merged with its configuration and the command line). */
export interface GuardedTarget {
  name: string;
  executor?: string;
  options: Record<string, unknown>;
  /** The Nx hash of that task in this run, when Nx computed one. */
  taskHash?: string;
}

export interface VerifyContext {
  workspaceRoot: string;
  project: string;
  projectRoot: string;
  /** HEAD and origin of the workspace, read only when needed (`{sha}` tags, a rebuild). */
  git: () => Promise<GitInfo>;
  /** The docker engine for a target's settings (one probe per machine state, engine/probe-cache.ts). */
  engineFor: (settings: ImageSettings) => Promise<DockerEngine>;
  /** Images earlier tasks of this nx invocation verified. */
  ledger?: RunLedger;
  /** Only needed to rebuild (pruned contexts): read lazily. */
  projectGraph: () => ProjectGraph;
  bases: Array<{ spec: BaseSpec; project: string }>;
  env: NodeJS.ProcessEnv;
  /** The executor's own name, for error messages (`docker-build`). */
  targetName: string;
  smoke?: SmokeOptions & { smoke?: boolean };
  /** Progress lines (streamed). */
  log: (line: string) => void;
  /** The one line per image that says what docker-build found. */
  report: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * docker-build's work: for every guarded target, make sure the image its receipt names is
 * really available — nothing to do when a task of this same run built and checked it, else
 * checked in the registry or image store, restored by digest, or rebuilt — then point the
 * configured tags at it and optionally start it once. A cache hit therefore never claims a
 * missing image.
 */
export async function verifyTargets(targets: GuardedTarget[], ctx: VerifyContext): Promise<void> {
  const { project, workspaceRoot, log, signal } = ctx;
  const smoke = async (ref: string, engine: () => Promise<DockerEngine>) => {
    if (ctx.smoke?.smoke) await (await smoke_()).checkStart(ref, { ...ctx.smoke, project, engine: await engine(), log, signal });
  };
  for (const target of targets) {
    const git = usesCommitTags(target.options, ctx.env) ? await ctx.git() : {};
    const settings = resolveSettings(target.options, ctx.env, git);
    if (target.executor === EXECUTORS.base) {
      for (const spec of target.options.bases as BaseSpec[]) {
        const receipt = readJsonIfExists(join(workspaceRoot, baseReceiptPath(spec.name)));
        if (!isReceipt(receipt)) throw new BuildInputError(`No receipt for base ${spec.name} — run nx run ${project}:${target.name}.`);
        ctx.report(`✔ base ${spec.name}: ${receipt.outcome} → ${receipt.ref}`);
      }
      continue;
    }
    if (target.executor !== EXECUTORS.service) continue;
    const variant = target.options.variant as string | undefined;
    const receiptPath = serviceReceiptPath(ctx.projectRoot, variant);
    const receipt = readJsonIfExists(join(workspaceRoot, receiptPath));
    if (!isReceipt(receipt)) throw new BuildInputError(`No receipt at ${receiptPath} — run nx run ${project}:${target.name} first.`);
    const inputHash = target.taskHash ?? receipt.inputHash;
    const expectedRef = (platform: string | undefined) =>
      expectedServiceRef({ project, image: target.options.image as string | undefined, variant, settings, inputHash, platform }).ref;
    let engine: DockerEngine | undefined;
    const engineNow = async () => (engine ??= await ctx.engineFor(settings));
    // Built and inspected by docker-service moments ago, in this same nx invocation: nothing to
    // check, and no engine to start. The ledger's entry was written on this machine, for this
    // daemon, so the platform that task resolved is this engine's (settings.platform wins).
    const seen = ctx.ledger?.get(receipt.ref);
    if (
      seen?.imageId === receipt.imageId &&
      (seen.pushed || !settings.push) &&
      settings.tags.every((t) => receipt.tags.includes(t)) &&
      receipt.ref === expectedRef(settings.platform ?? receipt.platform)
    ) {
      ctx.report(`✔ ${project}: ${receipt.ref} was built and checked earlier in this run (${describeOutcome(receipt)})`);
      await smoke(receipt.ref, engineNow);
      continue;
    }
    const expected = { ref: expectedRef(targetPlatform(settings, await engineNow())) };
    const availability = await checkAvailability(receipt, await engineNow(), settings, expected);
    if (!availability.available) {
      log(`${project}: ${availability.note} — rebuilding it.`);
      const { buildService } = await service();
      const rebuilt = await buildService(target.options as unknown as ServiceOptions, {
        workspaceRoot,
        project,
        projectRoot: ctx.projectRoot,
        projectGraph: ctx.projectGraph(),
        engine: await engineNow(),
        // Secrets are read only now: checking an image needs no token, rebuilding it may.
        settings: { ...settings, ...resolveBuildInputs(target.options, ctx.env, workspaceRoot) },
        bases: ctx.bases,
        inputHash,
        log,
        signal,
        git: await ctx.git(),
        outcome: 'rebuilt',
      });
      ctx.report(`✔ ${summaryLine(rebuilt, project)}`);
      await smoke(rebuilt.ref, engineNow);
      continue;
    }
    // Tags that move with the commit ({shortSha}) or were added since: point them at the verified image.
    const tagged = await applyTags(availability.receipt, settings, await engineNow());
    await pointBaseLatest(tagged, settings, await engineNow(), ctx.ledger);
    const changed = tagged.imageId !== receipt.imageId || tagged.digest !== receipt.digest || tagged.tags.join() !== receipt.tags.join();
    // A restored receipt is corrected to what is really there; a fresh one keeps its outcome.
    if (availability.outcome !== 'reused') (await service()).writeReceipt(workspaceRoot, ctx.projectRoot, tagged, variant);
    else if (changed) (await service()).writeReceipt(workspaceRoot, ctx.projectRoot, { ...tagged, outcome: 'reused' }, variant);
    ctx.report(`✔ ${project}: ${availability.note} (${describeOutcome(receipt)})`);
    await smoke(tagged.ref, engineNow);
  }
}

/**
 * Push mode: the base a verified (restored) service receipt names gets its `latest` back in the
 * registry, as docker-base would — a service does not wait for docker-base, so after a revert
 * that is an Nx cache hit nothing else moves the base's `latest` back. A tag that already serves
 * the digest is left alone (one HEAD request).
 */
async function pointBaseLatest(receipt: ImageReceipt, settings: ImageSettings, engine: DockerEngine, ledger: RunLedger | undefined): Promise<void> {
  if (!settings.push || !receipt.base) return;
  const ref = receipt.base.ref;
  // Checked and pushed by a task of this run (docker-base, or another service's ensureBase), which
  // pointed `latest` then: the services of a run-many sharing one base ask the registry once.
  if (ledger?.get(ref)?.pushed) return;
  const colon = ref.lastIndexOf(':');
  const remote = await engine.remoteImage(ref);
  if (remote.state !== 'present' || !remote.imageId) return;
  await (await tags_()).pointTags({ image: ref.slice(0, colon), contentTag: ref.slice(colon + 1), imageId: remote.imageId, digest: remote.digest }, ['latest'], { engine, push: true });
  ledger?.record(ref, { imageId: remote.imageId, pushed: true, digest: remote.digest });
}

/**
 * The service build, loaded only when an image must be rebuilt or its receipt corrected: the
 * common docker-build — right after the docker-service of the same run — needs neither, and
 * loading it (Dockerfile parser, context staging) is most of what that process would cost.
 */
async function service(): Promise<typeof import('./service')> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./service') as typeof import('./service');
}

/** Tag moves and the start check talk to Docker: loaded when there is one to make. */
async function tags_(): Promise<typeof import('./tags')> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./tags') as typeof import('./tags');
}

async function smoke_(): Promise<typeof import('./smoke')> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./smoke') as typeof import('./smoke');
}

function describeOutcome(receipt: { outcome: string; steps: { run: number; cached: number }; assembled?: { local?: true } }): string {
  if (receipt.outcome !== 'built' && receipt.outcome !== 'rebuilt') return receipt.outcome;
  return receipt.assembled ? `assembled ${receipt.assembled.local ? 'locally' : 'in the registry'}` : `built: ${receipt.steps.run} run, ${receipt.steps.cached} cached`;
}

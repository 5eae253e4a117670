import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECEIPT_SCHEMA_VERSION } from '../constants';
import { DockerEngine } from '../engine/docker';
import { readDockerfileFacts } from '../planning/dockerfile';
import { baseContentHash, contentTag } from '../planning/hash';
import { assertImageName, qualify } from '../planning/image-ref';
import { ImageReceipt, receiptStillTrue, summaryLine } from '../planning/receipt';
import { BaseSpec, baseReceiptPath, baseRepository } from '../planning/targets';
import { DigestMemo, hashContextSources, MissingSourceError, readJsonIfExists, writeFileAtomic } from '../utils/fs';
import { layerCache } from './cache';
import { withLock } from './lock';
import { pointTags } from './tags';
import type { RunLedger } from './run-ledger';
import { targetPlatform } from './settings';
import type { ImageSettings } from './settings';
import { BuildInputError } from './input-error';

/**
 * One lock per content tag and docker daemon, machine-wide: two checkouts of a repository that
 * share a daemon and registry then build (and push) a base once; the second finds it built.
 */
export function baseLockPath(ref: string, dockerHost = process.env.DOCKER_HOST ?? ''): string {
  const key = createHash('sha256').update(`${dockerHost}\0${ref}`).digest('hex').slice(0, 32);
  return join(tmpdir(), 'nx-docker-delta-locks', key);
}

export interface BaseContext {
  workspaceRoot: string;
  project: string;
  engine: DockerEngine;
  settings: ImageSettings;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Images an earlier task of this nx invocation already verified (docker-base before its services). */
  ledger?: RunLedger;
}

/** The content-addressed reference of a base, computed from exactly its inputs. */
export function planBase(spec: BaseSpec, ctx: Pick<BaseContext, 'workspaceRoot' | 'settings'> & { platform?: string; digests?: DigestMemo }) {
  const dockerfilePath = join(ctx.workspaceRoot, spec.dockerfile);
  if (!existsSync(dockerfilePath)) {
    throw new BuildInputError(`Base Dockerfile ${spec.dockerfile} does not exist — restore it or remove the base "${spec.name}".`);
  }
  const text = readFileSync(dockerfilePath, 'utf8');
  const facts = readDockerfileFacts(text, spec.dockerfile);
  const contextDir = join(ctx.workspaceRoot, spec.context);
  const files = facts.contextSources.flatMap(({ source, line }) => {
    try {
      return hashContextSources(contextDir, [source], { dockerfilePath, workspaceRoot: ctx.workspaceRoot, digests: ctx.digests });
    } catch (error) {
      if (error instanceof MissingSourceError) {
        throw new BuildInputError(
          `${spec.dockerfile}:${line} copies "${source}" but ${spec.context === '.' ? '' : `${spec.context}/`}${source} does not exist — create it or fix that COPY line.`
        );
      }
      throw error;
    }
  });
  const buildArgs = spec.buildArgs ?? {};
  const hash = baseContentHash({ dockerfileText: text, files, buildArgs, target: spec.target, platform: ctx.platform ?? ctx.settings.platform });
  const image = qualify(baseRepository(spec.name, ctx.settings.imagePrefix), ctx.settings.registry);
  assertImageName(image, `base image name for "${spec.name}"`);
  const tag = contentTag(hash);
  return { image, tag, ref: `${image}:${tag}`, hash, dockerfilePath, contextDir, buildArgs };
}

/**
 * Makes the base available and returns its receipt: reused when the content-addressed tag is
 * already in the local image store (or the registry), otherwise built once — under a lock, so
 * parallel services waiting for the same base never build it twice.
 */
export async function ensureBase(spec: BaseSpec, ctx: BaseContext): Promise<ImageReceipt> {
  // Every service of the run plans its base again: the files it copies are read once per run.
  const digests = ctx.ledger?.digestMemo();
  const plan = planBase(spec, { ...ctx, platform: targetPlatform(ctx.settings, ctx.engine), digests });
  digests?.save();
  const seen = ctx.ledger?.get(plan.ref);
  // In push mode an entry may say only "in the registry" (another task checked it there): enough
  // where a build reads it from the registry or pulls it first, not for podman, which builds from
  // its own store only — there the base is pulled below.
  if (seen && (ctx.settings.push ? seen.pushed && ctx.engine.leavesImagesInRegistry : true)) {
    const current = readJsonIfExists(join(ctx.workspaceRoot, baseReceiptPath(spec.name)));
    if (receiptStillTrue(current, { ref: plan.ref, imageId: seen.imageId, pushed: ctx.settings.push, digest: seen.digest })) {
      // Verified in the registry by another task, maybe never pulled: a build here that reads it
      // pulls it first where BuildKit must not fetch it (Docker 20.10, engine.pullForBuild).
      if (ctx.settings.push) ctx.engine.leftInRegistry(plan.ref);
      ctx.log(`Base ${spec.name} was verified earlier in this run (${plan.ref}) — not checked again.`);
      return current;
    }
  }
  // The common case — the base is already here, nothing to push — needs no lock: parallel
  // services would otherwise queue on it one image inspect (and one lock poll) at a time.
  if (!ctx.settings.push) {
    const present = await ctx.engine.inspectImage(plan.ref);
    const current = present && readJsonIfExists(join(ctx.workspaceRoot, baseReceiptPath(spec.name)));
    if (present && receiptStillTrue(current, { ref: plan.ref, imageId: present.id, pushed: false, digest: undefined })) {
      ctx.log(`Base ${spec.name} is up to date (${plan.ref} is in the local image store) — not rebuilt.`);
      ctx.ledger?.record(plan.ref, { imageId: current.imageId, pushed: current.pushed, digest: current.digest });
      return current;
    }
  }
  const started = Date.now();
  const receipt = (partial: Partial<ImageReceipt> & Pick<ImageReceipt, 'imageId' | 'outcome' | 'sizeBytes'>): ImageReceipt => ({
    schemaVersion: RECEIPT_SCHEMA_VERSION,
    kind: 'base',
    project: ctx.project,
    name: spec.name,
    image: plan.image,
    ref: plan.ref,
    tags: [plan.tag, 'latest'],
    pushed: ctx.settings.push,
    inputHash: plan.hash,
    steps: { total: 0, run: 0, cached: 0 },
    durationMs: Date.now() - started,
    builder: ctx.engine.client.mode,
    platform: targetPlatform(ctx.settings, ctx.engine),
    ...partial,
  });
  // Push mode and already in the registry: nothing to build, push or pull. A later build FROM
  // it reads it from the registry itself, and only if a step that is not cached needs it
  // (Docker 20.10: that build pulls it first); the registry-side assembly of a service image
  // needs no local image at all.
  if (ctx.settings.push && ctx.engine.leavesImagesInRegistry) {
    const remote = await ctx.engine.remoteImage(plan.ref);
    if (remote.state === 'present' && remote.imageId) {
      ctx.engine.leftInRegistry(plan.ref);
      // `latest` follows this commit's base in the registry, and in the local store when the
      // image is there too (its ID is the manifest's config digest): a revert moves both back.
      await pointTags({ image: plan.image, contentTag: plan.tag, imageId: remote.imageId, digest: remote.digest }, ['latest'], { engine: ctx.engine, push: true });
      ctx.log(`Base ${spec.name} is in the registry (${plan.ref}) — not rebuilt, not pulled.`);
      const current = readJsonIfExists(join(ctx.workspaceRoot, baseReceiptPath(spec.name)));
      const result = receiptStillTrue(current, { ref: plan.ref, imageId: remote.imageId, pushed: true, digest: remote.digest })
        ? current
        : write(receipt({ imageId: remote.imageId, digest: remote.digest, outcome: 'remote', sizeBytes: 0 }));
      ctx.ledger?.record(plan.ref, { imageId: result.imageId, pushed: true, digest: result.digest });
      return result;
    }
  }
  const result = await withLock(baseLockPath(plan.ref), async () => {
    const { engine, settings } = ctx;

    let local = await engine.inspectImage(plan.ref);
    if (local) {
      let digest: string | undefined;
      if (settings.push) {
        const remote = await engine.remoteState(plan.ref);
        digest = remote.state === 'present' ? remote.digest : await engine.push(plan.ref, { signal: ctx.signal });
      }
      // `latest` follows this commit's base even when nothing was built (a revert moves it back).
      await pointTags({ image: plan.image, contentTag: plan.tag, imageId: local.id, digest }, ['latest'], { engine, push: settings.push });
      ctx.log(`Base ${spec.name} is up to date (${plan.ref} is in the local image store) — not rebuilt.`);
      const current = readJsonIfExists(join(ctx.workspaceRoot, baseReceiptPath(spec.name)));
      if (receiptStillTrue(current, { ref: plan.ref, imageId: local.id, pushed: settings.push, digest })) return current;
      return write(receipt({ imageId: local.id, outcome: 'reused', sizeBytes: local.size, digest }));
    }
    if (settings.registry) {
      // Without push, a registry that cannot be asked only costs the pull: build here instead.
      const remote = await engine.remoteState(plan.ref, { optional: !settings.push });
      if (remote.state === 'unknown') ctx.log(`${remote.reason.replace(/\.$/, '')}; building base ${spec.name} here instead.`);
      if (remote.state === 'present' && (await engine.pull(plan.ref, { signal: ctx.signal }))) {
        local = await engine.inspectImage(plan.ref);
        if (local) {
          await pointTags({ image: plan.image, contentTag: plan.tag, imageId: local.id, digest: remote.digest }, ['latest'], {
            engine,
            push: settings.push,
          });
          ctx.log(`Base ${spec.name} pulled from the registry (${plan.ref}) — not rebuilt.`);
          return write(receipt({ imageId: local.id, outcome: 'pulled', sizeBytes: local.size, digest: remote.digest }));
        }
      }
    }

    ctx.log(`Building base ${spec.name} → ${plan.ref}`);
    const { cacheFrom, cacheTo } = await layerCache(engine, settings, {
      image: plan.image,
      repository: baseRepository(spec.name, settings.imagePrefix),
    });
    const built = await engine.build(
      {
        dockerfile: plan.dockerfilePath,
        context: plan.contextDir,
        tags: [plan.ref, `${plan.image}:latest`],
        buildArgs: plan.buildArgs,
        labels: { 'dev.nx-docker-delta.base': spec.name, 'dev.nx-docker-delta.inputs': plan.hash },
        target: spec.target,
        platform: settings.platform,
        cacheFrom,
        cacheTo,
        push: settings.push && engine.client.mode === 'buildx',
        secrets: settings.secrets,
        ssh: settings.ssh,
        network: settings.network,
      },
      { onLine: ctx.log, signal: ctx.signal, what: `base ${spec.name}` }
    );
    let digest = built.digest;
    if (settings.push && engine.client.mode !== 'buildx') {
      digest = await engine.push(plan.ref, { signal: ctx.signal });
      await engine.push(`${plan.image}:latest`, { signal: ctx.signal });
    }
    const info = await engine.inspectImage(plan.ref);
    const result = write(
      receipt({
        imageId: built.imageId,
        outcome: 'built',
        sizeBytes: info?.size ?? 0,
        digest,
        steps: { total: built.stats.total, run: built.stats.run, cached: built.stats.cached },
        durationMs: Date.now() - started,
      })
    );
    ctx.log(summaryLine(result, `base ${spec.name}`));
    return result;
  }, { onWait: () => ctx.log(`Waiting for base ${spec.name} (${plan.ref}): another build holds its lock.`) });
  ctx.ledger?.record(plan.ref, { imageId: result.imageId, pushed: result.pushed, digest: result.digest });
  return result;

  function write(receipt: ImageReceipt): ImageReceipt {
    writeFileAtomic(join(ctx.workspaceRoot, baseReceiptPath(spec.name)), JSON.stringify(receipt, null, 2) + '\n');
    return receipt;
  }
}

import { DockerEngine, DockerError } from '../engine/docker';
import { ImageReceipt } from '../planning/receipt';
import { serviceContentTag } from '../planning/hash';
import { serviceImageRef } from '../planning/image-ref';
import { targetPlatform } from './settings';
import type { ImageSettings } from './settings';

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

/** The image a receipt names, as far as tagging it needs. */
export interface TagTarget {
  /** Repository, registry-qualified in push mode. */
  image: string;
  /** The content tag: never moved. */
  contentTag: string;
  imageId: string;
  /** Registry digest (push mode). */
  digest?: string;
}

/**
 * Points every configured tag at the image a receipt names, on every run — cache hit or not —
 * so a moving tag (`latest`, `staging`, `git-…`) follows the commit, and reverting a commit
 * moves it back. Locally `docker tag <imageId>` when the image is in the store (cheap); in push
 * mode the registry tag is made to serve the receipt's digest, and checked. Returns the tags
 * the receipt should list (content tag first).
 */
export async function pointTags(target: TagTarget, tags: string[], ctx: { engine: DockerEngine; push: boolean }): Promise<string[]> {
  const { engine } = ctx;
  const moving = [...new Set(tags)].filter((tag) => tag !== target.contentTag);
  const local = await engine.inspectImage(target.imageId);
  for (const tag of moving) {
    const ref = `${target.image}:${tag}`;
    if (local) await engine.tag(target.imageId, ref);
    if (!ctx.push) continue;
    const { digest, via } = await engine.pointRegistryTag({ image: target.image, tag, digest: target.digest, imageId: target.imageId });
    // A docker push (registries wanting credentials) may compress the same image anew: its
    // identity is the image ID there. The registry API moves the very manifest: check it.
    if (via === 'registry' && target.digest && digest !== target.digest) {
      throw new DockerError(
        `${ref} serves ${digest} after tagging, not ${target.digest} as the receipt says — run again with --skip-nx-cache to rebuild and push it.`
      );
    }
  }
  return [target.contentTag, ...moving];
}

/** `pointTags` for a service receipt: the tags it lists become today's configured tags. */
export async function applyTags(receipt: ImageReceipt, settings: ImageSettings, engine: DockerEngine): Promise<ImageReceipt> {
  const contentTag = receipt.ref.slice(receipt.image.length + 1);
  const tags = await pointTags({ image: receipt.image, contentTag, imageId: receipt.imageId, digest: receipt.digest }, settings.tags, {
    engine,
    push: settings.push,
  });
  return { ...receipt, tags };
}

function shortId(imageId: string): string {
  return imageId.replace(/^sha256:/, '').slice(0, 12);
}

/** The reference a service's receipt must name today: its settings, image name and content tag (platform included). */
export function expectedServiceRef(input: {
  project: string;
  image?: string;
  variant?: string;
  settings: ImageSettings;
  inputHash: string;
  engine: DockerEngine;
}): { image: string; ref: string } {
  const contentTag = serviceContentTag(input.inputHash, targetPlatform(input.settings, input.engine));
  return serviceImageRef({ ...input.settings, project: input.project, image: input.image, variant: input.variant, contentTag });
}

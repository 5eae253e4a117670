import { DockerEngine } from '../engine/docker';
import { ImageReceipt } from '../planning/receipt';
import type { ImageSettings } from './settings';

export type Availability =
  | { available: true; receipt: ImageReceipt; outcome: ImageReceipt['outcome']; note: string }
  | { available: false; note: string };

/**
 * Is the image a (possibly cache-restored) receipt names really usable here? Pushed images
 * must be in the registry under their content tag; local ones in the image store, or pullable
 * by the digest the receipt recorded. Never trusts the receipt alone.
 */
export async function checkAvailability(receipt: ImageReceipt, engine: DockerEngine, settings: ImageSettings): Promise<Availability> {
  if (settings.push) {
    const remote = await engine.remoteState(receipt.ref);
    if (remote.state === 'present') {
      return { available: true, receipt: { ...receipt, digest: remote.digest ?? receipt.digest }, outcome: 'reused', note: `${receipt.ref} is in the registry` };
    }
    const local = await engine.inspectImage(receipt.ref);
    if (local) {
      const digest = await engine.push(receipt.ref);
      for (const tag of receipt.tags.slice(1)) await engine.push(`${receipt.image}:${tag}`).catch(() => undefined);
      return { available: true, receipt: { ...receipt, imageId: local.id, digest, pushed: true, outcome: 'pushed' }, outcome: 'pushed', note: `${receipt.ref} was missing from the registry and was pushed again` };
    }
    return { available: false, note: `${receipt.ref} is neither in the registry nor in the local image store` };
  }
  const local = await engine.inspectImage(receipt.ref);
  if (local) {
    return { available: true, receipt: { ...receipt, imageId: local.id }, outcome: 'reused', note: `${receipt.ref} is in the local image store` };
  }
  if (receipt.digest) {
    const byDigest = `${receipt.image}@${receipt.digest}`;
    if (await engine.pull(byDigest)) {
      await engine.tag(byDigest, receipt.ref);
      for (const tag of receipt.tags.slice(1)) await engine.tag(byDigest, `${receipt.image}:${tag}`);
      const pulled = await engine.inspectImage(receipt.ref);
      if (pulled) {
        return { available: true, receipt: { ...receipt, imageId: pulled.id, outcome: 'pulled' }, outcome: 'pulled', note: `${receipt.ref} was pulled by digest ${receipt.digest}` };
      }
    }
  }
  return { available: false, note: `${receipt.ref} is not in the local image store${receipt.digest ? ' and could not be pulled by digest' : ''}` };
}

/** Points every configured tag missing from the receipt at the verified image (and pushes it in push mode). */
export async function applyTags(receipt: ImageReceipt, settings: ImageSettings, engine: DockerEngine): Promise<ImageReceipt> {
  const missing = settings.tags.filter((tag) => !receipt.tags.includes(tag));
  if (missing.length === 0) return receipt;
  for (const tag of missing) {
    const ref = `${receipt.image}:${tag}`;
    if (!(await engine.inspectImage(receipt.ref))) await engine.pull(receipt.ref);
    await engine.tag(receipt.ref, ref);
    if (settings.push) await engine.push(ref);
  }
  return { ...receipt, tags: [...receipt.tags, ...missing] };
}

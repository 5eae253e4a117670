import { DockerEngine, DockerError } from '../engine/docker';

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
  const local = moving.length > 0 && (await engine.inspectImage(target.imageId));
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

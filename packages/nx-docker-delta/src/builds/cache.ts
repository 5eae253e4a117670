import type { DockerEngine } from '../engine/docker';
import { baseSource } from '../planning/build-plan';
import { qualify } from '../planning/image-ref';
import type { ImageSettings } from './settings';

/**
 * Where a build imports layer cache from, and exports it to.
 * - The previous image (`<image>:latest`) carries inline cache metadata: importing it keeps the
 *   unchanged layers CACHED after Docker's build-cache GC, a `docker builder prune`, or on a fresh
 *   CI machine (from the registry). Only sources that exist are passed — a missing one makes
 *   BuildKit try Docker Hub.
 * - buildx with a docker-container builder reads cache from registries only, so a local-only
 *   previous image is no source there; a configured cache registry adds `<cacheRegistry>/<repository>:buildcache` (import + export, mode=max).
 */
export async function layerCache(
  engine: DockerEngine,
  settings: ImageSettings,
  target: { image: string; repository: string }
): Promise<{ cacheFrom: string[]; cacheTo?: string }> {
  // podman reads --cache-from as a repository of per-step cache images, not an image with inline cache.
  if (engine.client.mode === 'podman') return { cacheFrom: [] };
  const buildx = engine.client.mode === 'buildx';
  const cacheTo = buildx && settings.cacheRegistry ? `${qualify(target.repository, settings.cacheRegistry)}:buildcache` : undefined;
  const cacheFrom = cacheTo ? [cacheTo] : [];
  const previous = `${target.image}:latest`;
  const inRegistry = settings.registry !== undefined && (await engine.remoteState(previous, { optional: true })).state === 'present';
  // BuildKit inside the daemon (classic, and buildx's docker driver) also imports inline cache
  // from the local image store (moby's local inline-cache importer looks there before the
  // registry): no registry, nothing pushed yet, or the registry lost it.
  const seesLocalStore = baseSource(engine.client, { push: false }).kind === 'local-store';
  if (inRegistry || (seesLocalStore && (await engine.inspectImage(previous)))) cacheFrom.push(previous);
  return { cacheFrom, cacheTo };
}

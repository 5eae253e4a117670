import type { UpstreamPin } from '../planning/upstream-pins';
import { DockerEngine, DockerError } from './docker';
import { parseImageRef } from '../planning/image-ref';

/**
 * What `image:tag` points to now. In order: the registry's manifest digest over HTTP (no pull);
 * else `docker pull` (the client's credentials, Docker Hub names) and the RepoDigest it reports;
 * else the local store — a RepoDigest if the image came from a registry, its image ID if it was
 * built or imported here.
 */
export async function resolveUpstream(engine: DockerEngine, name: string): Promise<UpstreamPin> {
  const { registry, repository } = parseImageRef(name);
  if (registry) {
    const state = await engine.registry.headManifest(name).catch(() => undefined);
    if (state?.state === 'present' && state.digest) return { source: 'registry', digest: state.digest };
  }
  await engine.pull(name);
  const info = await engine.inspectImage(name);
  if (!info) {
    throw new DockerError(`Cannot resolve upstream image ${name}: no registry serves it and it is not in the local image store — fix the FROM line or pull/build the image first.`);
  }
  const repo = registry ? `${registry}/${repository}` : repository;
  const names = new Set([repo, `docker.io/${repo}`, `docker.io/library/${repo}`]);
  // Without a successful pull a RepoDigest may be stale (the tag moved since it was pulled), but
  // it is still a pullable, verifiable pin of what this machine builds from.
  const digest = info.repoDigests.map((d) => d.split('@')).find(([n]) => names.has(n))?.[1];
  return digest ? { source: 'registry', digest } : { source: 'local', imageId: info.id };
}

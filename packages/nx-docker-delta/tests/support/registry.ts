/**
 * The local OCI registry the Docker suites push to (tools/docker-env/ensure-registry.sh runs
 * it with deletes enabled). Talks the registry HTTP API directly, so a test can check what is
 * really there and delete manifests to simulate a wiped registry.
 */
import { createServer } from 'node:net';

/** `host:port` of the test registry. */
export const REGISTRY = process.env.NXDD_TEST_REGISTRY || '127.0.0.1:5000';

const ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

const base = () => `http://${REGISTRY}/v2`;

/** Why the registry cannot be used, or undefined when `GET /v2/` answers 200. */
export async function registryProblem(): Promise<string | undefined> {
  try {
    const response = await fetch(`${base()}/`, { signal: AbortSignal.timeout(5000) });
    return response.status === 200 ? undefined : `registry ${REGISTRY} answered GET /v2/ with HTTP ${response.status}`;
  } catch (error) {
    return `registry ${REGISTRY} is not reachable (${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message})`;
  }
}

/**
 * `repository` is the path inside the registry (`ns/ns/svc-a`), `reference` a tag or digest.
 * Returns the manifest digest the registry serves, or undefined on 404.
 */
export async function manifestDigest(repository: string, reference: string): Promise<string | undefined> {
  const response = await fetch(`${base()}/${repository}/manifests/${reference}`, { method: 'HEAD', headers: { Accept: ACCEPT } });
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`HEAD ${repository}:${reference} answered HTTP ${response.status}`);
  const digest = response.headers.get('docker-content-digest');
  if (!digest) throw new Error(`HEAD ${repository}:${reference} sent no Docker-Content-Digest`);
  return digest;
}

/** Deletes the manifest a tag points to (every tag on that manifest goes with it). */
export async function deleteManifest(repository: string, tag: string): Promise<void> {
  const digest = await manifestDigest(repository, tag);
  if (!digest) throw new Error(`${repository}:${tag} is not in the registry, nothing to delete`);
  const response = await fetch(`${base()}/${repository}/manifests/${digest}`, { method: 'DELETE' });
  if (response.status !== 202) throw new Error(`DELETE ${repository}@${digest} answered HTTP ${response.status} (are deletes enabled?)`);
}

export async function listTags(repository: string): Promise<string[]> {
  const response = await fetch(`${base()}/${repository}/tags/list`);
  if (response.status === 404) return [];
  const body = (await response.json()) as { tags?: string[] | null };
  return (body.tags ?? []).sort();
}

/** Every repository the registry lists (the catalog is paged; follows its `Link: <…>; rel="next"`). */
export async function catalog(): Promise<string[]> {
  const repositories: string[] = [];
  let next: string | undefined = `/v2/_catalog?n=100`;
  while (next) {
    const response = await fetch(`http://${REGISTRY}${next}`);
    if (response.status !== 200) throw new Error(`GET ${next} answered HTTP ${response.status}`);
    repositories.push(...(((await response.json()) as { repositories?: string[] }).repositories ?? []));
    next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get('link') ?? '')?.[1];
  }
  return repositories;
}

/** Deletes every manifest of every repository under `prefix/` (suite cleanup). */
export async function deleteRepositoriesUnder(prefix: string): Promise<void> {
  for (const repository of (await catalog()).filter((r) => r.startsWith(`${prefix}/`))) {
    const digests = new Set<string>();
    for (const tag of await listTags(repository)) {
      const digest = await manifestDigest(repository, tag);
      if (digest) digests.add(digest);
    }
    for (const digest of digests) {
      const response = await fetch(`${base()}/${repository}/manifests/${digest}`, { method: 'DELETE' });
      if (response.status !== 202) throw new Error(`DELETE ${repository}@${digest} answered HTTP ${response.status}`);
    }
  }
}

/** A loopback port nothing listens on (bound, then released). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

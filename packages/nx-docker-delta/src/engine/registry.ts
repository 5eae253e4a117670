import { parseImageRef } from '../planning/image-ref';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export type ManifestState =
  | { state: 'present'; digest?: string }
  | { state: 'absent' }
  | { state: 'unknown'; reason: string };

export class RegistryUnreachableError extends Error {}

/** Loopback registries speak plain HTTP without TLS, as the docker daemon allows by default. */
export function registryBaseUrl(registry: string): string {
  const host = registry.split('/')[0];
  const plain = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
  return `${plain ? 'http' : 'https'}://${host}`;
}

/**
 * `HEAD /v2/<name>/manifests/<tag|digest>`: does the registry hold this image? Anonymous
 * bearer tokens are fetched when the registry asks for them; a registry that wants credentials
 * answers `unknown`, and the caller falls back to the docker client (which has them).
 */
export async function headManifest(ref: string, timeoutMs = 10_000): Promise<ManifestState> {
  const { registry, repository, tag, digest } = parseImageRef(ref);
  if (!registry) return { state: 'unknown', reason: 'no registry in reference' };
  const path = registry.includes('/') ? `${registry.split('/').slice(1).join('/')}/${repository}` : repository;
  const url = `${registryBaseUrl(registry)}/v2/${path}/manifests/${digest ?? tag ?? 'latest'}`;
  const headers: Record<string, string> = { Accept: MANIFEST_TYPES };
  let response = await request(url, 'HEAD', headers, timeoutMs, registry);
  if (response.status === 401) {
    const token = await anonymousToken(response.headers.get('www-authenticate'), timeoutMs);
    if (!token) return { state: 'unknown', reason: 'registry requires credentials' };
    response = await request(url, 'HEAD', { ...headers, Authorization: `Bearer ${token}` }, timeoutMs, registry);
  }
  if (response.status === 200) return { state: 'present', digest: response.headers.get('docker-content-digest') ?? undefined };
  if (response.status === 404) return { state: 'absent' };
  return { state: 'unknown', reason: `registry answered HTTP ${response.status}` };
}

export type RetagResult = { state: 'tagged'; digest: string } | { state: 'unauthorized'; reason: string };

/**
 * Points `tag` at the manifest `digest` of `image`, inside the registry: the manifest bytes are
 * read by digest and written back under the tag, so the tag names exactly the recorded image
 * (same digest) and no image data passes through this machine. Registries that want
 * credentials answer `unauthorized`; the caller then goes through the docker client.
 */
export async function retagManifest(image: string, digest: string, tag: string, timeoutMs = 30_000): Promise<RetagResult> {
  const { registry, repository } = parseImageRef(image);
  if (!registry) throw new RegistryUnreachableError(`${image} names no registry — set the registry option or NX_DOCKER_REGISTRY.`);
  const path = registry.includes('/') ? `${registry.split('/').slice(1).join('/')}/${repository}` : repository;
  const base = `${registryBaseUrl(registry)}/v2/${path}/manifests`;
  const auth = async (url: string, method: string, headers: Record<string, string>, body?: Uint8Array) => {
    let response = await request(url, method, headers, timeoutMs, registry, body);
    if (response.status === 401) {
      const token = await anonymousToken(response.headers.get('www-authenticate'), timeoutMs);
      if (token) response = await request(url, method, { ...headers, Authorization: `Bearer ${token}` }, timeoutMs, registry, body);
    }
    return response;
  };
  const got = await auth(`${base}/${digest}`, 'GET', { Accept: MANIFEST_TYPES });
  if (got.status === 401 || got.status === 403) return { state: 'unauthorized', reason: `registry answered HTTP ${got.status} to a read` };
  if (got.status === 404) {
    throw new RegistryUnreachableError(`${image}@${digest} is not in the registry any more — push the image again (nx run <project>:docker-build --push), then release.`);
  }
  if (!got.ok) throw new RegistryUnreachableError(`Reading ${image}@${digest} failed: registry answered HTTP ${got.status} — check the registry, then release again.`);
  const manifest = new Uint8Array(await got.arrayBuffer());
  const contentType = got.headers.get('content-type') ?? 'application/vnd.docker.distribution.manifest.v2+json';
  const put = await auth(`${base}/${tag}`, 'PUT', { 'Content-Type': contentType }, manifest);
  if (put.status === 401 || put.status === 403) return { state: 'unauthorized', reason: `registry answered HTTP ${put.status} to a write` };
  if (put.status !== 201 && put.status !== 200) {
    throw new RegistryUnreachableError(`Tagging ${image}:${tag} failed: registry answered HTTP ${put.status} — check the registry, then release again.`);
  }
  return { state: 'tagged', digest: put.headers.get('docker-content-digest') ?? digest };
}

/** Is a registry up at all (`GET /v2/`)? Any HTTP answer counts; only a network failure does not. */
export async function pingRegistry(registry: string, timeoutMs = 5_000): Promise<void> {
  await request(`${registryBaseUrl(registry)}/v2/`, 'GET', {}, timeoutMs, registry);
}

async function request(url: string, method: string, headers: Record<string, string>, timeoutMs: number, registry: string, body?: Uint8Array) {
  try {
    return await fetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new RegistryUnreachableError(
      `Registry ${registry} is not reachable (${cause}) — start it, or fix the registry option / NX_DOCKER_REGISTRY.`
    );
  }
}

async function anonymousToken(challenge: string | null, timeoutMs: number): Promise<string | undefined> {
  if (!challenge || !/^Bearer /i.test(challenge)) return undefined;
  const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  if (!params.realm) return undefined;
  const url = new URL(params.realm);
  if (params.service) url.searchParams.set('service', params.service);
  if (params.scope) url.searchParams.set('scope', params.scope);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return undefined;
    const body = (await response.json()) as { token?: string; access_token?: string };
    return body.token ?? body.access_token;
  } catch {
    return undefined;
  }
}

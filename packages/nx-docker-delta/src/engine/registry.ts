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

export type RetagResult = { ok: true; digest: string } | { ok: false; reason: string };

/**
 * Points `<name>:<tag>` at the manifest `source` (`<name>@sha256:…`) names, moving no layers:
 * GET the manifest by digest and PUT the same bytes under the tag — what `crane tag` does. The
 * tag then serves exactly the receipt's digest, never whatever a local tag happens to be.
 * Answers `ok: false` (the caller may fall back to the docker client) when the registry wants
 * credentials this client does not have.
 */
export async function retag(source: string, tag: string, timeoutMs = 30_000): Promise<RetagResult> {
  const { registry, repository, digest } = parseImageRef(source);
  if (!registry || !digest) return { ok: false, reason: `${source} names no registry or digest` };
  const path = registry.includes('/') ? `${registry.split('/').slice(1).join('/')}/${repository}` : repository;
  const base = `${registryBaseUrl(registry)}/v2/${path}/manifests`;
  const call = async (url: string, method: string, headers: Record<string, string>, body?: Uint8Array) => {
    const send = (extra: Record<string, string> = {}) => request(url, method, { ...headers, ...extra }, timeoutMs, registry, body);
    let response = await send();
    if (response.status === 401) {
      const token = await anonymousToken(response.headers.get('www-authenticate'), timeoutMs);
      if (token) response = await send({ Authorization: `Bearer ${token}` });
    }
    return response;
  };
  const got = await call(`${base}/${digest}`, 'GET', { Accept: MANIFEST_TYPES });
  if (got.status === 401 || got.status === 403) return { ok: false, reason: `registry answered HTTP ${got.status} (credentials needed)` };
  if (got.status !== 200) return { ok: false, reason: `GET ${source} answered HTTP ${got.status}` };
  const manifest = new Uint8Array(await got.arrayBuffer());
  const type = got.headers.get('content-type') ?? 'application/vnd.docker.distribution.manifest.v2+json';
  const put = await call(`${base}/${tag}`, 'PUT', { 'Content-Type': type }, manifest);
  if (put.status === 401 || put.status === 403) return { ok: false, reason: `registry answered HTTP ${put.status} (credentials needed)` };
  if (put.status !== 201 && put.status !== 200) return { ok: false, reason: `PUT ${tag} answered HTTP ${put.status}` };
  const now = await headManifest(`${registry}/${repository}:${tag}`, timeoutMs);
  if (now.state !== 'present' || !now.digest) return { ok: false, reason: `the registry reports no digest for ${tag} after tagging it` };
  return { ok: true, digest: now.digest };
}

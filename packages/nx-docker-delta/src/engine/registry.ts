/**
 * The registry client: the OCI distribution API spoken the way the docker client speaks it —
 * credentials from the Docker config (auths, credsStore, credHelpers), Basic and Bearer
 * challenges with the right scope, Docker Hub's naming, TLS against the system CAs plus Docker's
 * `certs.d`, insecure registries, HTTP(S)_PROXY/NO_PROXY and redirects to blob storage.
 * The only module that talks HTTP to a registry.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';

/**
 * undici, loaded on the first registry request: ~95 modules and ~80 ms of every task process
 * that never talks to a registry (local mode, and docker-build after a build of the same run).
 */
function undici(): typeof import('undici') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('undici') as typeof import('undici');
}
import { parseImageRef } from '../planning/image-ref';
import { run } from './process';
import { EndpointHints, schemeOrder } from './endpoint-hints';

export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

/**
 * The image ID `docker pull` would give the image a manifest describes — its config digest —
 * or undefined for an index (several platforms) or anything unreadable. Pure.
 */
export function imageIdOfManifest(body: Buffer | string, mediaType?: string): string | undefined {
  try {
    const manifest = JSON.parse(body.toString()) as { mediaType?: string; config?: { digest?: unknown }; manifests?: unknown };
    const type = manifest.mediaType ?? mediaType ?? '';
    if (/index|manifest\.list/.test(type) || Array.isArray(manifest.manifests)) return undefined;
    const digest = manifest.config?.digest;
    return typeof digest === 'string' && /^sha256:[a-f0-9]{64}$/.test(digest) ? digest : undefined;
  } catch {
    return undefined;
  }
}

export type ManifestState =
  | { state: 'present'; digest: string }
  | { state: 'absent' }
  | { state: 'unknown'; reason: string };

/** Every registry failure: one sentence naming the registry, what was tried and the fix. */
export class RegistryError extends Error {
  constructor(
    message: string,
    /** For connection failures: the far end does not speak TLS (an insecure registry may then be tried over HTTP). */
    readonly noTls = false
  ) {
    super(message);
  }
}

/** Docker Hub: the name users write, the host the API lives on, the key its credentials are stored under. */
export const DOCKER_HUB = {
  name: 'docker.io',
  apiHost: 'registry-1.docker.io',
  credentialKey: 'https://index.docker.io/v1/',
} as const;

/** Where a reference lives, as the docker client resolves it. */
export interface RegistryLocation {
  /** The registry as users name it: `docker.io` for Docker Hub, else `host[:port]`. */
  registry: string;
  /** The host[:port] the HTTP API is on (`registry-1.docker.io` for Docker Hub). */
  apiHost: string;
  /** The repository path inside the registry (`library/node` for Docker Hub's official images). */
  repository: string;
  /** Tag or digest; `latest` when the reference names neither. */
  reference: string;
  /** The key its credentials are stored under in the Docker config and credential helpers. */
  credentialKey: string;
}

/** `node` → Docker Hub `library/node:latest`; `127.0.0.1:5000/team/api:t` → that host. Pure. */
export function locate(ref: string): RegistryLocation {
  const parsed = parseImageRef(ref);
  const reference = parsed.digest ?? parsed.tag ?? 'latest';
  const registry = parsed.registry;
  if (registry === undefined || registry === 'docker.io' || registry === 'index.docker.io') {
    const repository = parsed.repository.includes('/') ? parsed.repository : `library/${parsed.repository}`;
    return { registry: DOCKER_HUB.name, apiHost: DOCKER_HUB.apiHost, repository, reference, credentialKey: DOCKER_HUB.credentialKey };
  }
  return { registry, apiHost: registry, repository: parsed.repository, reference, credentialKey: registry };
}

/** `https://host:port/v1/`, `http://host` or `host` → `host[:port]` (docker's ConvertToHostname). */
export function credentialHost(key: string): string {
  return key.replace(/^https?:\/\//, '').split('/')[0];
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1)(:\d+)?$/;

/**
 * Is `host` (host[:port]) insecure — plain HTTP or unverified TLS allowed? Loopback always is
 * (as for the docker daemon); entries are `host[:port]` names or IPv4 CIDRs, like the daemon's
 * `insecure-registries`. Pure.
 */
export function isInsecure(host: string, entries: string[]): boolean {
  if (LOOPBACK.test(host)) return true;
  const bare = host.replace(/:\d+$/, '');
  return entries.some((raw) => {
    const entry = raw.trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
    if (!entry) return false;
    if (entry.includes('/')) return inCidr(bare, entry);
    return entry === host || entry === bare;
  });
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const toInt = (text: string) => {
    const parts = text.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
    return parts.reduce((acc, p) => acc * 256 + p, 0);
  };
  const a = toInt(ip);
  const b = toInt(base);
  if (a === undefined || b === undefined || !(bits >= 0 && bits <= 32)) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
}

/** Parses `Bearer realm="…",service="…",scope="…"` / `Basic realm="…"`. Pure. */
export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  const params = Object.fromEntries([...m[2].matchAll(/(\w+)\s*=\s*"([^"]*)"/g)].map((p) => [p[1].toLowerCase(), p[2]]));
  if (scheme === 'basic') return { scheme: 'basic' };
  if (scheme === 'bearer' && params.realm) return { scheme: 'bearer', realm: params.realm, service: params.service };
  return undefined;
}

export type Challenge = { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service?: string };

/** Credentials for one registry, and where they came from (for error sentences). */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user). */
  identityToken?: string;
  source: string;
}

/** The parts of `~/.docker/config.json` the client reads. */
export interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/**
 * Which source docker would ask for `key`'s credentials: a `credHelpers` entry, else the
 * `credsStore`, else the `auths` entry (matched by host, whatever scheme or path the key has). Pure.
 */
export function credentialSource(
  config: DockerConfigFile,
  key: string
): { helper: string } | { auth: NonNullable<DockerConfigFile['auths']>[string]; key: string } | undefined {
  const host = credentialHost(key);
  const helper = config.credHelpers?.[key] ?? config.credHelpers?.[host];
  if (helper) return { helper };
  if (config.credsStore) return { helper: config.credsStore };
  const auths = config.auths ?? {};
  const found = key in auths ? key : Object.keys(auths).find((k) => credentialHost(k) === host);
  return found ? { auth: auths[found], key: found } : undefined;
}

/** `auths` entry → credentials (base64 `user:password`, or explicit fields, or an identity token). Pure. */
export function decodeAuth(entry: NonNullable<DockerConfigFile['auths']>[string], source: string): Credentials | undefined {
  let username = entry.username;
  let password = entry.password;
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  if (entry.identitytoken) return { username, identityToken: entry.identitytoken, source };
  if (username && password) return { username, password, source };
  return undefined;
}

export interface RegistryClientOptions {
  /** The environment (DOCKER_CONFIG, HOME, PATH, HTTP(S)_PROXY, NO_PROXY); read here, never written. */
  env: NodeJS.ProcessEnv;
  /** Registries reached over plain HTTP or unverified TLS, e.g. `["registry.lan:5000", "10.0.0.0/8"]`. */
  insecureRegistries?: string[];
  /** Docker daemon settings file whose `insecure-registries` also count (when readable). */
  daemonJson?: string;
  /** Directories holding `<host[:port]>/ca.crt` (+ `client.cert`/`client.key`). Default: `$DOCKER_CONFIG/certs.d`, `/etc/docker/certs.d`. */
  certsDirs?: string[];
  timeoutMs?: number;
  /** Which scheme each insecure registry answered on last time (engine/endpoint-hints.ts): tried first. */
  endpointHints?: EndpointHints;
}

interface Endpoint {
  base: string;
  dispatcher: Dispatcher;
  challenge?: Challenge;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

type Action = 'pull' | 'pull,push';

/** One client per executor run: endpoints, credentials and tokens are remembered per registry. */
export class RegistryClient {
  private readonly env: NodeJS.ProcessEnv;
  private readonly configDir: string;
  private readonly certsDirs: string[];
  private readonly insecure: string[];
  private readonly timeoutMs: number;
  private readonly hints?: EndpointHints;
  private readonly endpoints = new Map<string, Promise<Endpoint>>();
  private readonly credentials = new Map<string, Promise<Credentials | undefined>>();
  private readonly tokens = new Map<string, Promise<string>>();
  private readonly dispatchers = new Map<string, Dispatcher>();

  constructor(options: RegistryClientOptions) {
    this.env = options.env;
    this.configDir = options.env.DOCKER_CONFIG || join(options.env.HOME || homedir(), '.docker');
    this.certsDirs = options.certsDirs ?? [join(this.configDir, 'certs.d'), '/etc/docker/certs.d'];
    this.insecure = [...(options.insecureRegistries ?? []), ...daemonInsecureRegistries(options.daemonJson ?? '/etc/docker/daemon.json')];
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.hints = options.endpointHints;
  }

  /** Is the registry up (any HTTP answer to `GET /v2/`)? Throws one sentence when it is not. */
  async ping(registry: string): Promise<void> {
    await this.endpoint(locate(`${registry.split('/')[0]}/x`).apiHost, registry.split('/')[0]);
  }

  /**
   * `HEAD` the manifest: present (with the registry's digest), absent, or unknown with the
   * sentence that says why. A 200 without a valid `Docker-Content-Digest` is not taken at its
   * word: the manifest is fetched and its sha256 computed.
   */
  async headManifest(ref: string): Promise<ManifestState> {
    const loc = locate(ref);
    try {
      const reply = await this.call(loc, 'HEAD', `manifests/${loc.reference}`, { action: 'pull', headers: { Accept: MANIFEST_TYPES.join(', ') } });
      if (reply.status === 404) return { state: 'absent' };
      if (reply.status !== 200) throw this.statusError(loc, reply, 'HEAD manifest', 'pull');
      const digest = reply.headers['docker-content-digest'];
      if (digest && /^sha256:[a-f0-9]{64}$/.test(digest)) return { state: 'present', digest };
      const manifest = await this.getManifest(ref);
      return manifest ? { state: 'present', digest: manifest.digest } : { state: 'absent' };
    } catch (error) {
      if (error instanceof RegistryError) return { state: 'unknown', reason: error.message };
      throw error;
    }
  }

  /** `GET` the manifest; the digest is the sha256 of the bytes received (checked against the header). */
  async getManifest(ref: string): Promise<{ digest: string; mediaType: string; body: Buffer } | undefined> {
    const loc = locate(ref);
    const reply = await this.call(loc, 'GET', `manifests/${loc.reference}`, { action: 'pull', headers: { Accept: MANIFEST_TYPES.join(', ') } });
    if (reply.status === 404) return undefined;
    if (reply.status !== 200) throw this.statusError(loc, reply, 'GET manifest', 'pull');
    const digest = sha256(reply.body);
    const claimed = reply.headers['docker-content-digest'];
    if (claimed && claimed !== digest && (!loc.reference.startsWith('sha256:') || loc.reference !== claimed)) {
      throw new RegistryError(`Registry ${loc.registry} sent manifest ${loc.repository}:${loc.reference} with Docker-Content-Digest ${claimed} but its bytes hash to ${digest} — the registry or a proxy alters manifests; fix it before pushing.`);
    }
    if (loc.reference.startsWith('sha256:') && loc.reference !== digest) {
      throw new RegistryError(`Registry ${loc.registry} answered ${loc.repository}@${loc.reference} with a manifest whose sha256 is ${digest} — the registry or a proxy alters manifests; fix it before pushing.`);
    }
    return { digest, mediaType: reply.headers['content-type'] ?? '', body: reply.body };
  }

  /** `PUT` a manifest under a tag or digest; returns its digest (the registry must agree with ours). */
  async putManifest(ref: string, body: Buffer, mediaType: string): Promise<string> {
    const loc = locate(ref);
    const reply = await this.call(loc, 'PUT', `manifests/${loc.reference}`, { action: 'pull,push', headers: { 'Content-Type': mediaType }, body });
    if (reply.status !== 201 && reply.status !== 200) throw this.statusError(loc, reply, 'PUT manifest', 'pull,push');
    const digest = sha256(body);
    const claimed = reply.headers['docker-content-digest'];
    if (claimed && claimed !== digest) {
      throw new RegistryError(`Registry ${loc.registry} stored manifest ${loc.repository}:${loc.reference} as ${claimed} but it hashes to ${digest} — the registry rewrote it; push with docker instead.`);
    }
    return digest;
  }

  /** Does repository `name` (`host/repo`, no tag) hold blob `digest`? */
  async hasBlob(name: string, digest: string): Promise<boolean> {
    const loc = locate(name);
    const reply = await this.call(loc, 'HEAD', `blobs/${digest}`, { action: 'pull' });
    if (reply.status === 200) return true;
    if (reply.status === 404) return false;
    throw this.statusError(loc, reply, 'HEAD blob', 'pull');
  }

  /** Reads a blob (following redirects to blob storage) and checks its sha256. */
  async getBlob(name: string, digest: string): Promise<Buffer> {
    const loc = locate(name);
    const reply = await this.call(loc, 'GET', `blobs/${digest}`, { action: 'pull' });
    if (reply.status !== 200) throw this.statusError(loc, reply, 'GET blob', 'pull');
    if (digest.startsWith('sha256:') && sha256(reply.body) !== digest) {
      throw new RegistryError(`Blob ${digest} from registry ${loc.registry} has sha256 ${sha256(reply.body)} — the registry or its storage is corrupt; push the image again.`);
    }
    return reply.body;
  }

  /** Monolithic upload: `POST` a session, `PUT` the bytes with their digest. */
  async uploadBlob(name: string, data: Buffer): Promise<string> {
    const loc = locate(name);
    const digest = sha256(data);
    const started = await this.call(loc, 'POST', 'blobs/uploads/', { action: 'pull,push', headers: { 'Content-Length': '0' } });
    if (started.status !== 202 || !started.headers.location) throw this.statusError(loc, started, 'POST blob upload', 'pull,push');
    await this.finishUpload(loc, started.headers.location, digest, data);
    return digest;
  }

  /**
   * Cross-repository mount: `true` when the registry linked `digest` from `fromName` (same
   * registry) without a copy; `false` when it did not (the caller uploads).
   */
  async mountBlob(name: string, digest: string, fromName: string): Promise<boolean> {
    const loc = locate(name);
    const from = locate(fromName);
    if (from.apiHost !== loc.apiHost) return false;
    const query = `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from.repository)}`;
    const reply = await this.call(loc, 'POST', `blobs/uploads/${query}`, {
      action: 'pull,push',
      extraScopes: [`repository:${from.repository}:pull`],
      headers: { 'Content-Length': '0' },
    });
    if (reply.status === 201) return true;
    if (reply.status === 202) {
      if (reply.headers.location) await this.call(loc, 'DELETE', reply.headers.location, { action: 'pull,push' }).catch(() => undefined);
      return false;
    }
    throw this.statusError(loc, reply, 'mount blob', 'pull,push');
  }

  /**
   * Makes repository `name` hold blob `digest` and says how: it was there, it was mounted from
   * `from` (same registry, no bytes move), or `data` was uploaded. The layers an assembled image
   * shares with its parent only ever take the first two paths.
   */
  async ensureBlob(name: string, digest: string, o: { from?: string; data?: Buffer }): Promise<'present' | 'mounted' | 'uploaded'> {
    if (await this.hasBlob(name, digest)) return 'present';
    if (o.from && (await this.mountBlob(name, digest, o.from))) return 'mounted';
    const data = o.data ?? (o.from ? await this.getBlob(o.from, digest) : undefined);
    if (!data) {
      throw new RegistryError(`Blob ${digest} is not in ${name} and nothing to upload was given — push the image with docker instead.`);
    }
    const uploaded = await this.uploadBlob(name, data);
    if (uploaded !== digest) throw new RegistryError(`Blob for ${name} hashes to ${uploaded}, not ${digest} — a bug in the caller; push with docker instead.`);
    return 'uploaded';
  }

  private async finishUpload(loc: RegistryLocation, location: string, digest: string, data: Buffer): Promise<void> {
    const separator = location.includes('?') ? '&' : '?';
    const reply = await this.call(loc, 'PUT', `${location}${separator}digest=${encodeURIComponent(digest)}`, {
      action: 'pull,push',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) },
      body: data,
    });
    if (reply.status !== 201) throw this.statusError(loc, reply, 'PUT blob', 'pull,push');
  }

  /** One API call with authorization: answers a 401 challenge once with credentials or a token. */
  private async call(
    loc: RegistryLocation,
    method: string,
    path: string,
    options: { action: Action; extraScopes?: string[]; headers?: Record<string, string>; body?: Buffer }
  ): Promise<Reply> {
    const endpoint = await this.endpoint(loc.apiHost, loc.registry);
    const url = path.startsWith('http') ? path : path.startsWith('/') ? `${endpoint.base}${path}` : `${endpoint.base}/v2/${loc.repository}/${path}`;
    const scopes = [`repository:${loc.repository}:${options.action}`, ...(options.extraScopes ?? [])];
    const send = async (authorization?: string) =>
      this.send(url, method, { ...options.headers, ...(authorization ? { Authorization: authorization } : {}) }, options.body, loc);
    let authorization = endpoint.challenge ? await this.authorization(loc, endpoint.challenge, scopes, false) : undefined;
    let reply = await send(authorization);
    if (reply.status === 401) {
      const challenge = parseChallenge(reply.headers['www-authenticate']);
      if (challenge) {
        endpoint.challenge = challenge;
        authorization = await this.authorization(loc, challenge, scopes, authorization !== undefined);
        if (authorization) reply = await send(authorization);
      }
    }
    if (reply.status === 401) {
      const creds = await this.credentialsFor(loc);
      const doing = `${options.action === 'pull' ? 'reading' : 'pushing'} ${loc.repository}`;
      throw new RegistryError(
        creds
          ? `Registry ${loc.registry} refused the credentials from ${creds.source} for ${doing} (HTTP 401) — run ${login(loc)} again.`
          : `Registry ${loc.registry} needs credentials for ${doing} and ${this.configPath()} has none for it — run ${login(loc)}.`
      );
    }
    return reply;
  }

  /** The `Authorization` header for a challenge, or undefined when anonymous is all we have. */
  private async authorization(loc: RegistryLocation, challenge: Challenge, scopes: string[], refresh: boolean): Promise<string | undefined> {
    const creds = await this.credentialsFor(loc);
    if (challenge.scheme === 'basic') {
      if (!creds?.username || !creds.password) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    const key = `${challenge.realm}|${challenge.service ?? ''}|${scopes.join(' ')}`;
    let token = refresh ? undefined : this.tokens.get(key);
    if (!token) {
      token = this.fetchToken(loc, challenge, scopes, creds);
      this.tokens.set(key, token);
      token.catch(() => this.tokens.delete(key));
    }
    return `Bearer ${await token}`;
  }

  /** Docker's token flow: an identity token → POST oauth2 refresh_token; a password → GET with Basic; else anonymous GET. */
  private async fetchToken(loc: RegistryLocation, challenge: { realm: string; service?: string }, scopes: string[], creds: Credentials | undefined): Promise<string> {
    const realm = new URL(challenge.realm);
    let reply: Reply;
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'nx-docker-delta' });
      if (challenge.service) form.set('service', challenge.service);
      form.set('scope', scopes.join(' '));
      reply = await this.send(realm.toString(), 'POST', { 'Content-Type': 'application/x-www-form-urlencoded' }, Buffer.from(form.toString()), loc, 'token server');
    } else {
      if (challenge.service) realm.searchParams.set('service', challenge.service);
      for (const scope of scopes) realm.searchParams.append('scope', scope);
      const headers: Record<string, string> = {};
      if (creds?.username && creds.password) {
        realm.searchParams.set('account', creds.username);
        headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      }
      reply = await this.send(realm.toString(), 'GET', headers, undefined, loc, 'token server');
    }
    if (reply.status === 401 || reply.status === 403) {
      throw new RegistryError(
        creds
          ? `Registry ${loc.registry} refused the credentials from ${creds.source} (token server ${realm.origin} answered HTTP ${reply.status}) — run ${login(loc)} again.`
          : `Registry ${loc.registry} needs credentials and ${this.configPath()} has none for it — run ${login(loc)}.`
      );
    }
    if (reply.status !== 200) {
      throw new RegistryError(`Token server ${realm.origin} of registry ${loc.registry} answered HTTP ${reply.status} — check the registry's auth service, then retry.`);
    }
    let body: { token?: string; access_token?: string };
    try {
      body = JSON.parse(reply.body.toString('utf8'));
    } catch {
      body = {};
    }
    const token = body.access_token ?? body.token;
    if (!token) throw new RegistryError(`Token server ${realm.origin} of registry ${loc.registry} sent no token — check the registry's auth service, then retry.`);
    return token;
  }

  private credentialsFor(loc: RegistryLocation): Promise<Credentials | undefined> {
    let found = this.credentials.get(loc.credentialKey);
    if (!found) {
      found = this.lookupCredentials(loc);
      this.credentials.set(loc.credentialKey, found);
    }
    return found;
  }

  private async lookupCredentials(loc: RegistryLocation): Promise<Credentials | undefined> {
    const path = this.configPath();
    let config: DockerConfigFile = {};
    if (existsSync(path)) {
      try {
        config = JSON.parse(readFileSync(path, 'utf8'));
      } catch {
        throw new RegistryError(`Docker config ${path} is not valid JSON — fix it or run ${login(loc)} to rewrite it.`);
      }
    }
    const source = credentialSource(config, loc.credentialKey);
    if (!source) return undefined;
    if ('auth' in source) return decodeAuth(source.auth, `${path} (auths["${source.key}"])`);
    const bin = `docker-credential-${source.helper}`;
    const result = await run(bin, ['get'], { input: loc.credentialKey, env: this.env }).catch((error: NodeJS.ErrnoException) => {
      throw new RegistryError(
        `Credential helper ${bin} (named in ${path}) cannot be run (${error.code ?? error.message}) — install it on PATH or remove it from ${path}.`
      );
    });
    if (result.code !== 0) {
      // The protocol's "no credentials" answer: go anonymous, as docker does.
      if (/credentials not found/i.test(result.stdout + result.stderr)) return undefined;
      throw new RegistryError(
        `Credential helper ${bin} failed for ${loc.credentialKey}: ${lastLine(result.stderr || result.stdout) || `exit ${result.code}`} — fix the helper or run ${login(loc)}.`
      );
    }
    let answer: { Username?: string; Secret?: string };
    try {
      answer = JSON.parse(result.stdout);
    } catch {
      throw new RegistryError(`Credential helper ${bin} printed no JSON for ${loc.credentialKey} — fix the helper or run ${login(loc)}.`);
    }
    if (!answer.Secret) return undefined;
    const from = `${bin}`;
    return answer.Username === '<token>' ? { identityToken: answer.Secret, source: from } : { username: answer.Username, password: answer.Secret, source: from };
  }

  private configPath(): string {
    return join(this.configDir, 'config.json');
  }

  /**
   * Which scheme and TLS settings reach `host`. Insecure (loopback, insecureRegistries, the
   * daemon's insecure-registries): HTTPS, then plain HTTP — the daemon's order — with TLS
   * unverified unless certs.d has a CA for the host. Else verified HTTPS only.
   */
  private endpoint(host: string, registry: string): Promise<Endpoint> {
    let found = this.endpoints.get(host);
    if (!found) {
      found = this.discover(host, registry);
      this.endpoints.set(host, found);
      found.catch(() => this.endpoints.delete(host));
    }
    return found;
  }

  private async discover(host: string, registry: string): Promise<Endpoint> {
    const tls = this.tlsFiles(host);
    const insecure = isInsecure(host, this.insecure);
    const https = { scheme: 'https' as const, base: `https://${host}`, verify: !insecure || tls.ca.length > 0 };
    const http = { scheme: 'http' as const, base: `http://${host}`, verify: false };
    const hint = insecure ? this.hints?.read(host) : undefined;
    const candidates = insecure ? schemeOrder(hint).map((scheme) => (scheme === 'http' ? http : https)) : [https];
    let lastError: RegistryError | undefined;
    for (const candidate of candidates) {
      const dispatcher = this.dispatcher(candidate.base, candidate.verify);
      try {
        const reply = await this.raw(`${candidate.base}/v2/`, 'GET', {}, undefined, dispatcher);
        // A remembered HTTP that now meets a TLS server gets a 400 ("HTTP request to an HTTPS
        // server"), not an error: only a registry's own answer ends the discovery early.
        if (candidate.scheme === 'http' && hint === 'http' && candidates[0] === candidate && reply.status !== 200 && reply.status !== 401) continue;
        if (insecure && hint !== candidate.scheme) this.hints?.write(host, candidate.scheme);
        return { base: candidate.base, dispatcher, challenge: reply.status === 401 ? parseChallenge(reply.headers['www-authenticate']) : undefined };
      } catch (error) {
        const failed = this.networkError(error, `${candidate.base}/v2/`, registry, host, tls.ca);
        // A remembered scheme that fails: discovery in the daemon's order, as without a hint.
        if (candidate.scheme === 'http' && hint === 'http' && candidates[0] === candidate) continue;
        lastError = failed;
        // Only a server that does not speak TLS is retried over HTTP: an untrusted certificate,
        // a refused connection or a dead proxy would otherwise end as a confusing HTTP 400.
        if (!lastError.noTls) break;
      }
    }
    throw lastError as RegistryError;
  }

  /** One undici dispatcher per origin and trust mode, through the proxy HTTP(S)_PROXY / NO_PROXY name for it. */
  private dispatcher(origin: string, verify: boolean): Dispatcher {
    const host = new URL(origin).host;
    const key = `${origin}|${verify}`;
    let dispatcher = this.dispatchers.get(key);
    if (!dispatcher) {
      const files = this.tlsFiles(host);
      const read = (paths: string[]) => paths.map((p) => readFileSync(p, 'utf8'));
      // Docker trusts the OS bundle plus certs.d; passing `ca` replaces Node's own store, so its roots go in too.
      const tls = {
        rejectUnauthorized: verify,
        ...(verify ? { ca: [...rootCertificates, ...read(systemBundle(this.env)), ...read(files.ca)] } : {}),
        ...(files.cert && files.key ? { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') } : {}),
      };
      const proxy = proxyFor(origin, this.env);
      const { Agent, ProxyAgent } = undici();
      dispatcher = proxy ? new ProxyAgent({ uri: proxy, requestTls: tls }) : new Agent({ connect: tls });
      this.dispatchers.set(key, dispatcher);
    }
    return dispatcher;
  }

  /** Docker's per-registry TLS files: `*.crt` are CAs, `*.cert` + `*.key` a client certificate. */
  private tlsFiles(host: string): { ca: string[]; cert?: string; key?: string; dirs: string[] } {
    const dirs = this.certsDirs.map((d) => join(d, host.replace(/^\[|\]$/g, '')));
    const result: { ca: string[]; cert?: string; key?: string; dirs: string[] } = { ca: [], dirs };
    for (const dir of dirs) {
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        continue;
      }
      for (const name of names) {
        if (name.endsWith('.crt')) result.ca.push(join(dir, name));
        if (name.endsWith('.cert') && !result.cert && names.includes(name.replace(/\.cert$/, '.key'))) {
          result.cert = join(dir, name);
          result.key = join(dir, name.replace(/\.cert$/, '.key'));
        }
      }
    }
    return result;
  }

  /** Sends with the endpoint's dispatcher; follows redirects (blob storage), dropping Authorization across hosts. */
  private async send(url: string, method: string, headers: Record<string, string>, body: Buffer | undefined, loc: RegistryLocation, what = 'registry'): Promise<Reply> {
    let current = new URL(url);
    let currentHeaders = headers;
    for (let hop = 0; hop <= 5; hop++) {
      const host = current.host;
      const verify = !(current.protocol === 'https:' && this.tlsFiles(host).ca.length === 0 && isInsecure(host, this.insecure));
      let reply: Reply;
      try {
        reply = await this.raw(current.toString(), method, currentHeaders, body, this.dispatcher(current.origin, verify));
      } catch (error) {
        throw this.networkError(error, current.toString(), loc.registry, host, this.tlsFiles(host).ca, what);
      }
      const location = reply.headers.location;
      if (![301, 302, 303, 307, 308].includes(reply.status) || !location || (method !== 'GET' && method !== 'HEAD')) return reply;
      const next = new URL(location, current);
      if (next.host !== current.host) {
        const { Authorization: _dropped, ...rest } = currentHeaders;
        currentHeaders = rest;
      }
      current = next;
    }
    throw new RegistryError(`Registry ${loc.registry} redirected ${url} more than 5 times — fix the registry's storage redirect settings.`);
  }

  private async raw(url: string, method: string, headers: Record<string, string>, body: Buffer | undefined, dispatcher: Dispatcher): Promise<Reply> {
    const response = await undici().request(url, {
      method: method as Dispatcher.HttpMethod,
      headers,
      body,
      dispatcher,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const data = Buffer.from(await response.body.arrayBuffer());
    const flat: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return { status: response.statusCode, headers: flat, body: data };
  }

  private networkError(error: unknown, url: string, registry: string, host: string, caFiles: string[], what = 'registry'): RegistryError {
    if (error instanceof RegistryError) return error;
    const cause = (error as { cause?: { code?: string } }).cause;
    const code = (error as { code?: string }).code ?? cause?.code ?? (error as Error).name ?? 'error';
    const message = (error as Error).message;
    const target = what === 'registry' ? `Registry ${registry}` : `The ${what} of registry ${registry}`;
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|HOSTNAME/i.test(`${code} ${message}`)) {
      const fix = caFiles.length
        ? `the CA in ${caFiles.join(', ')} does not sign its certificate — replace that file with the registry's CA`
        : `put the registry's CA in ${join(this.certsDirs[0], host)}/ca.crt (or /etc/docker/certs.d/${host}/ca.crt), or list ${host} in insecureRegistries`;
      return new RegistryError(`${target} presented a TLS certificate that is not trusted (${code}) at ${url} — ${fix}.`);
    }
    if (/TimeoutError|ABORT/i.test(`${code} ${(error as Error).name}`)) {
      return new RegistryError(`${target} did not answer within ${Math.round(this.timeoutMs / 1000)} s at ${url} — check that it is up and HTTP(S)_PROXY / NO_PROXY are right.`);
    }
    if (/EPROTO|wrong version number|ERR_SSL/i.test(`${code} ${message}`)) {
      return new RegistryError(
        `${target} did not speak TLS at ${url} (${code}) — if it serves plain HTTP, list ${host} in insecureRegistries (or the daemon's insecure-registries); else check HTTP(S)_PROXY / NO_PROXY.`,
        true
      );
    }
    // A server that drops the TLS hello without answering may be plain HTTP too.
    const dropped = url.startsWith('https:') && /ECONNRESET|UND_ERR_SOCKET/.test(code);
    return new RegistryError(`${target} is not reachable at ${url} (${code}) — start it, check HTTP(S)_PROXY / NO_PROXY, or fix the registry option / NX_DOCKER_REGISTRY.`, dropped);
  }

  private statusError(loc: RegistryLocation, reply: Reply, what: string, action: Action): RegistryError {
    const name = `${loc.registry}/${loc.repository}`;
    if (reply.status === 401 || reply.status === 403) {
      const verb = action === 'pull' ? 'read' : 'push to';
      return new RegistryError(
        `Registry ${loc.registry} denied ${what} on ${name} (HTTP ${reply.status}) — run ${login(loc)} with an account that may ${verb} ${loc.repository}.`
      );
    }
    const detail = lastLine(reply.body.toString('utf8')).slice(0, 200);
    return new RegistryError(`Registry ${loc.registry} answered ${what} on ${name} with HTTP ${reply.status}${detail ? ` (${detail})` : ''} — check the registry's logs, then retry.`);
  }
}

/**
 * The proxy for `origin` (`https://host:port`): HTTPS_PROXY / HTTP_PROXY (either case), unless
 * NO_PROXY names the host — `*`, `host`, `host:port`, `.domain` or `domain` (subdomains too), as
 * curl reads it. Loopback is proxied unless listed, like curl and unlike Go programs. Pure.
 */
export function proxyFor(origin: string, env: NodeJS.ProcessEnv): string | undefined {
  const url = new URL(origin);
  const proxy = url.protocol === 'https:' ? env.HTTPS_PROXY ?? env.https_proxy : env.HTTP_PROXY ?? env.http_proxy;
  if (!proxy) return undefined;
  const hostname = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const entries = (env.NO_PROXY ?? env.no_proxy ?? '').split(/[\s,]+/).filter(Boolean);
  for (const raw of entries) {
    if (raw === '*') return undefined;
    const m = /^(.*?)(?::(\d+))?$/.exec(raw.toLowerCase().replace(/^\[|\](?=:|$)/g, '')) as RegExpExecArray;
    const [entryHost, entryPort] = [m[1].replace(/^\*?\./, ''), m[2]];
    if (entryPort && entryPort !== port) continue;
    if (hostname === entryHost || hostname.endsWith(`.${entryHost}`)) return undefined;
  }
  return proxy;
}

/** The daemon's `insecure-registries`, when its settings file is readable (missing or unreadable: none). */
export function daemonInsecureRegistries(path: string): string[] {
  try {
    const settings = JSON.parse(readFileSync(path, 'utf8')) as { 'insecure-registries'?: unknown };
    const entries = settings['insecure-registries'];
    return Array.isArray(entries) ? entries.filter((e): e is string => typeof e === 'string') : [];
  } catch {
    return [];
  }
}

/** The OS CA bundle (Node ships its own roots; Docker uses the system's) plus NODE_EXTRA_CA_CERTS. */
function systemBundle(env: NodeJS.ProcessEnv): string[] {
  const candidates = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem', env.NODE_EXTRA_CA_CERTS ?? ''];
  const found: string[] = [];
  for (const path of candidates) {
    if (path && existsSync(path) && !found.includes(path)) found.push(path);
  }
  return found;
}

/** `docker login` (Docker Hub) or `docker login host:port`. */
function login(loc: RegistryLocation): string {
  return loc.registry === DOCKER_HUB.name ? 'docker login' : `docker login ${loc.registry}`;
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function lastLine(text: string): string {
  return text.trim().split(/\r?\n/).filter(Boolean).pop()?.trim() ?? '';
}

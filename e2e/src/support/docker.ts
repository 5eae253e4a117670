/**
 * The Docker engine and the OCI registry as the suite checks them: images,
 * containers answering over HTTP, manifests and digests in the registry, and
 * removing everything a run created.
 */
import { run, RunResult } from '../../../tools/e2e/process';

export interface DockerEnv {
  /** BuildKit-capable client (the same the plugin uses through NX_DOCKER_BIN). */
  bin: string;
  /** `host:port` of the registry that allows deletes, e.g. 127.0.0.1:5000. */
  registry: string;
  logFile?: string;
}

export class Docker {
  constructor(readonly env: DockerEnv) {}

  run(args: string[], allowFailure = false): Promise<RunResult> {
    return run(this.env.bin, args, { logFile: this.env.logFile, allowFailure, timeoutMs: 10 * 60_000 });
  }

  async imageId(ref: string): Promise<string | undefined> {
    const r = await this.run(['image', 'inspect', '--format', '{{.Id}}', ref], true);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  /** Every `repo:tag` in the local store under a repository prefix (`127.0.0.1:5000/ns/`). */
  async localRefs(prefix: string): Promise<string[]> {
    const r = await this.run(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(prefix) && !l.endsWith(':<none>'));
  }

  /** Removes every local image under the prefix: tags, digest references, then the images. */
  async removeLocal(prefix: string): Promise<void> {
    const refs = await this.localRefs(prefix);
    const digests = (await this.run(['images', '--digests', '--format', '{{.Repository}}@{{.Digest}}'])).stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith(prefix) && !l.endsWith('@<none>'));
    const all = [...new Set([...refs, ...digests])];
    for (let i = 0; i < all.length; i += 50) await this.run(['rmi', '-f', ...all.slice(i, i + 50)], true);
  }

  /** Starts a detached container publishing `port` on a random 127.0.0.1 port; returns its id and base URL. */
  async start(ref: string, name: string, port: number): Promise<{ id: string; url: string }> {
    const r = await this.run(['run', '-d', '--name', name, '-p', `127.0.0.1::${port}`, ref]);
    const id = r.stdout.trim();
    const mapped = await this.run(['port', id, `${port}/tcp`], true);
    const hostPort = /:(\d+)\s*$/m.exec(mapped.stdout)?.[1];
    if (!hostPort) {
      const logs = await this.run(['logs', id], true);
      throw new Error(`${ref} published no port ${port} (container exited?):\n${logs.output.trim()}`);
    }
    return { id, url: `http://127.0.0.1:${hostPort}` };
  }

  async removeContainers(names: string[]): Promise<void> {
    if (names.length) await this.run(['rm', '-f', ...names], true);
  }

  /** Drops all BuildKit build cache: a fresh CI machine has none. */
  async pruneBuildCache(): Promise<void> {
    await this.run(['builder', 'prune', '-af']);
  }

  // ---- registry (Docker Registry HTTP API v2) ----

  private url(path: string): string {
    return `http://${this.env.registry}/v2/${path}`;
  }

  /** The digest the registry serves for `repository:tag` (undefined when absent). */
  async registryDigest(repository: string, tag: string): Promise<string | undefined> {
    const response = await fetch(this.url(`${repository}/manifests/${tag}`), { method: 'HEAD', headers: { accept: MANIFEST_TYPES } });
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`HEAD ${repository}:${tag} on ${this.env.registry}: HTTP ${response.status}`);
    return response.headers.get('docker-content-digest') ?? undefined;
  }

  /** Deletes every manifest of every repository under `namespace/` (blobs stay until the registry's GC). */
  async deleteNamespace(namespace: string): Promise<void> {
    const catalog = (await (await fetch(this.url('_catalog?n=10000'))).json()) as { repositories?: string[] };
    for (const repository of (catalog.repositories ?? []).filter((r) => r.startsWith(`${namespace}/`))) {
      const list = (await (await fetch(this.url(`${repository}/tags/list`))).json()) as { tags?: string[] | null };
      const digests = new Set<string>();
      for (const tag of list.tags ?? []) {
        const digest = await this.registryDigest(repository, tag).catch(() => undefined);
        if (digest) digests.add(digest);
      }
      for (const digest of digests) await fetch(this.url(`${repository}/manifests/${digest}`), { method: 'DELETE' });
    }
  }
}

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/** GETs JSON from a just-started container, retrying while it boots. */
export async function getJson(url: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
      const text = await response.text();
      if (response.ok) return JSON.parse(text);
      last = `HTTP ${response.status}: ${text.slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000}s (${last})`);
}

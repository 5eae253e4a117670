import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { major } from 'semver';
import { BuildPlan, BuilderMode, buildArgv } from '../planning/build-plan';
import { parseImageRef } from '../planning/image-ref';
import { ProgressParser, StepStats } from '../planning/progress';
import { run, RunOptions } from './process';
import { headManifest, ManifestState } from './registry';

/** A docker client that can run BuildKit builds against a reachable daemon. */
export interface DockerClient {
  bin: string;
  mode: BuilderMode;
  clientVersion: string;
  serverVersion: string;
  /** What this engine does differently, said once when it is probed (podman). */
  note?: string;
}

/** What podman does not do the way docker does, in one sentence. */
export const PODMAN_NOTE =
  'podman builds with its own per-step layer cache (--layers) and pushes with --digestfile; it does not import registry layer cache (--cache-from of a previous image, NX_DOCKER_CACHE_REGISTRY), so a fresh machine rebuilds layers docker would pull as CACHED.';

export class DockerError extends Error {
  constructor(message: string, readonly tail: string[] = []) {
    super(message);
  }
}

export class BuildInterruptedError extends DockerError {}

const probes = new Map<string, Promise<DockerClient>>();

/**
 * Finds a client that can build with BuildKit: `docker buildx` when the client has it,
 * else a client with BuildKit built in (Docker CLI before 23, as on Google Cloud Build).
 * With no explicit binary every `docker` on PATH is tried, because on some machines the first
 * one is a new CLI without the buildx plugin while an older BuildKit-capable one is installed.
 */
export function probeDocker(options: { bin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<DockerClient> {
  const key = options.bin ?? '';
  let probe = probes.get(key);
  if (!probe) {
    probe = doProbe(options.bin, options.env ?? process.env);
    probes.set(key, probe);
    probe.catch(() => probes.delete(key));
  }
  return probe;
}

async function doProbe(explicit: string | undefined, env: NodeJS.ProcessEnv): Promise<DockerClient> {
  const candidates = explicit ? [explicit] : findOnPath('docker', env.PATH ?? '');
  if (candidates.length === 0) {
    throw new DockerError('No docker client found on PATH — install Docker (with BuildKit) or set NX_DOCKER_BIN to the docker binary.');
  }
  const rejected: string[] = [];
  if (explicit && /podman[^/\\]*$/.test(explicit)) return probePodman(explicit);
  for (const bin of candidates) {
    // Both questions at once: every executor process probes again (Nx runs each task in its
    // own process), and sequential spawns put two docker CLI start-ups on every task's path.
    const [result, buildx] = await Promise.all([
      run(bin, ['version', '--format', '{{json .}}']).catch(() => undefined),
      run(bin, ['buildx', 'version']).catch(() => undefined),
    ]);
    if (!result) {
      rejected.push(`${bin} (cannot be executed)`);
      continue;
    }
    let info: { Client?: { Version?: string }; Server?: { Version?: string } | null } = {};
    try {
      info = JSON.parse(result.stdout.trim().split('\n')[0] || '{}');
    } catch {
      /* handled below */
    }
    const clientVersion = info.Client?.Version ?? '';
    if (!info.Server?.Version) {
      const host = env.DOCKER_HOST || 'unix:///var/run/docker.sock';
      throw new DockerError(
        `Docker daemon not reachable at ${host} — start Docker or set DOCKER_HOST (${bin}: ${lastLine(result.stderr) || 'no answer'}).`
      );
    }
    if (buildx?.code === 0) {
      return { bin, mode: 'buildx', clientVersion, serverVersion: info.Server.Version };
    }
    const clientMajor = safeMajor(clientVersion);
    if (clientMajor !== undefined && clientMajor < 23 && clientMajor >= 18) {
      return { bin, mode: 'buildkit', clientVersion, serverVersion: info.Server.Version };
    }
    rejected.push(`${bin} (client ${clientVersion || 'unknown'}, no buildx)`);
  }
  throw new DockerError(
    `No docker client here can build with BuildKit: ${rejected.join(', ')} — install the docker-buildx plugin, or set NX_DOCKER_BIN to a client with BuildKit built in (Docker CLI 18.09–22.x).`
  );
}

/**
 * podman needs no daemon (`podman version` has no Server part). Its image store is its own
 * (/var/lib/containers), so images built with docker are not there and vice versa.
 */
async function probePodman(bin: string): Promise<DockerClient> {
  const result = await run(bin, ['version', '--format', '{{json .}}']).catch(() => undefined);
  if (!result) throw new DockerError(`${bin} cannot be executed — install podman (apt-get install podman) or set NX_DOCKER_BIN to a docker client.`);
  let version = '';
  try {
    version = JSON.parse(result.stdout.trim().split('\n')[0] || '{}').Client?.Version ?? '';
  } catch {
    version = '';
  }
  if (result.code !== 0 || !version) {
    throw new DockerError(`podman does not work here (${bin}: ${lastLine(result.stderr) || `exited ${result.code}`}) — fix its storage setup (podman info) or set NX_DOCKER_BIN to a docker client.`);
  }
  const podmanMajor = safeMajor(version);
  if (podmanMajor !== undefined && podmanMajor < 4) {
    throw new DockerError(`podman ${version} is too old (no --iidfile/--digestfile as used here) — install podman 4 or newer, or set NX_DOCKER_BIN to a docker client.`);
  }
  return { bin, mode: 'podman', clientVersion: version, serverVersion: version, note: PODMAN_NOTE };
}

export interface ImageInfo {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
}

/** Talks to one docker client. The only place in the plugin that runs docker. */
export class DockerEngine {
  constructor(readonly client: DockerClient) {}

  private docker(args: string[], options: RunOptions = {}) {
    return run(this.client.bin, args, options);
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    const result = await this.docker(['image', 'inspect', '--format', '{{json .}}', ref]);
    if (result.code !== 0) return undefined;
    // podman 4.3 ignores `{{json .}}` and prints its whole inspect array, pretty-printed.
    const text = result.stdout.trim();
    const raw = (text.startsWith('[') ? JSON.parse(text)[0] : JSON.parse(text.split('\n')[0])) as {
      Id: string;
      RepoTags?: string[];
      RepoDigests?: string[];
      Size: number;
    };
    // podman reports the ID without the `sha256:` that --iidfile writes.
    const id = raw.Id.includes(':') ? raw.Id : `sha256:${raw.Id}`;
    return { id, repoTags: raw.RepoTags ?? [], repoDigests: raw.RepoDigests ?? [], size: raw.Size };
  }

  /**
   * Runs a build, streaming BuildKit's plain progress to `onLine`, and returns the image ID
   * (read from `--iidfile`, not from the log) with the step counts.
   */
  async build(
    plan: Omit<BuildPlan, 'mode' | 'iidFile' | 'metadataFile'>,
    options: { onLine?: (line: string) => void; signal?: AbortSignal; what: string }
  ): Promise<{ imageId: string; stats: StepStats; digest?: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'nx-docker-delta-'));
    try {
      const full: BuildPlan = {
        ...plan,
        mode: this.client.mode,
        iidFile: join(dir, 'iid'),
        metadataFile: this.client.mode === 'buildx' ? join(dir, 'metadata.json') : undefined,
      };
      const { args, env } = buildArgv(full);
      const progress = new ProgressParser();
      const result = await this.docker(args, {
        env,
        signal: options.signal,
        onLine: (line) => {
          progress.push(line);
          options.onLine?.(line);
        },
      });
      const stats = progress.stats();
      if (result.aborted) {
        throw new BuildInterruptedError(`Build of ${options.what} interrupted — nothing was recorded; run the target again.`);
      }
      if (result.code !== 0) {
        const failed = stats.failedStep;
        const tail = failed?.log.length ? failed.log.slice(-20) : result.tail;
        throw new DockerError(
          failed
            ? `Build of ${options.what} failed at step ${failed.name} — fix that step (its log is above).`
            : `Build of ${options.what} failed: ${lastLine(result.tail.join('\n')) || `docker exited ${result.code}`} — fix the Dockerfile or context.`,
          tail
        );
      }
      const imageId = readFileSync(full.iidFile, 'utf8').trim();
      let digest: string | undefined;
      if (full.metadataFile) {
        try {
          digest = JSON.parse(readFileSync(full.metadataFile, 'utf8'))['containerimage.digest'];
        } catch {
          digest = undefined;
        }
      }
      return { imageId, stats, digest };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async tag(source: string, target: string): Promise<void> {
    const result = await this.docker(['tag', source, target]);
    if (result.code !== 0) throw new DockerError(`docker tag ${source} ${target} failed: ${lastLine(result.stderr)}`, result.tail);
  }

  /** Pushes one tag and returns the digest the registry now holds for it. */
  async push(ref: string, options: { onLine?: (line: string) => void; signal?: AbortSignal } = {}): Promise<string> {
    if (this.client.mode === 'podman') return this.podmanPush(ref, options);
    const result = await this.docker(['push', ref], options);
    if (result.aborted) throw new BuildInterruptedError(`Push of ${ref} interrupted — nothing was recorded; run the target again.`);
    if (result.code !== 0) {
      const registry = parseImageRef(ref).registry ?? 'the registry';
      throw new DockerError(
        `Push of ${ref} failed: ${lastLine(result.stderr) || `docker exited ${result.code}`} — check that ${registry} is running and you are logged in (docker login ${registry}).`,
        result.tail
      );
    }
    const info = await this.inspectImage(ref);
    const name = ref.replace(/:[^/:]+$/, '');
    const digest = info?.repoDigests.find((d) => d.startsWith(`${name}@`))?.split('@')[1];
    if (!digest) throw new DockerError(`Pushed ${ref} but docker reports no digest for it — push it again.`);
    return digest;
  }

  /** podman writes the pushed digest to a file; loopback registries speak plain HTTP. */
  private async podmanPush(ref: string, options: { onLine?: (line: string) => void; signal?: AbortSignal }): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'nx-docker-delta-'));
    try {
      const digestFile = join(dir, 'digest');
      const result = await this.docker(['push', ...this.tlsArgs(ref), '--digestfile', digestFile, ref], options);
      if (result.aborted) throw new BuildInterruptedError(`Push of ${ref} interrupted — nothing was recorded; run the target again.`);
      if (result.code !== 0) {
        const registry = parseImageRef(ref).registry ?? 'the registry';
        throw new DockerError(
          `Push of ${ref} failed: ${lastLine(result.stderr) || `podman exited ${result.code}`} — check that ${registry} is running and you are logged in (podman login ${registry}).`,
          result.tail
        );
      }
      const digest = readFileSync(digestFile, 'utf8').trim();
      if (!digest) throw new DockerError(`Pushed ${ref} but podman wrote no digest for it — push it again.`);
      return digest;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** podman refuses plain-HTTP registries unless told; docker allows loopback ones by default. */
  private tlsArgs(ref: string): string[] {
    if (this.client.mode !== 'podman') return [];
    const registry = parseImageRef(ref).registry ?? '';
    return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(registry) ? ['--tls-verify=false'] : [];
  }

  /**
   * Points `target` at exactly `source` (`repo@sha256:…`) through the docker client, for
   * registries that need its credentials: pull by digest, tag, push. Returns the pushed digest.
   */
  async retag(source: string, target: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    if (!(await this.pull(source, options))) {
      throw new DockerError(`Cannot pull ${source} — log in to its registry (docker login ${parseImageRef(source).registry ?? ''}) or push the image again, then release.`);
    }
    await this.tag(source, target);
    return this.push(target, options);
  }

  async pull(ref: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const result = await this.docker(['pull', '--quiet', ...this.tlsArgs(ref), ref], options);
    return result.code === 0;
  }

  /** Does the registry hold `ref`? Falls back to the docker client's credentials when HTTP can't tell. */
  async remoteState(ref: string): Promise<ManifestState> {
    const state = await headManifest(ref);
    if (state.state !== 'unknown' || this.client.mode === 'podman') return state;
    const result = await this.docker(['manifest', 'inspect', ref], { env: { DOCKER_CLI_EXPERIMENTAL: 'enabled' } });
    return result.code === 0 ? { state: 'present' } : state;
  }
}

function findOnPath(name: string, pathEnv: string): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  for (const dir of pathEnv.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      const real = realpathSync(candidate);
      if (seen.has(real)) continue;
      seen.add(real);
      found.push(candidate);
    } catch {
      /* not here */
    }
  }
  return found;
}

function safeMajor(version: string): number | undefined {
  const cleaned = version.replace(/\+.*$/, '').replace(/^(\d+\.\d+\.\d+).*$/, '$1');
  try {
    return major(cleaned);
  } catch {
    const m = /^(\d+)\./.exec(version);
    return m ? Number(m[1]) : undefined;
  }
}

function lastLine(text: string): string {
  return text.trim().split(/\r?\n/).filter(Boolean).pop()?.trim() ?? '';
}

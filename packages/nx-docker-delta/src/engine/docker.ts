import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { major } from 'semver';
import { BuildPlan, BuilderMode, buildArgv, parseBuildxInspect } from '../planning/build-plan';
import { parseImageRef } from '../planning/image-ref';
import { ProgressParser, StepStats } from '../planning/progress';
import { run, RunOptions } from './process';
import { headManifest, ManifestState, retag } from './registry';

/** A docker client that can run BuildKit builds against a reachable daemon. */
export interface DockerClient {
  bin: string;
  mode: BuilderMode;
  clientVersion: string;
  serverVersion: string;
  /** The daemon's own platform (`linux/amd64`): what it builds when no platform is set. */
  platform?: string;
  /** buildx only: the current builder's driver (`docker`, `docker-container`, …) and name. */
  driver?: string;
  builderName?: string;
}

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
  for (const bin of candidates) {
    // Both questions at once: every executor process probes again (Nx runs each task in its
    // own process), and sequential spawns put two docker CLI start-ups on every task's path.
    const [result, buildx, inspect] = await Promise.all([
      run(bin, ['version', '--format', '{{json .}}']).catch(() => undefined),
      run(bin, ['buildx', 'version']).catch(() => undefined),
      // The current builder's driver decides whether builds see the local image store.
      run(bin, ['buildx', 'inspect']).catch(() => undefined),
    ]);
    if (!result) {
      rejected.push(`${bin} (cannot be executed)`);
      continue;
    }
    let info: { Client?: { Version?: string }; Server?: { Version?: string; Os?: string; Arch?: string } | null } = {};
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
    const platform = info.Server.Os && info.Server.Arch ? `${info.Server.Os}/${info.Server.Arch}` : undefined;
    if (buildx?.code === 0) {
      const builder = inspect?.code === 0 ? parseBuildxInspect(inspect.stdout) : {};
      return { bin, mode: 'buildx', clientVersion, serverVersion: info.Server.Version, platform, ...builder };
    }
    const clientMajor = safeMajor(clientVersion);
    if (clientMajor !== undefined && clientMajor < 23 && clientMajor >= 18) {
      return { bin, mode: 'buildkit', clientVersion, serverVersion: info.Server.Version, platform };
    }
    rejected.push(`${bin} (client ${clientVersion || 'unknown'}, no buildx)`);
  }
  throw new DockerError(
    `No docker client here can build with BuildKit: ${rejected.join(', ')} — install the docker-buildx plugin, or set NX_DOCKER_BIN to a client with BuildKit built in (Docker CLI 18.09–22.x).`
  );
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
    const raw = JSON.parse(result.stdout.trim().split('\n')[0]) as {
      Id: string;
      RepoTags?: string[];
      RepoDigests?: string[];
      Size: number;
    };
    return { id: raw.Id, repoTags: raw.RepoTags ?? [], repoDigests: raw.RepoDigests ?? [], size: raw.Size };
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
      // Only a push makes a registry digest; with --load buildx reports a local one, which no
      // registry serves (a receipt's digest is what `image@digest` pulls).
      if (full.metadataFile && full.push) {
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

  async pull(ref: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const result = await this.docker(['pull', '--quiet', ref], options);
    return result.code === 0;
  }

  /**
   * Makes the registry tag `<image>:<tag>` serve the image a receipt names and returns the digest
   * it now serves: by the registry API from `digest` (no layers move), else — a registry that
   * wants credentials only the docker client has, or no digest known — by pushing the local
   * image whose ID is `imageId`. Never pushes whatever the local tag happens to point at.
   */
  async pointRegistryTag(target: { image: string; tag: string; digest?: string; imageId: string }): Promise<{ digest: string; via: 'registry' | 'push' }> {
    const ref = `${target.image}:${target.tag}`;
    const viaApi = target.digest ? await retag(`${target.image}@${target.digest}`, target.tag) : { ok: false as const, reason: 'no digest recorded' };
    if (viaApi.ok) return { digest: viaApi.digest, via: 'registry' };
    if (!(await this.inspectImage(target.imageId))) {
      const registry = parseImageRef(ref).registry ?? 'the registry';
      throw new DockerError(
        `Cannot point ${ref} at ${target.digest ?? target.imageId}: ${viaApi.reason} and the image is not in the local image store — log in (docker login ${registry}) or run with --skip-nx-cache to rebuild it.`
      );
    }
    await this.tag(target.imageId, ref);
    return { digest: await this.push(ref), via: 'push' };
  }

  /** Does the registry hold `ref`? Falls back to the docker client's credentials when HTTP can't tell. */
  async remoteState(ref: string): Promise<ManifestState> {
    const state = await headManifest(ref);
    if (state.state !== 'unknown') return state;
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

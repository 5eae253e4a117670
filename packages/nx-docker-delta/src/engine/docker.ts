import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
// The one function, not semver's index (~25 ms of every docker-build command's start-up).
import major = require('semver/functions/major');
import type { BuildSecret } from '../planning/build-inputs';
import { BuildPlan, BuilderMode, buildArgv, parseBuildxInspect } from '../planning/build-plan';
import { configFromStore, type ImageConfigJson, type StoreHistoryEntry, type StoreInspect } from '../planning/image-config';
import { parseImageRef } from '../planning/image-ref';
import { ProgressParser, StepStats, daemonLostDuringBuild } from '../planning/progress';
import type { SmokeObservation } from '../planning/smoke';
import { ApiResponse, apiErrorMessage, ApiUnavailableError, DaemonApi, historyEntryFromApi, imagePath, parseLoadStream, type ApiHistoryEntry } from './daemon-api';
import { run, RunOptions } from './process';
import { daemonAnswers, localDaemonSocket, probeFingerprint, readCachedProbe, writeCachedProbe } from './probe-cache';
import { imageIdOfManifest, ManifestState, RegistryClient, RegistryError } from './registry';

/** A docker client that can run BuildKit builds against a reachable daemon. */
export interface DockerClient {
  bin: string;
  mode: BuilderMode;
  clientVersion: string;
  serverVersion: string;
  /** The daemon's own platform (`linux/amd64`): what it builds when no platform is set. */
  platform?: string;
  /** How long finding this client took in this process, and whether a previous process's answer was reused. */
  probe?: { ms: number; reused: boolean };
  /** What this engine does differently, said once when it is probed (podman). */
  note?: string;
  /**
   * Which image store the daemon keeps images in: Docker's graph drivers (`classic`, the only one
   * before Docker 24) or the containerd image store. Decides whether `docker load` can add an
   * assembled image on layers the store already holds (builds/assemble.ts).
   */
  imageStore?: 'classic' | 'containerd';
  /** buildx only: the current builder's driver (`docker`, `docker-container`, …) and name. */
  driver?: string;
  builderName?: string;
  /**
   * The daemon's unix socket when this client talks to the local one (default context, unix
   * DOCKER_HOST): inspect, history and load then go through the Engine API, no CLI start-up.
   * Not kept in the probe cache: taken from this process's environment.
   */
  socket?: string;
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
export function probeDocker(options: { bin?: string; env?: NodeJS.ProcessEnv; cacheFile?: string } = {}): Promise<DockerClient> {
  const key = options.bin ?? '';
  let probe = probes.get(key);
  if (!probe) {
    const env = options.env ?? process.env;
    const started = performance.now();
    probe = (options.cacheFile ? cachedProbe(options.bin, env, options.cacheFile) : doProbe(options.bin, env)).then((client) => {
      const socket = client.mode === 'podman' || env.NX_DOCKER_API === '0' ? undefined : localDaemonSocket(env);
      return { ...client, ...(socket ? { socket } : {}), probe: { ms: Math.round(performance.now() - started), reused: client.probe?.reused ?? false } };
    });
    probes.set(key, probe);
    probe.catch(() => probes.delete(key));
  }
  return probe;
}

/**
 * The previous process's answer while nothing it depends on changed and the same daemon still
 * answers (see ./probe-cache); otherwise a real probe, remembered for the next process.
 */
async function cachedProbe(explicit: string | undefined, env: NodeJS.ProcessEnv, file: string): Promise<DockerClient> {
  const fingerprint = probeFingerprint({ candidates: explicit ? [explicit] : findOnPath('docker', env.PATH ?? ''), env });
  if (fingerprint) {
    const cached = readCachedProbe(file, fingerprint.key);
    if (cached && (await daemonAnswers(fingerprint.socket))) return { ...cached, probe: { ms: 0, reused: true } };
  }
  const client = await doProbe(explicit, env);
  if (fingerprint) writeCachedProbe(file, fingerprint.key, client);
  return client;
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
    const [result, buildx, inspect, storage] = await Promise.all([
      run(bin, ['version', '--format', '{{json .}}']).catch(() => undefined),
      run(bin, ['buildx', 'version']).catch(() => undefined),
      // The current builder's driver decides whether builds see the local image store.
      run(bin, ['buildx', 'inspect']).catch(() => undefined),
      run(bin, ['info', '--format', '{{json .DriverStatus}}']).catch(() => undefined),
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
    const imageStore = storage?.code === 0 ? (/io\.containerd\.snapshotter/.test(storage.stdout) ? ('containerd' as const) : ('classic' as const)) : undefined;
    if (buildx?.code === 0) {
      const builder = inspect?.code === 0 ? parseBuildxInspect(inspect.stdout) : {};
      return { bin, mode: 'buildx', clientVersion, serverVersion: info.Server.Version, platform, imageStore, ...builder };
    }
    const clientMajor = safeMajor(clientVersion);
    if (clientMajor !== undefined && clientMajor < 23 && clientMajor >= 18) {
      return { bin, mode: 'buildkit', clientVersion, serverVersion: info.Server.Version, platform, imageStore };
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
  /** `EXPOSE`d ports as the image config holds them, e.g. `["3000/tcp"]`. */
  exposedPorts: string[];
}

/** Talks to one docker client. The only place in the plugin that runs docker. */
export class DockerEngine {
  constructor(
    readonly client: DockerClient,
    /** Talks to registries with the same credentials, CAs and proxies as this docker client. */
    readonly registry: RegistryClient = new RegistryClient({ env: process.env })
  ) {}

  /**
   * Can a build read an image it builds FROM straight from the registry? BuildKit of Docker 23+
   * (classic or buildx) can, so a base or dependency image that is in the registry need not be
   * pulled first. Docker 20.10's BuildKit (v0.8) is left out: fetching layers of an image that is
   * not in the local store crashes that daemon now and then ("panic: runtime error: invalid
   * memory address or nil pointer dereference" in cache.setImageRefMetadata, moby/buildkit#2153),
   * so there the image is pulled by the daemon first, as before. podman is left out too: its
   * builds are not given the flags a plain-HTTP registry needs.
   */
  get buildsFromRegistry(): boolean {
    if (this.client.mode === 'podman') return false;
    const major = safeMajor(this.client.serverVersion);
    return major !== undefined && major >= 23;
  }

  /**
   * Push mode: is a base or dependency image the registry already holds left there (receipt
   * outcome `remote`) instead of pulled? Everywhere but podman (whose builds are not given the
   * flags a plain-HTTP registry needs). Where the build cannot read it from the registry itself
   * (`buildsFromRegistry` false: Docker 20.10), the build that needs it pulls it first — and
   * only that build: an image assembled in the registry needs neither image here.
   */
  get leavesImagesInRegistry(): boolean {
    return this.client.mode !== 'podman';
  }

  /** Images this process left in the registry (leftInRegistry), for the build that needs one to pull it first. */
  private readonly remoteOnly = new Set<string>();

  /** Records a base or dependency image left in the registry (see leavesImagesInRegistry). */
  leftInRegistry(ref: string): void {
    this.remoteOnly.add(ref);
  }

  /** Pulls what a build reads through its build args and this process left in the registry, where BuildKit must not fetch it itself. */
  private async pullForBuild(buildArgs: Record<string, string>, options: { onLine?: (line: string) => void; signal?: AbortSignal }): Promise<void> {
    if (this.buildsFromRegistry) return;
    for (const ref of new Set(Object.values(buildArgs))) {
      if (!this.remoteOnly.delete(ref) || (await this.inspectImage(ref))) continue;
      options.onLine?.(`Pulling ${ref} for this build: the BuildKit of Docker ${this.client.serverVersion} must not read it from the registry itself (moby/buildkit#2153).`);
      if (!(await this.pull(ref, { signal: options.signal }))) {
        throw new DockerError(`Could not pull ${ref}, which this build needs, from the registry — check that the registry is up and your login (docker login), then run again.`);
      }
    }
  }

  /** What one batched `image inspect` found (prefetchImages), until the next command that may change images. */
  private readonly inspected = new Map<string, ImageInfo | undefined>();

  private docker(args: string[], options: RunOptions = {}) {
    if (args[0] !== 'image' || args[1] !== 'inspect') this.inspected.clear();
    return run(this.client.bin, args, options);
  }

  /** The Engine API on the local daemon's socket, while it answers (client.socket). */
  private apiState: DaemonApi | null | undefined;

  private get api(): DaemonApi | undefined {
    if (this.apiState === undefined) this.apiState = this.client.socket ? new DaemonApi({ socket: this.client.socket }) : null;
    return this.apiState ?? undefined;
  }

  /** The API stopped answering: this process asks the CLI from now on. */
  private dropApi(): void {
    this.apiState = null;
  }

  /**
   * Asks the daemon through its API; undefined when it cannot be asked (then the CLI is used,
   * for this and every later question of this process) or answers other than found / not found.
   */
  private async askApi(paths: string[]): Promise<ApiResponse[] | undefined> {
    const api = this.api;
    if (!api) return undefined;
    try {
      const answers = await Promise.all(paths.map((path) => api.get(path)));
      return answers.every((a) => a.status === 200 || a.status === 404) ? answers : undefined;
    } catch (error) {
      if (!(error instanceof ApiUnavailableError)) throw error;
      this.dropApi();
      return undefined;
    }
  }

  /**
   * Asks about several images at once (through the Engine API, or in one docker CLI start-up,
   * which costs 50–200 ms on a busy machine); the next `inspectImage` of each — and only the
   * next — answers from it. Only
   * answers docker is explicit about are kept (an image listed under the reference, or "No
   * such image: <reference>"), and any other command clears them.
   */
  async prefetchImages(refs: readonly string[]): Promise<void> {
    const unique = [...new Set(refs)];
    // podman prints one pretty-printed array and no per-image "No such image" lines.
    if (this.client.mode === 'podman' || unique.length < 2) return;
    const answers = await this.askApi(unique.map((ref) => imagePath(ref, 'json')));
    if (answers) {
      unique.forEach((ref, i) => this.inspected.set(ref, answers[i].status === 200 ? parseInspect(answers[i].body) : undefined));
      return;
    }
    const result = await this.docker(['image', 'inspect', '--format', '{{json .}}', ...unique]);
    const found = new Map<string, ImageInfo>();
    for (const line of result.stdout.split('\n')) {
      if (!line.trim().startsWith('{')) continue;
      const info = parseInspect(line);
      for (const ref of unique) if (info.repoTags.includes(ref)) found.set(ref, info);
    }
    const missing = new Set(result.stderr.split('\n').map((l) => /No such image: (\S+)/.exec(l)?.[1]).filter(Boolean));
    for (const ref of unique) {
      if (found.has(ref)) this.inspected.set(ref, found.get(ref));
      else if (missing.has(ref)) this.inspected.set(ref, undefined);
    }
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    // Each prefetched answer is used once: asked again (after waiting on a lock another process
    // held, say), the store is asked again.
    if (this.inspected.has(ref)) {
      const known = this.inspected.get(ref);
      this.inspected.delete(ref);
      return known;
    }
    const answer = (await this.askApi([imagePath(ref, 'json')]))?.[0];
    if (answer) return answer.status === 200 ? parseInspect(answer.body) : undefined;
    const result = await this.docker(['image', 'inspect', '--format', '{{json .}}', ref]);
    if (result.code !== 0) return undefined;
    return parseInspect(result.stdout);
  }

  /**
   * Runs a build, streaming BuildKit's plain progress to `onLine`, and returns the image ID
   * (read from `--iidfile`, not from the log) with the step counts.
   */
  async build(
    plan: Omit<BuildPlan, 'mode' | 'iidFile' | 'metadataFile' | 'secrets'> & { secrets?: BuildSecret[] },
    options: { onLine?: (line: string) => void; signal?: AbortSignal; what: string }
  ): Promise<{ imageId: string; stats: StepStats; digest?: string }> {
    await this.pullForBuild(plan.buildArgs ?? {}, options);
    // 0700, outside every build context; removed when the build ends, whatever happens.
    const dir = mkdtempSync(join(tmpdir(), 'nx-docker-delta-'));
    try {
      // Secret values become 0600 files: docker 20.10's classic BuildKit client has no `env=`
      // source, and a value on the command line would show in `ps` and in logs.
      const secrets = (plan.secrets ?? []).map((secret, index) => {
        if ('src' in secret) return secret;
        const src = join(dir, `secret-${index}`);
        writeFileSync(src, secret.text, { mode: 0o600 });
        return { id: secret.id, src };
      });
      const full: BuildPlan = {
        ...plan,
        secrets,
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
      if (result.code !== 0 && daemonLostDuringBuild(result.tail)) {
        throw new DockerError(
          `The Docker daemon went away during the build of ${options.what} (${lastLine(result.tail.join('\n'))}) — check that it runs again (docker info) and rerun the target; nothing was recorded.`,
          result.tail
        );
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

  private storeBlocker?: Promise<string | undefined>;

  /**
   * Local mode: why an assembled image cannot be added to this engine's image store with
   * `docker load` (one sentence), or undefined when it can. The classic image store (Docker's
   * graph drivers, the only store before Docker 24) registers just the layers a loaded archive
   * adds; the containerd image store and podman import whole images, so there the service is
   * built with docker build. The probe records the store (and the probe is shared between
   * processes); only a client probed without that answer asks `docker info` here.
   */
  localStoreBlocker(): Promise<string | undefined> {
    this.storeBlocker ??= (async () => {
      if (this.client.mode === 'podman') return 'podman keeps its own build';
      const major = safeMajor(this.client.serverVersion);
      if (major !== undefined && major < 24) return undefined;
      let store = this.client.imageStore;
      if (!store) {
        const result = await this.docker(['info', '--format', '{{json .DriverStatus}}']);
        if (result.code !== 0) return `docker info did not say which image store the daemon uses (${lastLine(result.stderr) || `exit ${result.code}`})`;
        store = /io\.containerd\.snapshotter/.test(result.stdout) ? 'containerd' : 'classic';
      }
      return store === 'containerd' ? 'the daemon keeps images in the containerd image store, which docker load adds only whole images to' : undefined;
    })();
    return this.storeBlocker;
  }

  /** The config of an image in the local store (configFromStore), or undefined when the store does not hold it. */
  async imageConfig(ref: string): Promise<{ id: string; config: ImageConfigJson } | undefined> {
    const answers = await this.askApi([imagePath(ref, 'json'), imagePath(ref, 'history')]);
    if (answers) {
      if (answers.some((a) => a.status !== 200)) return undefined;
      const raw = JSON.parse(answers[0].body) as StoreInspect & { Id: string };
      const entries = (JSON.parse(answers[1].body) as ApiHistoryEntry[]).map(historyEntryFromApi);
      return { id: raw.Id, config: configFromStore(raw, entries) };
    }
    const [inspect, history] = await Promise.all([
      this.docker(['image', 'inspect', '--format', '{{json .}}', ref]),
      this.docker(['image', 'history', '--no-trunc', '--human=false', '--format', '{{json .}}', ref]),
    ]);
    if (inspect.code !== 0 || history.code !== 0) return undefined;
    const raw = JSON.parse(inspect.stdout.trim().split('\n')[0]) as StoreInspect & { Id: string };
    const entries = history.stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as StoreHistoryEntry);
    return { id: raw.Id, config: configFromStore(raw, entries) };
  }

  /** `docker load` of a docker-save-format archive (loadManifest); returns the tags docker reports loaded. */
  async load(archive: Buffer, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    const viaApi = await this.loadViaApi(archive, options.signal);
    if (viaApi) return viaApi;
    const dir = mkdtempSync(join(tmpdir(), 'nx-docker-delta-'));
    try {
      const file = join(dir, 'image.tar');
      writeFileSync(file, archive);
      const result = await this.docker(['load', '--input', file], { signal: options.signal });
      if (result.aborted) throw new BuildInterruptedError('docker load interrupted — nothing was recorded; run the target again.');
      if (result.code !== 0) throw new DockerError(`docker load failed: ${lastLine(result.stderr) || `docker exited ${result.code}`} — check that the daemon runs (docker info) and run again; NX_DOCKER_ASSEMBLE=0 builds the service with docker build instead.`, result.tail);
      return [...result.stdout.matchAll(/^Loaded image: (\S+)$/gm)].map((m) => m[1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** `POST /images/load`; undefined when the API cannot be asked (the CLI loads it then). */
  private async loadViaApi(archive: Buffer, signal: AbortSignal | undefined): Promise<string[] | undefined> {
    const api = this.api;
    if (!api) return undefined;
    this.inspected.clear();
    let answer: ApiResponse;
    try {
      answer = await api.post('/images/load?quiet=1', archive, 'application/x-tar', signal);
    } catch (error) {
      if (signal?.aborted) throw new BuildInterruptedError('docker load interrupted — nothing was recorded; run the target again.');
      if (!(error instanceof ApiUnavailableError)) throw error;
      this.dropApi();
      return undefined;
    }
    const outcome = answer.status === 200 ? parseLoadStream(answer.body) : { loaded: [], error: apiErrorMessage(answer.body) || `status ${answer.status}` };
    if (outcome.error) {
      throw new DockerError(`docker load failed: ${outcome.error} — check that the daemon runs (docker info) and run again; NX_DOCKER_ASSEMBLE=0 builds the service with docker build instead.`, [outcome.error]);
    }
    return outcome.loaded;
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
    // What the build asks next (size, ID for its receipt): answered once from this inspect.
    this.inspected.set(ref, info);
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

  /**
   * Starts `ref` detached and watches it until it listens on `port` (a TCP connect to the
   * container's address, which only succeeds once the process accepts: a published host port
   * would be accepted by docker-proxy even with nothing behind it), exits, or `timeoutMs`
   * passes. The container is always removed; its last log lines come back for the report.
   */
  async startCheck(
    ref: string,
    options: { port?: number; timeoutMs: number; signal?: AbortSignal; name: string }
  ): Promise<{ observation: SmokeObservation; logs: string[] }> {
    const started = Date.now();
    const created = await this.docker(['run', '--detach', '--name', options.name, ref]);
    if (created.code !== 0) {
      throw new DockerError(`Start check could not start ${ref}: ${lastLine(created.stderr) || `docker exited ${created.code}`} — check the image's CMD/ENTRYPOINT.`, created.tail);
    }
    const id = created.stdout.trim().split('\n').pop() as string;
    let observation: SmokeObservation | undefined;
    try {
      while (!observation) {
        if (options.signal?.aborted) {
          observation = { kind: 'interrupted' };
          break;
        }
        const state = await this.docker(['inspect', '--format', '{{.State.Running}} {{.State.ExitCode}} {{.NetworkSettings.IPAddress}}', id]);
        const [running, code, address] = state.stdout.trim().split(' ');
        const afterMs = Date.now() - started;
        if (state.code === 0 && running === 'false') {
          observation = { kind: 'exited', code: Number(code), afterMs };
        } else if (options.port !== undefined && address && (await canConnect(address, options.port))) {
          observation = { kind: 'listening', port: options.port, afterMs };
        } else if (afterMs >= options.timeoutMs) {
          observation = { kind: 'running', afterMs };
        } else {
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      const logs = await this.docker(['logs', '--tail', '20', id]);
      return { observation, logs: [...logs.stdout.split('\n'), ...logs.stderr.split('\n')].filter((l) => l.trim()) };
    } finally {
      await this.docker(['rm', '--force', id]);
    }
  }

  /**
   * Makes the registry tag `<image>:<tag>` serve the image a receipt names and returns the digest
   * it now serves: by the registry API from `digest` (no layers move), else — a registry that
   * wants credentials only the docker client has, or no digest known — by pushing the local
   * image whose ID is `imageId`. Never pushes whatever the local tag happens to point at.
   */
  async pointRegistryTag(target: { image: string; tag: string; digest?: string; imageId: string }): Promise<{ digest: string; via: 'registry' | 'push' }> {
    const ref = `${target.image}:${target.tag}`;
    let reason = 'no digest recorded';
    if (target.digest) {
      try {
        // Already there (a base's `latest` on every run after the first): nothing to write.
        const current = await this.registry.headManifest(ref);
        if (current.state === 'present' && current.digest === target.digest) return { digest: target.digest, via: 'registry' };
        const manifest = await this.registry.getManifest(`${target.image}@${target.digest}`);
        if (manifest) return { digest: await this.registry.putManifest(ref, manifest.body, manifest.mediaType), via: 'registry' };
        reason = `${target.image}@${target.digest} is not in the registry`;
      } catch (error) {
        if (!(error instanceof RegistryError)) throw error;
        reason = error.message;
      }
    }
    if (!(await this.inspectImage(target.imageId))) {
      const registry = parseImageRef(ref).registry ?? 'the registry';
      throw new DockerError(
        `Cannot point ${ref} at ${target.digest ?? target.imageId}: ${reason.replace(/[.]$/, '')}, and the image is not in the local image store — log in (docker login ${registry}) or run with --skip-nx-cache to rebuild it.`
      );
    }
    await this.tag(target.imageId, ref);
    return { digest: await this.push(ref), via: 'push' };
  }

  /**
   * What the registry holds under `ref` in one request (a GET of the manifest): its digest and,
   * for a single-platform image, the image ID a pull would give it — so an image that is
   * already in the registry can be recorded (and built FROM) without pulling it.
   */
  async remoteImage(ref: string): Promise<{ state: 'present'; digest: string; imageId?: string } | { state: 'absent' } | { state: 'unknown'; reason: string }> {
    try {
      const manifest = await this.registry.getManifest(ref);
      if (!manifest) return { state: 'absent' };
      return { state: 'present', digest: manifest.digest, imageId: imageIdOfManifest(manifest.body, manifest.mediaType) };
    } catch (error) {
      if (error instanceof RegistryError) return { state: 'unknown', reason: error.message };
      throw error;
    }
  }

  /**
   * Does the registry hold `ref`, and under which digest? A registry that cannot be asked
   * (network, TLS, credentials) throws its sentence, unless `optional` (the caller has a
   * fallback): then the answer is `unknown` with that sentence.
   */
  async remoteState(ref: string, options: { optional?: boolean } = {}): Promise<ManifestState> {
    const state = await this.registry.headManifest(ref);
    if (state.state === 'unknown' && !options.optional) throw new RegistryError(state.reason);
    return state;
  }
}

/** One image's `docker image inspect --format '{{json .}}'` output (or podman's array). */
function parseInspect(output: string): ImageInfo {
  // podman 4.3 ignores `{{json .}}` and prints its whole inspect array, pretty-printed.
  const text = output.trim();
  const raw = (text.startsWith('[') ? JSON.parse(text)[0] : JSON.parse(text.split('\n')[0])) as {
    Id: string;
    RepoTags?: string[];
    RepoDigests?: string[];
    Size: number;
    Config?: { ExposedPorts?: Record<string, unknown> | null };
  };
  return {
    // podman reports the ID without the `sha256:` that --iidfile writes.
    id: raw.Id.includes(':') ? raw.Id : `sha256:${raw.Id}`,
    repoTags: raw.RepoTags ?? [],
    repoDigests: raw.RepoDigests ?? [],
    size: raw.Size,
    exposedPorts: Object.keys(raw.Config?.ExposedPorts ?? {}),
  };
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

/** Whether something accepts a TCP connection at address:port (within a second). */
function canConnect(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// One Docker probe per machine state, not per task process. Nx runs every task in its own
// process, so docker-base, docker-service and docker-build each asked `docker version` and
// `docker buildx version` again (two CLI start-ups, 100–300 ms on a busy 2-core machine) on the
// critical path of every delta. The answer only changes when the client, its plugins, its
// configuration or the daemon change — all of which this fingerprint sees without spawning.
import type { BuilderMode } from '../planning/build-plan';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { DaemonApi } from './daemon-api';

/** What a probe found; kept in sync with DockerClient in ./docker (not imported: no cycle). */
export interface CachedClient {
  bin: string;
  mode: BuilderMode;
  clientVersion: string;
  serverVersion: string;
  /** The daemon's platform: part of every content tag, so it must survive the cache. */
  platform?: string;
  /** buildx: the current builder's driver and name (decide where bases are read from). */
  driver?: string;
  builderName?: string;
}

const FORMAT = 'nx-docker-delta-docker-probe/2';

/** Folders the docker CLI looks for plugins in (docker/cli `cli-plugins/manager`), besides `$DOCKER_CONFIG/cli-plugins`. */
const SYSTEM_PLUGIN_DIRS = ['/usr/local/lib/docker/cli-plugins', '/usr/local/libexec/docker/cli-plugins', '/usr/lib/docker/cli-plugins', '/usr/libexec/docker/cli-plugins'];

function statKey(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return '-';
  }
}

function fileHash(path: string): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return '-';
  }
}

/**
 * The fingerprint of everything a probe's answer depends on, or undefined when it cannot be
 * taken cheaply (a tcp/ssh daemon, a non-default docker context): then every process probes.
 */
/**
 * The local daemon's unix socket when the docker CLI talks to it (a unix DOCKER_HOST or none, the
 * default context), else undefined: a tcp/ssh daemon or another context is the CLI's to reach.
 */
export function localDaemonSocket(env: NodeJS.ProcessEnv): string | undefined {
  const host = env.DOCKER_HOST || 'unix:///var/run/docker.sock';
  if (!host.startsWith('unix://')) return undefined;
  if (env.DOCKER_CONTEXT && env.DOCKER_CONTEXT !== 'default') return undefined;
  try {
    const context = JSON.parse(readFileSync(join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json'), 'utf8')).currentContext;
    if (context && context !== 'default') return undefined;
  } catch {
    /* no config: the default context */
  }
  return host.slice('unix://'.length);
}

/**
 * The fingerprint of everything a probe's answer depends on, or undefined when it cannot be
 * taken cheaply (a tcp/ssh daemon, a non-default docker context): then every process probes.
 */
export function probeFingerprint(input: { candidates: readonly string[]; env: NodeJS.ProcessEnv }): { key: string; socket: string } | undefined {
  const { env } = input;
  const socket = localDaemonSocket(env);
  if (!socket) return undefined;
  const host = env.DOCKER_HOST || 'unix:///var/run/docker.sock';
  const configDir = env.DOCKER_CONFIG || join(homedir(), '.docker');
  const configFile = join(configDir, 'config.json');
  const socketKey = statKey(socket);
  // No socket: let the real probe say "daemon not reachable" in its own words.
  if (socketKey === '-') return undefined;
  // buildx/current names the builder `docker buildx use` selected: its driver decides where bases are read from.
  const parts = [FORMAT, host, socketKey, env.DOCKER_CONFIG ?? '', fileHash(configFile), fileHash(join(configDir, 'buildx', 'current')), env.BUILDX_BUILDER ?? '', env.DOCKER_BUILDKIT ?? ''];
  for (const candidate of input.candidates) {
    let real = candidate;
    try {
      real = realpathSync(candidate);
    } catch {
      /* recorded as missing below */
    }
    parts.push(candidate, real, statKey(real));
  }
  for (const dir of [join(configDir, 'cli-plugins'), ...SYSTEM_PLUGIN_DIRS]) parts.push(statKey(join(dir, 'docker-buildx')));
  return { key: createHash('sha256').update(parts.join('\0')).digest('hex'), socket };
}

/**
 * How many fingerprints one file keeps. Task processes of one run can see different fingerprints
 * of the same machine: Nx starts an executor's process and an `nx:run-commands` command with PATH
 * in another order, so with two docker clients on PATH (or `/bin` and `/usr/bin` both listed) a
 * single remembered answer was replaced by each kind of process in turn and every task probed.
 */
const KEPT_FINGERPRINTS = 8;

interface CacheEntry {
  client: CachedClient;
  probedAt: string;
}

function readEntries(file: string): Record<string, CacheEntry> {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8'));
    return data?.format === FORMAT && data.entries && typeof data.entries === 'object' ? (data.entries as Record<string, CacheEntry>) : {};
  } catch {
    return {};
  }
}

export function readCachedProbe(file: string, key: string): CachedClient | undefined {
  const client = readEntries(file)[key]?.client;
  return client?.bin && client.mode ? client : undefined;
}

export function writeCachedProbe(file: string, key: string, client: CachedClient): void {
  try {
    // Newest last; the oldest fingerprints go first (a machine's state only ever needs a few).
    const kept = Object.entries(readEntries(file)).filter(([k]) => k !== key);
    const entries = Object.fromEntries([...kept.slice(-(KEPT_FINGERPRINTS - 1)), [key, { client, probedAt: new Date().toISOString() }]]);
    mkdirSync(dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify({ format: FORMAT, entries }) + '\n');
    renameSync(temp, file);
  } catch {
    // A read-only data directory only costs the next process a probe.
  }
}

/** `GET /_ping` on the daemon's unix socket: the same daemon still answers (a few ms, no CLI start-up). */
export async function daemonAnswers(socket: string, timeoutMs = 2000): Promise<boolean> {
  try {
    return (await new DaemonApi({ socket, timeoutMs }).get('/_ping')).status === 200;
  } catch {
    return false;
  }
}

/**
 * The image config and manifest of an assembled image: the parent's (the runtime with
 * dependencies), plus one layer and what the instructions after the app COPY set — the way the
 * Dockerfile builder records them. Pure: JSON in, bytes out; the same inputs give the same bytes.
 */
import type { Instruction } from './assemble';
import { FIXED_CREATED } from './layer-tar';

export const LAYER_MEDIA_TYPES: Record<string, string> = {
  'application/vnd.docker.distribution.manifest.v2+json': 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.oci.image.manifest.v1+json': 'application/vnd.oci.image.layer.v1.tar+gzip',
};
const CONFIG_MEDIA_TYPES: Record<string, string> = {
  'application/vnd.docker.distribution.manifest.v2+json': 'application/vnd.docker.container.image.v1+json',
  'application/vnd.oci.image.manifest.v1+json': 'application/vnd.oci.image.config.v1+json',
};

/** The parts of an image config this composes (the rest is carried over unchanged). */
export interface ImageConfigJson {
  architecture?: string;
  os?: string;
  created?: string;
  config?: ContainerConfig;
  rootfs?: { type: string; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; comment?: string; empty_layer?: boolean }>;
  [key: string]: unknown;
}

interface ContainerConfig {
  User?: string;
  Env?: string[] | null;
  ExposedPorts?: Record<string, object> | null;
  Cmd?: string[] | null;
  Entrypoint?: string[] | null;
  Labels?: Record<string, string> | null;
  Volumes?: Record<string, object> | null;
  StopSignal?: string;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
  [key: string]: unknown;
}

export class ImageConfigError extends Error {}

/**
 * The config of the assembled image. `labels` are the build's `--label`s (applied last, as
 * docker build does). `created` is fixed: a timestamp would make every assembly a new image.
 */
export function composeConfig(parent: ImageConfigJson, o: { diffId: string; appCopy: string; metadata: Instruction[]; labels: Record<string, string> }): ImageConfigJson {
  const { container: _c, container_config: _cc, docker_version: _dv, ...rest } = parent as ImageConfigJson & Record<string, unknown>;
  const config: ContainerConfig = { ...(parent.config ?? {}) };
  const history = [...(parent.history ?? [])];
  history.push({ created: FIXED_CREATED, created_by: `${o.appCopy} # nx-docker-delta assemble`, comment: 'nx-docker-delta' });
  let cmdSet = false;
  for (const i of o.metadata) {
    applyInstruction(config, i, () => cmdSet, () => (cmdSet = true));
    history.push({ created: FIXED_CREATED, created_by: `${i.text} # nx-docker-delta assemble`, comment: 'nx-docker-delta', empty_layer: true });
  }
  if (Object.keys(o.labels).length) config.Labels = { ...(config.Labels ?? {}), ...o.labels };
  return {
    ...rest,
    created: FIXED_CREATED,
    config,
    rootfs: { type: 'layers', diff_ids: [...(parent.rootfs?.diff_ids ?? []), o.diffId] },
    history,
  };
}

function applyInstruction(config: ContainerConfig, i: Instruction, cmdSet: () => boolean, markCmd: () => void): void {
  switch (i.keyword) {
    case 'USER':
      config.User = i.args;
      return;
    case 'ENV': {
      const env = [...(config.Env ?? [])];
      for (const [name, value] of i.properties ?? []) {
        const at = env.findIndex((e) => e.split('=')[0] === name);
        if (at >= 0) env[at] = `${name}=${value}`;
        else env.push(`${name}=${value}`);
      }
      config.Env = env;
      return;
    }
    case 'LABEL':
      config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(i.properties ?? []) };
      return;
    case 'EXPOSE': {
      const ports = { ...(config.ExposedPorts ?? {}) };
      for (const p of i.args.split(/\s+/).filter(Boolean)) ports[p.includes('/') ? p.toLowerCase() : `${p}/tcp`] = {};
      config.ExposedPorts = ports;
      return;
    }
    case 'VOLUME': {
      const volumes = { ...(config.Volumes ?? {}) };
      for (const v of i.args.startsWith('[') ? (parseJsonArray(i) as string[]) : i.args.split(/\s+/).filter(Boolean)) volumes[v] = {};
      config.Volumes = volumes;
      return;
    }
    case 'STOPSIGNAL':
      config.StopSignal = i.args;
      return;
    case 'CMD':
      config.Cmd = commandForm(i);
      markCmd();
      return;
    case 'ENTRYPOINT':
      config.Entrypoint = commandForm(i);
      // Docker: ENTRYPOINT resets a CMD inherited from the parent, not one set in this stage.
      if (!cmdSet()) config.Cmd = null;
      return;
    case 'HEALTHCHECK':
      config.Healthcheck = healthcheck(i);
      return;
    default:
      throw new ImageConfigError(`${i.keyword} is not an image-config instruction`);
  }
}

/** Exec form (JSON array) as is; shell form through `/bin/sh -c`, as the builder records it. */
function commandForm(i: Instruction, args = i.args): string[] {
  const text = args.trim();
  if (text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed;
    } catch {
      // Docker runs an invalid JSON array as a shell command: so do we.
    }
  }
  return ['/bin/sh', '-c', text];
}

function parseJsonArray(i: Instruction): unknown[] {
  try {
    const parsed: unknown = JSON.parse(i.args);
    if (Array.isArray(parsed)) return parsed;
  } catch {
    /* below */
  }
  throw new ImageConfigError(`line ${i.line}: ${i.keyword} has an invalid JSON array`);
}

function healthcheck(i: Instruction): ContainerConfig['Healthcheck'] {
  const body = i.args.trim();
  if (/^NONE$/i.test(body)) return { Test: ['NONE'] };
  const m = /^CMD\s+([\s\S]*)$/i.exec(body);
  if (!m) throw new ImageConfigError(`line ${i.line}: HEALTHCHECK needs CMD or NONE`);
  const form = commandForm(i, m[1]);
  const test = form[0] === '/bin/sh' && form[1] === '-c' && !m[1].trim().startsWith('[') ? ['CMD-SHELL', form[2]] : ['CMD', ...form];
  const hc: NonNullable<ContainerConfig['Healthcheck']> = { Test: test };
  if (i.flags['interval']) hc.Interval = durationNs(i.flags['interval'], i);
  if (i.flags['timeout']) hc.Timeout = durationNs(i.flags['timeout'], i);
  if (i.flags['start-period']) hc.StartPeriod = durationNs(i.flags['start-period'], i);
  if (i.flags['start-interval']) hc.StartInterval = durationNs(i.flags['start-interval'], i);
  if (i.flags['retries']) hc.Retries = Number(i.flags['retries']);
  return hc;
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration (`30s`, `1m30s`, `1.5h`) in nanoseconds. */
export function durationNs(text: string, i?: Instruction): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * UNITS[m[2]];
    consumed += m[0].length;
  }
  if (!text || consumed !== text.length) throw new ImageConfigError(`${i ? `line ${i.line}: ` : ''}"${text}" is not a duration (write e.g. 30s or 1m30s)`);
  return Math.round(total);
}

/** JSON as the image's bytes: stable key order as composed, no whitespace. */
export function configBytes(config: ImageConfigJson): Buffer {
  return Buffer.from(JSON.stringify(config));
}

export interface ManifestJson {
  schemaVersion: number;
  mediaType?: string;
  config: { mediaType: string; size: number; digest: string };
  layers: Array<{ mediaType: string; size: number; digest: string; [k: string]: unknown }>;
  [key: string]: unknown;
}

/**
 * The assembled manifest: the parent's layers plus the app layer, in the parent's media-type
 * family (Docker schema 2 or OCI). Throws for an index (a multi-platform parent).
 */
export function composeManifest(parent: ManifestJson, mediaType: string, o: { config: { digest: string; size: number }; layer: { digest: string; size: number } }): { body: Buffer; mediaType: string } {
  const family = parent.mediaType ?? mediaType;
  const layerType = LAYER_MEDIA_TYPES[family];
  if (!layerType || !Array.isArray(parent.layers)) throw new ImageConfigError(`the runtime image's manifest is ${family || 'of an unknown type'}, not a single-platform image manifest`);
  const manifest: ManifestJson = {
    schemaVersion: 2,
    mediaType: family,
    config: { mediaType: parent.config?.mediaType ?? CONFIG_MEDIA_TYPES[family], size: o.config.size, digest: o.config.digest },
    layers: [...parent.layers.map(({ mediaType: t, size, digest }) => ({ mediaType: t, size, digest })), { mediaType: layerType, size: o.layer.size, digest: o.layer.digest }],
  };
  return { body: Buffer.from(JSON.stringify(manifest, null, 3)), mediaType: family };
}

/** What `docker image inspect` prints of an image (the parts an image config is made of). */
export interface StoreInspect {
  Architecture?: string;
  Variant?: string;
  Os?: string;
  Created?: string;
  Config?: ContainerConfig | null;
  RootFS?: { Type?: string; Layers?: string[] };
}

/** One line of `docker image history --no-trunc --human=false --format '{{json .}}'` (newest first). */
export interface StoreHistoryEntry {
  CreatedAt?: string;
  CreatedBy?: string;
  Comment?: string;
  Size?: string | number;
}

/**
 * Does a history entry that `docker image history` reports with size 0 still stand for a layer?
 * The size is the layer's content size, so a layer holding only a directory (BuildKit's WORKDIR)
 * or nothing new (a RUN that changed nothing) shows 0 too: instructions that write the
 * filesystem make a layer, metadata-only ones (ENV, CMD, …) do not.
 */
function writesLayer(createdBy: string): boolean {
  if (/^(RUN|WORKDIR|COPY|ADD)\b/.test(createdBy) || /^\|\d+ /.test(createdBy)) return true;
  const classic = /^\/bin\/sh -c (#\(nop\) +)?(\S+)?/.exec(createdBy);
  if (!classic) return false;
  return !classic[1] || /^(WORKDIR|COPY|ADD)$/.test(classic[2] ?? '');
}

/**
 * The config of an image in a daemon's image store, as its inspect and history report it
 * (Docker 20.10 has no API for the raw config bytes; `docker save` would export every layer).
 * Everything a child image's config carries over is there: architecture, os, the container
 * config, the layer diff IDs and the history — an entry is a layer when it has a size or an
 * instruction that writes one (writesLayer). When that does not add up to the image's layers,
 * its history is given as one entry per layer ("parent layer n"), so that `docker history` of a
 * child still shows each layer with its own size.
 */
/**
 * A history time in UTC (`2026-12-01T10:06:54Z`): `docker image history --human=false` prints it
 * in the machine's time zone (`…T19:06:54+09:00` in Tokyo), which would make an image assembled
 * from the same inputs differ by where it was made. Left as it is when it is not a time.
 */
export function utcTime(text: string): string {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return text;
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

export function configFromStore(inspect: StoreInspect, history: StoreHistoryEntry[]): ImageConfigJson {
  const diffIds = inspect.RootFS?.Layers ?? [];
  let entries = [...history].reverse().map((h) => {
    const entry: NonNullable<ImageConfigJson['history']>[number] = {};
    if (h.CreatedAt) entry.created = utcTime(h.CreatedAt);
    if (h.CreatedBy) entry.created_by = h.CreatedBy;
    if (h.Comment) entry.comment = h.Comment;
    if (Number(h.Size) === 0 && !writesLayer(h.CreatedBy ?? '')) entry.empty_layer = true;
    return entry;
  });
  if (entries.filter((e) => !e.empty_layer).length !== diffIds.length) {
    entries = diffIds.map((_, n) => ({ ...(inspect.Created ? { created: inspect.Created } : {}), created_by: `parent layer ${n + 1} (its history did not match its layers)`, comment: 'nx-docker-delta' }));
  }
  return {
    architecture: inspect.Architecture,
    ...(inspect.Variant ? { variant: inspect.Variant } : {}),
    os: inspect.Os,
    created: inspect.Created,
    config: inspect.Config ?? {},
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: entries,
  };
}

/**
 * The `manifest.json` of a `docker save`-format archive that `docker load` takes: the config and
 * every layer by diff ID. Only `layerFiles` (the new layers) are in the archive: the daemon's
 * classic image store registers a layer from the archive only when it does not already hold that
 * layer chain, so the parent's layers — held, since the parent image is there — are never read.
 */
export function loadManifest(o: { configFile: string; diffIds: string[]; layerFiles: Record<string, string>; repoTags: string[] }): Buffer {
  const layers = o.diffIds.map((d) => o.layerFiles[d] ?? `${d.replace(/^sha256:/, '')}/layer.tar`);
  return Buffer.from(JSON.stringify([{ Config: o.configFile, RepoTags: o.repoTags, Layers: layers }]));
}

// Docker and registry helpers of the benchmark. Removes only what carries its run's prefix/label.
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { run } from './proc.mjs';

/** First docker client that can run BuildKit builds: buildx, or a client < 23 with BuildKit built in. */
export async function probeDockerClient(env) {
  const candidates = env.NX_DOCKER_BIN ? [env.NX_DOCKER_BIN] : onPath('docker', env.PATH ?? '');
  const seen = [];
  for (const bin of candidates) {
    const version = await run(bin, ['version', '--format', '{{json .}}'], { capture: true, check: false }).catch(() => undefined);
    if (!version || version.code !== 0) {
      seen.push(`${bin}: no daemon answer`);
      continue;
    }
    const info = JSON.parse(version.stdout.trim().split('\n')[0]);
    const buildx = (await run(bin, ['buildx', 'version'], { check: false, capture: true })).code === 0;
    const major = Number(String(info.Client?.Version ?? '').split('.')[0]);
    if (buildx || (major >= 18 && major < 23)) {
      return { bin, buildx, mode: buildx ? 'buildx' : 'classic BuildKit (DOCKER_BUILDKIT=1)', client: info.Client?.Version, server: info.Server?.Version, rejected: seen };
    }
    seen.push(`${bin}: client ${info.Client?.Version} without buildx`);
  }
  throw new Error(`No BuildKit-capable docker client (${seen.join('; ') || 'none on PATH'}) — install docker buildx or set NX_DOCKER_BIN.`);
}

/** Every docker client on PATH and whether `docker buildx` works with it. */
export async function buildxAvailability(env) {
  const out = [];
  for (const bin of onPath('docker', env.PATH ?? '')) {
    const r = await run(bin, ['buildx', 'version'], { check: false, capture: true }).catch(() => ({ code: 1 }));
    out.push({ bin, buildx: r.code === 0 });
  }
  return out;
}

function onPath(name, pathEnv) {
  const found = [];
  const real = new Set();
  for (const dir of pathEnv.split(delimiter).filter(Boolean)) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      const r = realpathSync(file);
      if (!real.has(r)) {
        real.add(r);
        found.push(file);
      }
    } catch {
      /* not here */
    }
  }
  return found;
}

/** `repo:tag` of every image whose repository starts with one of `prefixes`. */
export async function imagesWithPrefix(docker, prefixes) {
  // check: false — a daemon restarted by someone else mid-run must not end the whole benchmark here.
  const r = await run(docker, ['images', '--format', '{{.Repository}}:{{.Tag}}'], { capture: true, check: false });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((ref) => ref && !ref.endsWith(':<none>') && prefixes.some((p) => ref.startsWith(p)));
}

/** Removes the run's images (by name prefix) and its dangling images (by the run's label). */
export async function removeImages(docker, { prefixes, runId, log }) {
  const refs = await imagesWithPrefix(docker, prefixes);
  for (let i = 0; i < refs.length; i += 50) {
    await run(docker, ['rmi', '--force', ...refs.slice(i, i + 50)], { log, check: false });
  }
  const dangling = await run(docker, ['images', '--quiet', '--filter', 'dangling=true', '--filter', `label=nxbench.id=${runId}`], { capture: true, check: false });
  const ids = [...new Set(dangling.stdout.split('\n').map((l) => l.trim()).filter(Boolean))];
  if (ids.length) await run(docker, ['rmi', '--force', ...ids], { log, check: false });
  return refs.length + ids.length;
}

/** Empties BuildKit's build cache (the P2/P3 procedure; the daemon offers no per-user prune). */
export async function pruneBuildCache(docker, log) {
  await run(docker, ['builder', 'prune', '--all', '--force'], { log });
}

export async function imageSize(docker, ref) {
  const r = await run(docker, ['image', 'inspect', '--format', '{{.Size}}', ref], { capture: true, check: false });
  return r.code === 0 ? Number(r.stdout.trim()) : undefined;
}

export async function registryUp(registry) {
  try {
    const res = await fetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(3000) });
    return res.status < 500;
  } catch {
    return false;
  }
}

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json';

/** Blobs (config + layers) of an image manifest in a 127.0.0.1 registry: digest → compressed bytes. */
export async function manifestBlobs(ref) {
  const m = /^([^/]+)\/(.+):([^:/]+)$/.exec(ref);
  if (!m) throw new Error(`cannot parse ${ref}`);
  const res = await fetch(`http://${m[1]}/v2/${m[2]}/manifests/${m[3]}`, { headers: { Accept: MANIFEST } });
  if (!res.ok) throw new Error(`manifest of ${ref}: HTTP ${res.status}`);
  const body = await res.json();
  const blobs = new Map();
  if (body.config) blobs.set(body.config.digest, body.config.size);
  for (const layer of body.layers ?? []) blobs.set(layer.digest, layer.size);
  return blobs;
}

/**
 * Bytes a push of `after` uploads when `before` of the same repository is already in the
 * registry: the blobs of `after` that `before` does not have (what `docker push` skips is exactly
 * the blobs the repository holds).
 */
export async function deltaPushBytes(before, after) {
  const [a, b] = await Promise.all([manifestBlobs(before), manifestBlobs(after)]);
  let bytes = 0;
  let blobs = 0;
  for (const [digest, size] of b) {
    if (!a.has(digest)) {
      bytes += size;
      blobs += 1;
    }
  }
  const total = [...b.values()].reduce((s, v) => s + v, 0);
  return { bytes, blobs, totalCompressed: total };
}

/**
 * Waits up to `seconds` for the daemon to answer (on a shared machine someone may be restarting a
 * crashed dockerd). Returns true when it answers.
 */
export async function waitForDaemon(docker, seconds = 180) {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const r = await run(docker, ['version', '--format', '{{.Server.Version}}'], { check: false, capture: true }).catch(() => ({ code: 1 }));
    if (r.code === 0) return true;
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 5000));
  }
}

// Brings up what the Docker suites and the demo need, through the idempotent scripts beside this
// file: a daemon with a BuildKit-capable client, a registry on 127.0.0.1, the local base images.
// Remembers what it started itself so stopProvisioned() stops exactly that (a daemon or registry
// that was already running is left alone).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const started = [];

function script(name, args, log) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn('bash', [join(here, name), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderrTail = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderrTail = (stderrTail + d).slice(-4000);
      process.stderr.write(d);
    });
    child.on('error', (e) => (stderrTail += `\n${e.message}`));
    child.on('close', (code) => {
      log?.(`${name} ${code === 0 ? 'ok' : `failed (exit ${code})`} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      resolve({ code, stdout, stderrTail });
    });
  });
}

const keyValues = (stdout) =>
  Object.fromEntries(
    stdout
      .split('\n')
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
      .filter(Boolean)
      .map((m) => [m[1], m[2]])
  );

const lastLine = (s) => s.trim().split('\n').filter(Boolean).pop()?.replace(/^\[docker-env\] (ERROR: )?/, '') ?? 'unknown reason';

/**
 * Resolves with `{ NXDD_TEST_REGISTRY, NX_DOCKER_BIN }`; rejects with one sentence naming what
 * failed. `elixir: true` also makes the Elixir image.
 */
export async function provisionDocker({ log, elixir = false } = {}) {
  const found = {};
  for (const [name, args] of [
    ['ensure-docker.sh', []],
    ['ensure-registry.sh', []],
    ['ensure-registry-tools.sh', []],
    ['make-base-images.sh', elixir ? ['--elixir'] : []],
  ]) {
    const result = await script(name, args, log);
    const values = keyValues(result.stdout);
    if (values.NXDD_STARTED) started.push(values.NXDD_STARTED);
    if (result.code !== 0) throw new Error(`${name}: ${lastLine(result.stderrTail)}`);
    Object.assign(found, values);
  }
  return {
    NXDD_TEST_REGISTRY: found.NXDD_TEST_REGISTRY ?? `127.0.0.1:${process.env.REGISTRY_PORT || 5000}`,
    NX_DOCKER_BIN: found.NX_DOCKER_BIN,
  };
}

/**
 * Installs the buildx plugin into a DOCKER_CONFIG folder of this checkout (install-buildx.sh,
 * idempotent) and resolves with that folder; rejects with one sentence naming what failed.
 */
export async function provisionBuildx({ log } = {}) {
  const result = await script('install-buildx.sh', [], log);
  const values = keyValues(result.stdout);
  if (result.code !== 0 || !values.NXDD_BUILDX_DOCKER_CONFIG) throw new Error(`install-buildx.sh: ${lastLine(result.stderrTail)}`);
  return values.NXDD_BUILDX_DOCKER_CONFIG;
}

/** Stops what provisionDocker started (registry before the daemon), nothing else. */
export async function stopProvisioned({ log } = {}) {
  if (started.length === 0) return;
  const order = [...started.filter((s) => s.startsWith('registry')), ...started.filter((s) => s === 'dockerd')];
  started.length = 0;
  log?.(`stopping what this run started: ${order.join(', ')}`);
  await script('stop.sh', order, log);
}

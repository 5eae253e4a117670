#!/usr/bin/env node
// `npm test`: everything a fresh machine with Node 20+ and Docker needs to run
// every suite. Installs dependencies on first run, brings up Docker, a local
// registry and the base images (tools/docker-env/), then runs
//   nx run-many -t test,test-docker,e2e --parallel=1 --outputStyle=stream --skip-nx-cache
// with the classic BuildKit client, then the Docker suites (test-docker) once more through
// buildx (docker driver; the plugin is installed into tmp/docker-env/buildx by
// tools/docker-env/install-buildx.sh): both client modes users have are tested for real.
// Extra arguments are passed to nx (e.g. `npm test -- --projects=nx-docker-delta`).
//
// Env contract for the test processes:
//   NXDD_TEST_REGISTRY  127.0.0.1:<REGISTRY_PORT|5000>  registry that allows deletes
//   NX_DOCKER_BIN       BuildKit-capable docker client (buildx, or a <23 client)
//   NX_DAEMON           false
//   NXDD_SKIP_DOCKER    1 when no daemon could be had (never under CI=true: that exits 1)
//   NXDD_TEST_BUILDER   buildkit | buildx: the client mode of this run of the Docker suites
//   DOCKER_CONFIG       buildx mode: the folder holding cli-plugins/docker-buildx
// Inputs: CI=true (missing Docker is a failure), NXDD_SKIP_DOCKER=1 (opt out
// locally), REGISTRY_PORT, NXDD_TEST_BUILDERS (default `buildkit,buildx`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { provisionBuildx, provisionDocker, stopProvisioned } from './docker-env/provision.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env };
const isCI = /^(1|true)$/i.test(env.CI ?? '');
let child = null;

const log = (msg) => process.stderr.write(`[test] ${msg}\n`);
const seconds = (t0) => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

/** Tests counted from the runners' own summary lines, for one plain closing line. */
const counts = { passed: 0, failed: 0, skipped: 0 };
const ANSI = /\x1b\[[0-9;]*m/g;

function count(line) {
  const plain = line.replace(ANSI, '');
  // jest: "Tests:       1 failed, 2 skipped, 27 passed, 30 total"
  const jest = /^(?:\S+:\s+)?Tests:\s+(.*\d+ total)\s*$/.exec(plain.trim());
  if (jest) {
    for (const [, n, what] of jest[1].matchAll(/(\d+) (failed|skipped|passed|todo)/g)) {
      if (what in counts) counts[what] += Number(n);
    }
    return;
  }
  // node --test: "# pass 2" / "# fail 0" / "# skipped 0"
  const tap = /^# (pass|fail|skipped) (\d+)$/.exec(plain.trim());
  if (tap) counts[{ pass: 'passed', fail: 'failed', skipped: 'skipped' }[tap[1]]] += Number(tap[2]);
}

/** Spawn with an argv array; output passes through (and is counted); resolve with the exit code. */
function run(cmd, args, { env: runEnv = env } = {}) {
  return new Promise((resolvePromise) => {
    const p = spawn(cmd, args, { cwd: root, env: runEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    child = p;
    for (const [stream, out] of [[p.stdout, process.stdout], [p.stderr, process.stderr]]) {
      let partial = '';
      stream.on('data', (chunk) => {
        out.write(chunk);
        const lines = (partial + chunk).split('\n');
        partial = lines.pop();
        lines.forEach(count);
      });
      stream.on('end', () => partial && count(partial));
    }
    p.on('error', (e) => log(`${cmd}: ${e.message}`));
    p.on('close', (code, signal) => {
      child = null;
      resolvePromise({ code: code ?? (signal ? 128 : 1) });
    });
  });
}

function banner(reason) {
  const line = '#'.repeat(78);
  process.stderr.write(`\n${line}\n#\n#   DOCKER SUITES SKIPPED: ${reason}\n#   (Docker tests see NXDD_SKIP_DOCKER=1; under CI=true this is a failure.)\n#\n${line}\n\n`);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    child?.kill(sig);
    await stopProvisioned({ log });
    process.exit(130);
  });
}

async function installDependencies() {
  if (existsSync(join(root, 'node_modules/.bin/nx'))) return;
  const t0 = Date.now();
  log('node_modules/.bin/nx missing: npm ci');
  if ((await run('npm', ['ci'])).code !== 0) {
    log('npm ci failed, trying npm install');
    if ((await run('npm', ['install'])).code !== 0) throw new Error('npm ci and npm install both failed: see the npm output above.');
  }
  log(`dependencies installed in ${seconds(t0)}`);
}

/** Returns the extra env for the test processes, or a skip reason. */
async function setUpDocker() {
  try {
    // The Elixir image too: the generated-Dockerfile suite builds a real mix umbrella on it.
    return { env: await provisionDocker({ log, elixir: true }) };
  } catch (error) {
    return { skip: error.message };
  }
}

/**
 * The client modes the Docker suites run in: classic BuildKit (the 20.10 client without the
 * plugin; an empty DOCKER_CONFIG hides a user-installed plugin) and buildx's docker driver
 * (DOCKER_CONFIG with the plugin). A missing buildx is a failure under CI=true, else a banner.
 */
async function clientModes(testEnv) {
  const wanted = (env.NXDD_TEST_BUILDERS ?? 'buildkit,buildx').split(',').map((m) => m.trim()).filter(Boolean);
  const modes = [];
  if (wanted.includes('buildkit')) {
    const bin = testEnv.NX_DOCKER_BIN || 'docker';
    const hasPlugin = spawnSync(bin, ['buildx', 'version'], { env: testEnv, stdio: 'ignore' }).status === 0;
    const classicEnv = { NXDD_TEST_BUILDER: 'buildkit' };
    if (hasPlugin) {
      classicEnv.DOCKER_CONFIG = join(root, 'tmp/docker-env/classic-docker-config');
      mkdirSync(classicEnv.DOCKER_CONFIG, { recursive: true });
    }
    modes.push({ name: 'buildkit', env: classicEnv });
  }
  if (wanted.includes('buildx')) {
    try {
      modes.push({ name: 'buildx', env: { NXDD_TEST_BUILDER: 'buildx', DOCKER_CONFIG: await provisionBuildx({ log }) } });
    } catch (error) {
      if (isCI) throw new Error(`buildx is required under CI=true but could not be installed (${error.message}).`);
      banner(`buildx mode: ${error.message}`);
    }
  }
  if (modes.length === 0) throw new Error(`NXDD_TEST_BUILDERS=${env.NXDD_TEST_BUILDERS} names no known mode — use buildkit, buildx or both.`);
  return modes;
}

async function main() {
  const t0 = Date.now();
  await installDependencies();

  const testEnv = { ...env, NX_DAEMON: 'false' };
  let skipReason = null;
  if (env.NXDD_SKIP_DOCKER === '1') {
    if (isCI) throw new Error('NXDD_SKIP_DOCKER=1 is not allowed with CI=true: CI must run the Docker suites.');
    skipReason = 'NXDD_SKIP_DOCKER=1 was set';
  } else {
    const docker = await setUpDocker();
    if (docker.skip) {
      if (isCI) throw new Error(`Docker is required under CI=true but could not be set up (${docker.skip}).`);
      skipReason = docker.skip;
    } else {
      Object.assign(testEnv, docker.env);
      delete testEnv.NXDD_SKIP_DOCKER;
    }
  }
  if (skipReason) {
    banner(skipReason);
    testEnv.NXDD_SKIP_DOCKER = '1';
  }
  log(`test env: ${['NXDD_TEST_REGISTRY', 'NX_DOCKER_BIN', 'NX_DAEMON', 'NXDD_SKIP_DOCKER'].map((k) => `${k}=${testEnv[k] ?? '(unset)'}`).join(' ')}`);

  const tSelf = Date.now();
  const self = await run(process.execPath, ['--test', join(root, 'tools/cache-server/')], { env: testEnv });
  log(`tools self-checks ${self.code === 0 ? 'passed' : 'FAILED'} in ${seconds(tSelf)}`);

  const modes = skipReason ? [{ name: 'buildkit', env: {} }] : await clientModes(testEnv);
  const nxArgs = ['--parallel=1', '--outputStyle=stream', '--skip-nx-cache', ...process.argv.slice(2)];
  let tNx = Date.now();
  log(`unit, Docker (${modes[0].name} mode) and e2e suites`);
  const nx = await run('npx', ['nx', 'run-many', '-t', 'test,test-docker,e2e', ...nxArgs], { env: { ...testEnv, ...modes[0].env } });
  log(`nx run-many exited ${nx.code} in ${seconds(tNx)}`);
  for (const mode of modes.slice(1)) {
    tNx = Date.now();
    log(`Docker suites again in ${mode.name} mode`);
    const again = await run('npx', ['nx', 'run-many', '-t', 'test-docker', ...nxArgs], { env: { ...testEnv, ...mode.env } });
    log(`nx run-many -t test-docker (${mode.name} mode) exited ${again.code} in ${seconds(tNx)}`);
    if (again.code !== 0 && nx.code === 0) nx.code = again.code;
  }

  if (skipReason) banner(skipReason);
  log(`total ${seconds(t0)}`);
  // One plain closing line over every suite (CI reads it).
  process.stdout.write(`\ntests: ${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''}\n`);
  return nx.code !== 0 ? nx.code : self.code;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  log(`ERROR: ${e.message}`);
  code = 1;
} finally {
  await stopProvisioned({ log });
}
process.exit(code);

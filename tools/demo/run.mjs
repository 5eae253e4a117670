#!/usr/bin/env node
// `npm run demo` — the main job, end to end on a fresh machine with Node 20+ and Docker:
//   1. installs the repo's dependencies if needed, builds the plugin, brings up Docker (BuildKit),
//      a local registry and the base images (tools/docker-env/);
//   2. writes a small Nx workspace (three HTTP services + a shared library) under tmp/demo/,
//      runs `nx g nx-docker-delta:init` and `nx g nx-docker-delta:dockerfile` per service;
//   3. `nx run-many -t docker-build` (everything from nothing), starts every container and asks
//      it over HTTP;
//   4. changes one line of one service and runs `nx affected -t docker-build`;
//   5. prints per service: rebuilt or reused, steps run vs cached, image size, time; then totals.
// Options: --keep (leave the workspace and images for inspection), --push (push to the registry).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICES, linkNodeModules, writeWorkspace } from './workspace.mjs';
import { provisionDocker, stopProvisioned } from '../docker-env/provision.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ws = join(repo, 'tmp/demo/workspace');
const keep = process.argv.includes('--keep');
const push = process.argv.includes('--push');
const namespace = `nxdd-demo-${Date.now().toString(36)}`;
const log = (msg) => process.stdout.write(`\x1b[1m[demo]\x1b[0m ${msg}\n`);

let logCount = 0;

/**
 * Runs `cmd args` (argv, no shell). Output goes to a log file under tmp/demo/logs (and to the
 * terminal unless quiet) — a file, not a pipe, so a grandchild that keeps the descriptor open
 * (nx's task workers, esbuild's service) cannot hold the step. Resolves with the output.
 */
function run(cmd, args, { cwd = ws, env = {}, quiet = false } = {}) {
  const logs = join(repo, 'tmp/demo/logs');
  mkdirSync(logs, { recursive: true });
  const logFile = join(logs, `${String(++logCount).padStart(2, '0')}-${basename(cmd)}-${args[0] ?? ''}.log`);
  const fd = openSync(logFile, 'w');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      closeSync(fd);
      const out = readFileSync(logFile, 'utf8');
      if (!quiet) process.stdout.write(out);
      if (code === 0) return resolvePromise(out);
      // The sentences our executors print (✖ …) and the tail, so a failure explains itself.
      const lines = out.split('\n');
      const errors = lines.filter((l) => l.includes('✖'));
      reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal} (log: ${logFile})\n${[...errors, '…', ...lines.slice(-25)].join('\n')}`));
    });
  });
}

const nxEnv = (dockerEnv) => ({
  NX_DAEMON: 'false',
  NX_NO_CLOUD: 'true',
  NX_CACHE_DIRECTORY: join(ws, '.nx/cache'),
  NX_DOCKER_REGISTRY: `${dockerEnv.NXDD_TEST_REGISTRY}/${namespace}`,
  NX_DOCKER_BIN: dockerEnv.NX_DOCKER_BIN,
  NX_DOCKER_TAGS: 'demo',
  ...(push ? { PUSH: 'true' } : {}),
});

const nx = (args, env, quiet = true) => run(join(ws, 'node_modules/.bin/nx'), args, { env, quiet });

function receipt(service) {
  const path = join(ws, 'dist/nx-docker-delta/apps', service, 'docker-service.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

function baseReceipt() {
  // init puts the base in its own project, docker/workspace-base: base name `workspace-base`.
  const path = join(ws, 'dist/nx-docker-delta/bases/workspace-base.json');
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

/** Which tasks Nx ran, and which it took from its cache, from its own `> nx run` lines. */
function taskLines(output) {
  const tasks = {};
  for (const m of output.matchAll(/^> nx run ([^:\s]+):([\w-]+)(?:[^\n]*?\[(local cache|remote cache|existing outputs match the cache, left as is)\])?/gm)) {
    tasks[`${m[1]}:${m[2]}`] = m[3] ? 'cache' : 'ran';
  }
  return tasks;
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

function table(title, rows) {
  const header = ['service', 'result', 'steps run', 'steps cached', 'image size', 'build time'];
  const lines = [`### ${title}`, '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

function rowsFor(output, before, baseBefore) {
  const tasks = taskLines(output);
  const rows = [];
  const base = baseReceipt();
  // Built in this run when its receipt was (re)written by a build: output lines cannot tell, since
  // Nx replays a cached service task's output — and the task that first needed the base built it.
  const baseBuilt = base?.outcome === 'built' && JSON.stringify(base) !== JSON.stringify(baseBefore);
  rows.push([
    `base (${base?.ref?.split('/').pop() ?? '?'})`,
    baseBuilt ? '**built**' : 'reused (content tag exists)',
    baseBuilt ? base.steps.run : 0,
    baseBuilt ? base.steps.cached : '–',
    base ? mb(base.sizeBytes) : '?',
    baseBuilt ? secs(base.durationMs) : '–',
  ]);
  for (const { name } of SERVICES) {
    const r = receipt(name);
    const state = tasks[`${name}:docker-service`];
    if (!state) {
      rows.push([name, 'not affected — not run', 0, '–', mb(r.sizeBytes), '–']);
    } else if (state === 'cache' || before?.[name]?.inputHash === r.inputHash) {
      rows.push([name, 'reused (Nx cache, image verified)', 0, '–', mb(r.sizeBytes), '–']);
    } else {
      // Assembled: no docker build of the service — its app layer and config were added to the
      // image store (docker load) or the registry on the shared runtime-with-dependencies image.
      if (r.assembled) rows.push([name, `**${r.outcome}** — assembled ${r.assembled.local ? 'locally' : 'in the registry'}, no docker build`, 0, '–', mb(r.sizeBytes), secs(r.durationMs)]);
      else rows.push([name, `**${r.outcome}**`, r.steps.run, r.steps.cached, mb(r.sizeBytes), secs(r.durationMs)]);
    }
  }
  return rows;
}

/** Adds an npm dependency used by one service only, the way a user would, and commits it. */
async function addDependency(service, pkg, version) {
  const manifest = JSON.parse(readFileSync(join(ws, 'package.json'), 'utf8'));
  manifest.dependencies[pkg] = version;
  writeFileSync(join(ws, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  // npm would record the symlinked node_modules as links: lock without them.
  renameSync(join(ws, 'node_modules'), join(ws, '../node_modules.aside'));
  try {
    await run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { quiet: true });
  } finally {
    renameSync(join(ws, '../node_modules.aside'), join(ws, 'node_modules'));
  }
  const main = join(ws, `apps/${service}/src/main.js`);
  writeFileSync(main, `const ${pkg} = require('${pkg}');\nvoid ${pkg};\n${readFileSync(main, 'utf8')}`);
  await run('git', ['-c', 'user.email=demo@example.com', '-c', 'user.name=demo', 'commit', '-qam', `${service}: use ${pkg}`], { quiet: true });
}

/**
 * GET with a 2 s limit. The timer is what keeps Node alive: while a container starts, docker's
 * port proxy accepts the connection and holds it, and fetch's socket alone does not keep the
 * event loop running.
 */
async function get(url) {
  const controller = new AbortController();
  let timer;
  const timeout = new Promise((resolveTimeout) => (timer = setTimeout(resolveTimeout, 2000, '')));
  try {
    return await Promise.race([fetch(url, { signal: controller.signal }).then((r) => r.text()), timeout]);
  } catch {
    return '';
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

async function askServices(dockerBin) {
  const answers = [];
  for (const { name, port } of SERVICES) {
    const { ref } = receipt(name);
    const id = (await run(dockerBin, ['run', '-d', '--rm', '-p', `127.0.0.1::${port}`, ref], { quiet: true })).trim();
    try {
      const mapped = (await run(dockerBin, ['port', id, String(port)], { quiet: true })).trim().split('\n')[0];
      const url = `http://${mapped}/`;
      let body = '';
      for (let i = 0; i < 50 && !body; i++) {
        body = await get(url);
        if (!body) await new Promise((r) => setTimeout(r, 200));
      }
      if (!body) throw new Error(`${name} did not answer on ${url}`);
      answers.push(`- \`${name}\` (${ref.split('/').pop()}) answered \`GET /\` → \`${body}\``);
    } finally {
      await run(dockerBin, ['rm', '-f', id], { quiet: true }).catch(() => undefined);
    }
  }
  return answers;
}

async function main() {
  const t0 = Date.now();
  rmSync(join(repo, 'tmp/demo'), { recursive: true, force: true });
  if (!existsSync(join(repo, 'node_modules/.bin/nx'))) {
    log('installing the repository dependencies (npm ci)…');
    await run('npm', ['ci', '--no-audit', '--no-fund'], { cwd: repo });
  }
  log('building the plugin…');
  await run(join(repo, 'node_modules/.bin/nx'), ['build', 'nx-docker-delta', '--outputStyle=static'], { cwd: repo, env: { NX_DAEMON: 'false' }, quiet: true });
  log('bringing up Docker, a local registry and the base images…');
  const dockerEnv = await provisionDocker({ log });
  const env = nxEnv(dockerEnv);

  log(`writing the demo workspace in ${ws}`);
  mkdirSync(ws, { recursive: true });
  writeWorkspace(ws);
  await run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { quiet: true });
  linkNodeModules(ws, repo);
  await run('git', ['init', '-q']);
  // The stand-in `node:20-bookworm-slim` made by tools/docker-env is the Debian flavour.
  await nx(['g', 'nx-docker-delta:init', '--flavour=debian', '--no-interactive'], env, false);
  for (const { name, port } of SERVICES) {
    await nx(['g', 'nx-docker-delta:dockerfile', `--project=${name}`, `--buildOutputPath=dist/apps/${name}`, '--main=main.js', `--port=${port}`, '--healthPath=/health', '--no-interactive'], env, false);
  }
  await run('git', ['add', '-A'], { quiet: true });
  await run('git', ['-c', 'user.email=demo@example.com', '-c', 'user.name=demo', 'commit', '-qm', 'demo workspace'], { quiet: true });

  log('1/3: nx run-many -t docker-build — every image from nothing');
  let t = Date.now();
  const cold = await nx(['run-many', '-t', 'docker-build', '--outputStyle=static'], env);
  const coldMs = Date.now() - t;
  const coldRows = rowsFor(cold);
  const before = Object.fromEntries(SERVICES.map(({ name }) => [name, receipt(name)]));
  const baseAfterCold = baseReceipt();
  const answers = await askServices(dockerEnv.NX_DOCKER_BIN);

  log('2/3: one line of orders changes; nx affected -t docker-build');
  const main = join(ws, 'apps/orders/src/main.js');
  writeFileSync(main, readFileSync(main, 'utf8').replace("res.writeHead(200).end('ok');", "res.writeHead(200).end('ok (v2)');"));
  await run('git', ['-c', 'user.email=demo@example.com', '-c', 'user.name=demo', 'commit', '-qam', 'orders: v2 health text'], { quiet: true });
  t = Date.now();
  const delta = await nx(['affected', '-t', 'docker-build', '--base=HEAD~1', '--outputStyle=static'], env);
  const deltaMs = Date.now() - t;
  const deltaRows = rowsFor(delta, before, baseAfterCold);

  log('3/3: payments gets a new npm dependency; nx affected -t docker-build');
  const beforeDep = Object.fromEntries(SERVICES.map(({ name }) => [name, receipt(name)]));
  const baseBeforeDep = baseReceipt();
  await addDependency('payments', 'kleur', '4.1.5');
  t = Date.now();
  const dep = await nx(['affected', '-t', 'docker-build', '--base=HEAD~1', '--outputStyle=static'], env);
  const depMs = Date.now() - t;
  const depRows = rowsFor(dep, beforeDep, baseBeforeDep);

  const report = [
    '## nx-docker-delta demo report',
    '',
    `Machine: ${process.platform}/${process.arch}, Node ${process.version}, docker client ${dockerEnv.NX_DOCKER_BIN}; registry ${env.NX_DOCKER_REGISTRY}${push ? ' (push mode)' : ''}.`,
    '',
    table(`1. Cold: \`nx run-many -t docker-build\` — ${secs(coldMs)} wall`, coldRows),
    '',
    ...answers,
    '',
    table(`2. Delta: one line of \`orders\` changed, \`nx affected -t docker-build\` — ${secs(deltaMs)} wall`, deltaRows),
    '',
    table(`3. A dependency (\`kleur\`) added to \`payments\` only, \`nx affected -t docker-build\` — ${secs(depMs)} wall`, depRows),
    '',
    'Only `payments` is affected: the other services\' pruned manifests and lockfiles are byte-identical, and with',
    '`projectsAffectedByDependencyUpdates: "auto"` Nx does not even schedule them.',
    '',
    `Totals: cold ${secs(coldMs)}, delta ${secs(deltaMs)} (${(coldMs / deltaMs).toFixed(1)}× faster). ` +
      `Delta rebuilt ${deltaRows.filter((r) => String(r[1]).startsWith('**')).length} of ${SERVICES.length + 1} images ` +
      `(${deltaRows.filter((r) => String(r[1]).includes('assembled')).length} assembled without docker build); ` +
      `docker build steps run ${deltaRows.reduce((n, r) => n + Number(r[2] || 0), 0)}, cached ${deltaRows.reduce((n, r) => n + (Number(r[3]) || 0), 0)}.`,
    `Whole demo: ${secs(Date.now() - t0)}.`,
  ].join('\n');
  const reportPath = join(repo, 'tmp/demo/report.md');
  writeFileSync(reportPath, report + '\n');
  process.stdout.write(`\n${report}\n\n`);
  log(`report written to ${reportPath}`);

  if (!keep) {
    const refs = SERVICES.flatMap(({ name }) => receipt(name)?.tags.map((tag) => `${receipt(name).image}:${tag}`) ?? []);
    const base = baseReceipt();
    if (base) refs.push(...base.tags.map((tag) => `${base.image}:${tag}`));
    for (const { name } of SERVICES) for (const old of [before[name], beforeDep[name]]) if (old) refs.push(old.ref);
    // The shared dependency images (one per dependency content hash) the receipts name.
    for (const { name } of SERVICES) for (const r of [receipt(name), before[name], beforeDep[name]]) if (r?.deps?.ref) refs.push(r.deps.ref);
    // The runtime-with-dependencies images assembled services were put on.
    for (const { name } of SERVICES) for (const r of [receipt(name), before[name], beforeDep[name]]) if (r?.assembled?.runtime) refs.push(r.assembled.runtime);
    await run(dockerEnv.NX_DOCKER_BIN, ['rmi', '-f', ...new Set(refs)], { quiet: true }).catch(() => undefined);
  }
}

let code = 0;
try {
  await main();
} catch (error) {
  process.stderr.write(`\n[demo] ✖ ${error.message}\n`);
  code = 1;
} finally {
  await stopProvisioned({ log });
}
process.exit(code);

#!/usr/bin/env node
// Benchmark: nx-docker-delta against @nx/docker, a naive per-service loop and
// @nx-tools/nx-container, on one generated workspace per package manager. A script that prints measured numbers.
//
//   node tools/bench/run.mjs                          # realistic profile: 10 NestJS services, npm and pnpm
//   node tools/bench/run.mjs --results                # the same, written to tools/bench/results/<date>-realistic.{md,json}
//   node tools/bench/run.mjs --quick                  # = --profile quick: 3 light express services, npm, 1 run (smoke test)
//
// Options: --profile quick|realistic, --pm npm|pnpm|npm,pnpm, --services N, --runs R (P1, own build, floor),
//          --cold-runs C (P2, P3, P6 and naive's P1), --p5-projects M, --contenders ours,nxdocker,naive,nxcontainer,
//          --scenarios P1,P2,P3,P4,P5,P6,floor,own,start (own = the service's own `nx run <svc>:build`, no cache;
//          start = the changed service's image is run and answers GET /health),
//          --results (write to tools/bench/results/<date>-<profile>.{md,json} for committing), --out DIR (default: a temp dir),
//          --keep (keep the temp workspaces), --registry HOST:PORT (default 127.0.0.1:5000),
//          --rev REV (the commit of nx-docker-delta to measure; default HEAD, never the working tree),
//          --port P (host port for the start check, default 5480).
// Needs: Docker with a BuildKit-capable client (buildx, or a client < 23), the local
// `node:20-bookworm-slim` stand-in image, network for npm (host and containers).
// Removes only images/containers named with this run's unique prefix or carrying its label, and runs
// `docker builder prune -af` for the cold scenarios (P2, P3).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem, tmpdir, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CONTENDERS, NODE_IMAGE, NX_PARALLEL, addDependency, nx, servicesOf, touchService } from './lib/contenders.mjs';
import { deltaPushBytes, imageSize, probeDockerClient, pruneBuildCache, registryUp, removeImages, waitForDaemon } from './lib/docker.mjs';
import { measureGraphCost } from './lib/graph-cost.mjs';
import { CommandError, run, stats, timed } from './lib/proc.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { commitAll, copyPlugin, createWorkspace, ensurePnpm, ensureTemplate, installPlugin, lockfileFor, lockfileName, wipeWorkspaceState } from './lib/setup.mjs';
import { PROFILES } from './lib/workspace.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: argv } = parseArgs({
  options: {
    services: { type: 'string' },
    runs: { type: 'string' },
    'p5-projects': { type: 'string' },
    contenders: { type: 'string' },
    scenarios: { type: 'string' },
    out: { type: 'string' },
    registry: { type: 'string', default: '127.0.0.1:5000' },
    quick: { type: 'boolean', default: false },
    profile: { type: 'string' },
    pm: { type: 'string' },
    'cold-runs': { type: 'string' },
    results: { type: 'boolean', default: false },
    port: { type: 'string', default: '5480' },
    keep: { type: 'boolean', default: false },
    rev: { type: 'string', default: 'HEAD' },
  },
});

const profileId = argv.profile ?? (argv.quick ? 'quick' : 'realistic');
const profile = PROFILES[profileId];
if (!profile) throw new Error(`Unknown profile ${profileId} — use --profile quick or --profile realistic.`);
const quick = profileId === 'quick';
const N = Number(argv.services ?? (quick ? 3 : 10));
const R = Number(argv.runs ?? (quick ? 1 : 3));
const RC = Number(argv['cold-runs'] ?? 1);
const P5_PROJECTS = Number(argv['p5-projects'] ?? (quick ? 100 : 500));
const pms = (argv.pm ?? (quick ? 'npm' : 'npm,pnpm')).split(',').map((s) => s.trim()).filter(Boolean);
for (const pm of pms) if (!['npm', 'pnpm'].includes(pm)) throw new Error(`Unknown package manager ${pm} — use --pm npm, pnpm or npm,pnpm.`);
const contenderIds = (argv.contenders ?? 'ours,nxdocker,naive,nxcontainer').split(',').map((s) => s.trim()).filter(Boolean);
const scenarios = new Set((argv.scenarios ?? 'P1,P2,P3,P4,P5,P6,floor,own,start').split(',').map((s) => s.trim()));
const started = Date.now();
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
const runId = `nxbench-${stamp.toLowerCase()}-${Math.random().toString(36).slice(2, 6)}`;
const benchRoot = mkdtempSync(join(tmpdir(), 'nxbench-'));
const logDir = join(benchRoot, 'logs');
const load = (() => {
  const start = loadavg()[0];
  let max = start;
  setInterval(() => (max = Math.max(max, loadavg()[0])), 15_000).unref();
  return { summary: () => ({ start, max, cores: cpus().length }), sampleMax: () => max };
})();
const say = (line) => process.stdout.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(5)}s] ${line}\n`);

const results = {
  date: new Date().toISOString(),
  runId,
  profile: profileId,
  workload: profile.description,
  commit: undefined,
  options: { profile: profileId, packageManagers: pms, services: N, runs: R, coldRuns: RC, parallel: NX_PARALLEL, p5Projects: P5_PROJECTS, quick, contenders: contenderIds, scenarios: [...scenarios] },
  machine: {},
  // One entry per package manager: { contenders: { id: { scenarios, floor?, overheadMs, … } }, nodeModulesMB }.
  variants: {},
  notes: [],
};

async function main() {
  for (const id of contenderIds) if (!CONTENDERS[id]) throw new Error(`Unknown contender ${id} — use ${Object.keys(CONTENDERS).join(', ')}.`);
  // P5 alone (`--contenders= --scenarios P5`) measures inference only: no Docker needed.
  const docker = contenderIds.length ? await probeDockerClient(process.env) : { bin: undefined, mode: 'not used', client: '-', server: '-', rejected: [] };
  const mem = `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at start)`;
  const nodeVersion = process.version;
  const registry = argv.registry;
  const registryOk = contenderIds.length ? await registryUp(registry) : false;
  results.machine = {
    // Whether anything else ran: the 1-minute load average at the start and its highest sample (every 15 s).
    load: load.summary(),
    host: hostname(),
    nproc: cpus().length,
    cpu: cpus()[0]?.model,
    memory: mem,
    node: nodeVersion,
    docker: `client ${docker.client} (${docker.bin}), server ${docker.server}`,
    dockerServer: docker.server,
    clientMode: docker.mode,
    rejectedClients: docker.rejected,
    registry: registryOk ? `${registry} (namespace ${runId})` : `${registry} not reachable`,
  };
  say(`run ${runId}: profile ${profileId}, package managers ${pms.join(', ')}, N=${N}, runs=${R} (P1/own/floor), cold runs=${RC} (P2/P3/P6), --parallel=${NX_PARALLEL}, docker ${docker.bin} [${docker.mode}], workspaces in ${benchRoot}`);
  if (docker.bin) {
    const standIn = await imageSize(docker.bin, NODE_IMAGE);
    if (!standIn) throw new Error(`The ${NODE_IMAGE} stand-in image is missing — run bash tools/docker-env/make-base-images.sh first.`);
    // Older runs of this harness that died before cleaning up (same prefix family, never others).
    await removeImages(docker.bin, { prefixes: ['nxbench-', `${registry}/nxbench-`], runId: '__none__', log: join(logDir, 'cleanup.log') });
  }

  // Every contender's `docker` is the BuildKit-capable client (@nx/docker runs plain `docker build`);
  // pnpm (pinned) is on PATH for the pnpm variant.
  const binDir = join(benchRoot, 'bin');
  mkdirSync(binDir, { recursive: true });
  if (docker.bin) symlinkSync(docker.bin, join(binDir, 'docker'));
  if (pms.includes('pnpm')) symlinkSync(await ensurePnpm(join(logDir, 'setup.log')), join(binDir, 'pnpm'));
  const baseEnv = { ...process.env, PATH: `${binDir}:${process.env.PATH}`, DOCKER_BUILDKIT: '1', NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_DOCKER_BIN: docker.bin ?? '', NX_SKIP_NX_CACHE: '', CI: '' };
  for (const key of ['NX_DOCKER_REGISTRY', 'PUSH', 'NX_DOCKER_PUSH', 'NX_DOCKER_TAGS', 'NX_SKIP_NX_CACHE', 'CI']) delete baseEnv[key];

  // @nx-tools/nx-container: its docker engine insists on buildx — a DOCKER_CONFIG folder with the plugin.
  const buildxConfig = contenderIds.includes('nxcontainer') ? await findBuildx(join(logDir, 'buildx.log')) : undefined;
  if (contenderIds.includes('nxcontainer')) results.machine.buildxConfig = buildxConfig ?? 'none';

  const services = servicesOf(N);
  const changed = services[0];
  let p5Template;

  // Templates (cached) and the plugin build first, for every package manager.
  const templates = {};
  for (const pm of pms) {
    say(`════ ${profileId} workload, ${pm}: preparing the shared node_modules template (cached after the first run)`);
    const setupStarted = Date.now();
    const templateDir = await ensureTemplate(join(logDir, `setup-${pm}.log`), profile, pm);
    const first = Object.values(templates)[0];
    let plugin;
    if (first) {
      copyPlugin(first.templateDir, templateDir);
      plugin = first.plugin;
    } else plugin = await installPlugin(repoRoot, templateDir, join(logDir, `setup-${pm}.log`), argv.rev);
    results.machine.pluginGenerators = plugin.generators;
    results.machine.pluginCommit = results.commit = plugin.commit;
    templates[pm] = { templateDir, plugin };
    say(`built nx-docker-delta from commit ${plugin.commit.slice(0, 10)} into ${templateDir} (${((Date.now() - setupStarted) / 1000).toFixed(0)} s)`);
    if (pm === 'npm' || !p5Template) p5Template = templateDir;
    results.variants[pm] = { packageManager: pm, contenders: {}, nodeModulesMB: undefined, wallSeconds: 0 };
  }

  // Contender by contender, each on every package manager: an interrupted run still has every
  // variant of the contenders it finished.
  for (const id of contenderIds) {
    for (const pm of pms) {
      const { templateDir, plugin } = templates[pm];
      const variant = results.variants[pm];
      const contender = CONTENDERS[id];
      const root = join(benchRoot, `${pm}-${id}`);
      const ws = { id, pm, profile, root, templateDir, docker: docker.bin, runId, imagePrefix: `${runId}-${pm}-${id}/`, services, pluginGenerators: plugin.generators, buildxConfig, env: { ...baseEnv, NX_CACHE_DIRECTORY: join(root, '.nx/cache') } };
      const log = (name) => join(logDir, `${pm}-${id}-${name}.log`);
      const out = (variant.contenders[id] = { label: contender.label, scenarios: {}, notes: [] });
      say(`── ${pm}: ${contender.label}`);
      const contenderStarted = Date.now();
      if (docker.bin && !(await waitForDaemon(docker.bin))) {
        out.error = 'the Docker daemon did not answer for 3 minutes';
        out.notes.push(`FAILED: ${out.error} (it crashed or was restarted during the run).`);
        say(`✖ ${id}: ${out.error}`);
        continue;
      }
      try {
        await measureContender({ id, contender, ws, out, log, docker, registry, registryOk, changed, variant });
      } catch (error) {
        // One contender failing must not lose the others' numbers: record it and go on.
        out.error = error.message;
        const daemonDown = docker.bin && (await run(docker.bin, ['version', '--format', '{{.Server.Version}}'], { check: false, capture: true })).code !== 0;
        out.notes.push(`FAILED: ${error.message}${daemonDown ? ' — the Docker daemon was down at that moment (it crashed or was restarted during the run; see dockerd\'s log).' : ''}`);
        if (daemonDown) results.notes.push(`The Docker daemon went down during ${pm} ${id}.`);
        say(`✖ ${id}: ${error.message}${error.tail ? `\n${error.tail.split('\n').slice(-15).join('\n')}` : ''}`);
      }
      out.wallSeconds = Math.round((Date.now() - contenderStarted) / 1000);
      await removeImages(docker.bin, { prefixes: [ws.imagePrefix, `${registry}/${runId}`], runId, log: log('cleanup') });
      if (!argv.keep) rmSync(root, { recursive: true, force: true });
      variant.wallSeconds += out.wallSeconds;
      say(`   ${pm} ${id} done in ${out.wallSeconds} s`);
      writeReport(false);
    }
  }
  if (scenarios.has('P5')) await measureP5({ baseEnv, templateDir: p5Template ?? (await ensureTemplate(join(logDir, 'setup.log'))) });
  writeReport(true);
}

async function measureContender({ id, contender, ws, out, log, docker, registry, registryOk, changed, variant }) {
  await createWorkspace({ contender, ws, templateDir: ws.templateDir, services: N, log: log('setup') });
  const setup = await contender.setup(ws, log('setup'));
  out.notes.push(...setup.notes);
  out.dockerfile = setup.dockerfile;
  if (setup.base) out.baseDockerfile = setup.base;
  await commitAll(ws, `${id} setup`, log('setup'));
  const prefixes = [ws.imagePrefix, `${registry}/${runId}`];
  const reset = async (name) => {
    await removeImages(docker.bin, { prefixes, runId, log: log(name) });
    await pruneBuildCache(docker.bin, log(name));
    wipeWorkspaceState(ws);
  };
  let marker = 0;
  const delta = async (name) => {
    touchService(ws, changed, ++marker);
    await commitAll(ws, `${name} ${marker}`, log(name));
  };

  // P2 cold: every service from an empty image store and build cache. Always run once (the
  // other scenarios start from its result).
  const coldRuns = scenarios.has('P2') ? RC : 1;
  const p2 = [];
  for (let r = 0; r < coldRuns; r++) {
    await reset('P2');
    const { ms } = await timed(() => contender.buildAll(ws, log('P2')));
    p2.push(ms);
    say(`P2 cold       run ${r + 1}/${coldRuns}: ${(ms / 1000).toFixed(1)} s`);
  }
  if (scenarios.has('P2')) {
    out.scenarios.P2 = stats(p2);
    // Every image must hold its own service's compiled output (its name is in its main.js), not
    // another's: moby/buildkit#1368 builds with another project's Dockerfile when two builds
    // share the context folder.
    const wrong = [];
    for (const name of ws.services) if (!(await imageHasText(docker.bin, contender.serviceImage(ws, name), name, log('P2')))) wrong.push(name);
    out.scenarios.P2.change = { found: wrong.length === 0, ...(wrong.length ? { wrong } : {}) };
    say(wrong.length ? `P2 images WITHOUT their own service's output: ${wrong.join(', ')} — P2 of ${id} is void` : `P2 images: each holds its own service's output`);
  }
  if (id === 'ours') out.phasesP2 = sumPhases(ws);
  // 100–200 MB per service is the point of the realistic profile: measured in the images.
  if (!variant.nodeModulesMB && (id === 'ours' || id === 'nxdocker')) {
    variant.nodeModulesMB = await nodeModulesSizes(docker.bin, ws, contender, log('P2'));
    if (variant.nodeModulesMB) say(`production node_modules per service (MB, in the ${id} images): ${Object.entries(variant.nodeModulesMB).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }

  // P1 warm delta (+ P4: the last delta is pushed on top of the previous image). The naive loop
  // rebuilds every service on every delta: it runs `--cold-runs` times, not `--runs`.
  if (scenarios.has('P1') || scenarios.has('P4')) {
    const p1 = [];
    const runsP1 = scenarios.has('P1') ? (id === 'naive' ? RC : R) : 1;
    const pushTo = `${registry}/${runId}/${ws.pm}-${id}/${changed}`;
    for (let r = 0; r < runsP1; r++) {
      const last = r === runsP1 - 1;
      if (last && scenarios.has('P4') && registryOk) {
        await run(docker.bin, ['tag', contender.serviceImage(ws, changed), `${pushTo}:before`], { log: log('P4') });
        await run(docker.bin, ['push', `${pushTo}:before`], { log: log('P4') });
      }
      await delta('P1');
      const { ms } = await timed(() => contender.buildDelta(ws, log('P1')));
      p1.push(ms);
      say(`P1 warm delta run ${r + 1}/${runsP1}: ${(ms / 1000).toFixed(1)} s`);
    }
    if (scenarios.has('P1')) {
      out.scenarios.P1 = stats(p1);
      // A build that does not contain the change is not a measurement of the change: the image
      // must hold the compiled line P1 wrote (BuildKit has shipped another project's Dockerfile
      // before — moby/buildkit#1368 — and a cache can answer for the wrong input).
      out.scenarios.P1.change = await imageHasMarker(docker.bin, contender.serviceImage(ws, changed), marker, log('P1'));
      say(`P1 image ${out.scenarios.P1.change.found ? 'contains' : 'does NOT contain'} the change (BUILD_MARKER = ${marker})${out.scenarios.P1.change.found ? '' : ` — P1 of ${id} is void`}`);
    }
    if (id === 'ours') out.phases = readPhases(ws, changed);
    if (scenarios.has('P4')) {
      const size = await imageSize(docker.bin, contender.serviceImage(ws, changed));
      const p4 = { imageBytes: size, image: contender.serviceImage(ws, changed) };
      if (registryOk) {
        await run(docker.bin, ['tag', contender.serviceImage(ws, changed), `${pushTo}:after`], { log: log('P4') });
        const push = await run(docker.bin, ['push', `${pushTo}:after`], { log: log('P4') });
        Object.assign(p4, await deltaPushBytes(`${pushTo}:before`, `${pushTo}:after`), { pushMs: push.ms });
      }
      out.scenarios.P4 = p4;
      say(`P4 size: ${(size / 1e6).toFixed(1)} MB; delta push ${p4.bytes !== undefined ? `${(p4.bytes / 1e6).toFixed(2)} MB in ${p4.blobs} blobs` : 'n/a'}`);
    }
    // The services must really start: run the changed service's image and ask it for /health.
    if (scenarios.has('start')) {
      out.start = await startCheck(docker.bin, contender.serviceImage(ws, changed), `${runId}-${ws.pm}-${id}-start`, Number(argv.port), log('start'));
      say(`start: ${out.start.ok ? `GET ${profile.healthPath} answered ${out.start.body} after ${(out.start.ms / 1000).toFixed(1)} s` : `FAILED — ${out.start.error}`}`);
    }
  }

  if (id === 'ours' && scenarios.has('floor')) out.scenarios.floor = await measureFloor(ws, changed, docker.bin, log('floor'), () => ++marker);

  // The service's own build as its users run it (no Nx cache), in the same run: P1 minus this
  // is the image overhead, the part of a delta that is the Docker tooling's.
  if (scenarios.has('own') && id !== 'naive') {
    const own = [];
    for (let r = 0; r < R; r++) {
      touchService(ws, changed, ++marker);
      const { ms } = await timed(() => nx(ws, ['run', `${changed}:build`, '--skip-nx-cache', '--outputStyle=stream'], log('own')));
      own.push(ms);
      say(`own build     run ${r + 1}/${R}: ${(ms / 1000).toFixed(1)} s (nx run ${changed}:build --skip-nx-cache)`);
    }
    await commitAll(ws, 'own build', log('own'));
    out.scenarios.ownBuild = stats(own);
    if (out.scenarios.P1 && out.scenarios.P1.change?.found !== false) out.overheadMs = out.scenarios.P1.median - out.scenarios.ownBuild.median;
  }

  // P6: one service starts using one more npm package (package.json + lockfile + an import).
  if (scenarios.has('P6') && id === 'naive') {
    out.notes.push('P6 not run for naive: a lockfile change invalidates its install layer, so it reinstalls everything and rebuilds every service — the shape of its P2.');
  } else if (scenarios.has('P6')) {
    const p6 = [];
    const depImages = [];
    const runsP6 = Math.min(RC, profile.p6Packages.length);
    for (let r = 0; r < runsP6; r++) {
      const pkg = profile.p6Packages[r];
      const manifest = addDependency(ws, changed, pkg);
      writeFileSync(join(ws.root, lockfileName(ws.pm)), await lockfileFor(manifest, log('P6'), ws.pm));
      await commitAll(ws, `P6 ${pkg}`, log('P6'));
      const before = serviceReceipts(ws);
      const { ms } = await timed(() => contender.buildDelta(ws, log('P6')));
      p6.push(ms);
      if (id === 'ours') depImages.push(dependencyImagesBuilt(ws, before));
      say(`P6 new dep    run ${r + 1}/${runsP6}: ${(ms / 1000).toFixed(1)} s (${changed} now imports ${pkg})${id === 'ours' ? `; dependency images built: ${depImages.at(-1) ?? 'n/a (none in the receipts)'}` : ''}`);
    }
    out.scenarios.P6 = { ...stats(p6), ...(id === 'ours' ? { dependencyImagesBuilt: depImages, phases: readPhases(ws, changed) } : {}) };
  }

  // P3 fresh CI machine: local images, build cache and Nx cache gone, one service changed.
  if (scenarios.has('P3')) {
    if (id === 'naive') {
      out.scenarios.P3 = { ...out.scenarios.P2, sameAs: 'P2' };
      out.notes.push('P3 = P2 for naive: the loop rebuilds every service, and a fresh machine has no cache to start from.');
    } else if (id === 'ours') {
      if (!registryOk) {
        out.notes.push(`P3 not measured: registry ${registry} not reachable.`);
      } else {
        const pushEnv = { NX_DOCKER_REGISTRY: `${registry}/${runId}/${ws.pm}`, PUSH: 'true' };
        // The previous CI run: everything built and pushed to the registry (not timed).
        await contender.buildAll(ws, log('P3-prep'), pushEnv);
        const p3 = [];
        for (let r = 0; r < RC; r++) {
          await delta('P3');
          await reset('P3');
          const { ms } = await timed(() => contender.buildDelta(ws, log('P3'), pushEnv));
          p3.push(ms);
          say(`P3 fresh CI   run ${r + 1}/${RC}: ${(ms / 1000).toFixed(1)} s (registry cache, push)`);
        }
        out.scenarios.P3 = { ...stats(p3), phases: readPhases(ws, changed) };
        const noCache = [];
        for (let r = 0; r < RC; r++) {
          await delta('P3-nocache');
          await reset('P3-nocache');
          const { ms } = await timed(() => contender.buildDelta(ws, log('P3-nocache')));
          noCache.push(ms);
          say(`P3 no cache   run ${r + 1}/${RC}: ${(ms / 1000).toFixed(1)} s (same delta, nothing to reuse)`);
        }
        out.scenarios.P3nocache = stats(noCache);
      }
    } else {
      const p3 = [];
      for (let r = 0; r < RC; r++) {
        await delta('P3');
        await reset('P3');
        const { ms } = await timed(() => contender.buildDelta(ws, log('P3')));
        p3.push(ms);
        say(`P3 fresh CI   run ${r + 1}/${RC}: ${(ms / 1000).toFixed(1)} s (no registry cache in its default setup)`);
      }
      out.scenarios.P3 = stats(p3);
      out.notes.push(
        id === 'nxdocker'
          ? 'P3: @nx/docker has no registry cache by default (its generated target runs plain `docker build .`), so a fresh machine rebuilds the changed service from scratch.'
          : 'P3: its generated target configures no registry cache (no cache-from), so a fresh machine rebuilds the changed service from scratch.'
      );
    }
  }
}

async function measureP5({ baseEnv, templateDir }) {
  say(`P5 graph cost on ${P5_PROJECTS} projects`);
  try {
    results.p5 = await measureGraphCost({ benchRoot, templateDir, projects: P5_PROJECTS, runs: Math.max(R, 7), env: baseEnv, log: join(logDir, 'P5.log'), say });
  } catch (error) {
    results.notes.push(`P5 FAILED: ${error.message}`);
    say(`✖ P5: ${error.message}`);
  }
  writeReport(false);
}

/**
 * Written after every contender, so an interrupted run still leaves what it measured. With
 * --results: tools/bench/results/<date>-<profile>.{md,json} (for committing); else --out or a temp dir.
 */
function writeReport(final) {
  results.wallSeconds = Math.round((Date.now() - started) / 1000);
  results.machine.load = { ...results.machine.load, max: Math.max(results.machine.load?.max ?? 0, load.sampleMax()) };
  results.complete = final;
  let markdown;
  try {
    markdown = renderMarkdown(results);
  } catch (error) {
    // The JSON is the record; a rendering bug must not end the run (re-render with render.mjs).
    markdown = `# Rendering failed: ${error.message}\n\nRe-render with \`node tools/bench/render.mjs <this file's .json>\`.\n`;
  }
  const outDir = argv.out ? resolve(argv.out) : argv.results ? join(repoRoot, 'tools/bench/results') : join(benchRoot, 'results');
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, `${results.date.slice(0, 10)}-${profileId}`);
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.json`, JSON.stringify(results, null, 2) + '\n');
  if (final) {
    process.stdout.write(`\n${markdown}\n`);
    say(`wrote ${base}.md and .json; total wall time ${results.wallSeconds} s (${(results.wallSeconds / 60).toFixed(1)} min); logs in ${logDir}`);
  }
}

/** Sum of every service receipt's `phasesMs` (where a whole-workspace build spent its time). */
function sumPhases(ws) {
  const sum = {};
  for (const text of Object.values(serviceReceipts(ws))) {
    for (const [k, v] of Object.entries(JSON.parse(text).phasesMs ?? {})) if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + v;
  }
  return Object.keys(sum).length ? sum : undefined;
}

/** `du` of each service image's production node_modules, in MB (the image's WORKDIR holds it). */
async function nodeModulesSizes(docker, ws, contender, log) {
  const out = {};
  for (const name of ws.services) {
    const r = await run(docker, ['run', '--rm', '--entrypoint', 'sh', '--label', `nxbench.id=${ws.runId}`, contender.serviceImage(ws, name), '-c', 'du -sk node_modules 2>/dev/null || du -sk /app/node_modules'], { capture: true, check: false, log });
    const kb = Number(/^(\d+)/.exec(r.stdout.trim())?.[1]);
    if (kb) out[name] = Math.round(kb / 1024);
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * Whether `image` holds the compiled line `BUILD_MARKER = <marker>` in a .js file under its working
 * directory (node_modules skipped): the proof that a delta image was built from the changed source.
 */
async function imageHasMarker(docker, image, marker, log) {
  const file = await grepImage(docker, image, ['-E', `BUILD_MARKER = ${marker}([^0-9]|$)`], log);
  return { marker, found: file !== undefined, ...(file ? { file } : {}) };
}

/** Whether a .js file under `image`'s working directory (node_modules skipped) contains `text`. */
async function imageHasText(docker, image, text, log) {
  return (await grepImage(docker, image, ['-F', text], log)) !== undefined;
}

/** The first .js file under the image's working directory (node_modules skipped) that matches. */
async function grepImage(docker, image, [mode, pattern], log) {
  if (/'/.test(pattern)) throw new Error(`grepImage: no quotes in patterns (${pattern})`);
  const r = await run(docker, ['run', '--rm', '--entrypoint', 'sh', '--label', `nxbench.id=${runId}`, image, '-c', `grep -rl ${mode} --include='*.js' --exclude-dir=node_modules '${pattern}' . | head -n 1`], { capture: true, check: false, log });
  const file = r.stdout.trim().split('\n')[0];
  return r.code === 0 && file ? file : undefined;
}

/** Runs `image` with PORT=3000 published on 127.0.0.1:`port` and waits for GET <the profile's health path> (≤ 30 s). */
async function startCheck(docker, image, name, port, log) {
  await run(docker, ['rm', '-f', name], { check: false, log });
  const t0 = Date.now();
  const started = await run(docker, ['run', '-d', '--name', name, '--label', `nxbench.id=${runId}`, '-e', 'PORT=3000', '-p', `127.0.0.1:${port}:3000`, image], { check: false, log, capture: true });
  if (started.code !== 0) return { ok: false, error: `docker run exited ${started.code}` };
  let result = { ok: false, error: `no answer on ${profile.healthPath} within 30 s` };
  while (Date.now() - t0 < 30_000) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${profile.healthPath}`, { signal: AbortSignal.timeout(2000) });
      result = { ok: res.ok, ms: Date.now() - t0, body: await res.text() };
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  if (!result.ok) result.logs = (await run(docker, ['logs', '--tail', '20', name], { check: false, capture: true, log })).tail.slice(-1500);
  await run(docker, ['rm', '-f', name], { check: false, log });
  return result;
}

/**
 * A DOCKER_CONFIG folder whose cli-plugins hold a working docker-buildx: NXDD_BUILDX_DOCKER_CONFIG,
 * else what tools/docker-env/install-buildx.sh provides (it fetches Debian's package into this
 * checkout's tmp/ when missing). Undefined when neither is there.
 */
async function findBuildx(log) {
  const given = process.env.NXDD_BUILDX_DOCKER_CONFIG;
  const script = join(repoRoot, 'tools/docker-env/install-buildx.sh');
  let dir = given;
  if (!dir && existsSync(script)) {
    const r = await run('bash', [script], { capture: true, check: false, log });
    dir = /NXDD_BUILDX_DOCKER_CONFIG=(.+)/.exec(r.stdout)?.[1]?.trim();
  }
  if (!dir) return undefined;
  const ok = await run('/usr/bin/env', ['DOCKER_CONFIG=' + dir, process.env.NX_DOCKER_BIN || 'docker', 'buildx', 'version'], { check: false, log });
  return ok.code === 0 ? dir : undefined;
}

/** Where the last build of `name` spent its time, from its receipt (nx-docker-delta records phasesMs). */
function readPhases(ws, name) {
  try {
    const receipt = JSON.parse(readFileSync(join(ws.root, 'dist/nx-docker-delta/apps', name, 'docker-service.json'), 'utf8'));
    return receipt.phasesMs;
  } catch {
    return undefined;
  }
}

/** Every service receipt's text (nx-docker-delta writes one per service image it builds). */
function serviceReceipts(ws) {
  const out = {};
  for (const name of ws.services) {
    try {
      out[name] = readFileSync(join(ws.root, 'dist/nx-docker-delta/apps', name, 'docker-service.json'), 'utf8');
    } catch {
      /* none yet */
    }
  }
  return out;
}

/**
 * How many dependency images the last build built (P6 target: exactly one): receipts it rewrote
 * whose `deps.outcome` is `built`. Undefined when no receipt names a dependency image.
 */
function dependencyImagesBuilt(ws, before) {
  const after = serviceReceipts(ws);
  const parsed = Object.values(after).map((text) => JSON.parse(text));
  if (!parsed.some((receipt) => receipt.deps)) return undefined;
  return Object.entries(after).filter(([name, text]) => text !== before[name] && JSON.parse(text).deps?.outcome === 'built').length;
}

/**
 * The floor of P1: the irreducible work of the change — compile that one service (esbuild,
 * same options as its build target, no Nx) and write + export its one app layer on top of the
 * image it already has (no Nx, no staging, no registry checks).
 */
async function measureFloor(ws, name, docker, log, nextMarker) {
  const dir = join(ws.root, 'tmp/floor');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), `FROM ${ws.imagePrefix}${name}\nCOPY main.js /app/main.js\n`);
  const compileScript = `require('esbuild').buildSync({ entryPoints: ['apps/${name}/src/main.ts'], bundle: true, platform: 'node', format: 'cjs', packages: 'external', tsconfig: 'apps/${name}/tsconfig.app.json', outfile: 'tmp/floor/main.js', logLevel: 'error' })`;
  const compile = [];
  const layer = [];
  const total = [];
  for (let r = 0; r < R; r++) {
    touchService(ws, name, nextMarker());
    const c = await run(process.execPath, ['-e', compileScript], { cwd: ws.root, env: ws.env, log });
    const l = await run(docker, ['build', '--progress=plain', '--tag', `${ws.imagePrefix}floor`, '--label', `nxbench.id=${ws.runId}`, dir], { cwd: ws.root, env: ws.env, log });
    compile.push(c.ms);
    layer.push(l.ms);
    total.push(c.ms + l.ms);
    say(`P1 floor      run ${r + 1}/${R}: ${((c.ms + l.ms) / 1000).toFixed(2)} s (compile ${(c.ms / 1000).toFixed(2)} s + layer ${(l.ms / 1000).toFixed(2)} s)`);
  }
  await commitAll(ws, 'floor', log);
  return { ...stats(total), compile: stats(compile), layer: stats(layer) };
}

main().catch(async (error) => {
  // Whatever happened, leave no image of this run behind.
  await removeImages(process.env.NX_DOCKER_BIN || 'docker', { prefixes: [`${runId}-`, `${argv.registry}/${runId}`], runId, log: join(logDir, 'cleanup.log') }).catch(() => undefined);
  process.stderr.write(`\n✖ ${error.message}\n`);
  if (error instanceof CommandError && error.tail) process.stderr.write(error.tail.split('\n').slice(-40).map((l) => `  │ ${l}`).join('\n') + '\n');
  process.stderr.write(`  logs: ${logDir}\n`);
  process.exitCode = 1;
});

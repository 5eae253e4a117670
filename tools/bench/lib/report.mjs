// Markdown report: machine first, then per package manager the contender × scenario table, ratios
// against us, the floor, the issue's targets (met / missed, and for a miss why, from the measured
// phases), P5, and the Dockerfiles used. `renderSummary` is the table the README copies.
const s = (ms) => (ms === undefined || Number.isNaN(ms) ? 'n/a' : Math.abs(ms) >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`);
const range = (st) => (st ? `${s(st.median)}${st.runs?.length > 1 ? ` (${s(st.min)}–${s(st.max)})` : ''}` : 'n/a');
const mb = (b) => (b === undefined ? 'n/a' : `${(b / 1e6).toFixed(b < 1e6 ? 2 : 1)} MB`);
const x = (ratio) => (ratio === undefined || !Number.isFinite(ratio) ? 'n/a' : `${ratio.toFixed(ratio < 10 ? 2 : 1)}×`);

// The P5 variant with the plugin loaded in Nx's own process (lib/graph-cost.mjs IN_PROCESS).
const IN_PROCESS = ', in-process (NX_ISOLATE_PLUGINS=false)';
// The P5 variant that loads a plugin inferring nothing (lib/graph-cost.mjs NOOP).
const NOOP = 'no-op plugin (infers nothing)';
const ONE_TARGET = 'one-target plugin (a bare target per Dockerfile)';
const ORDER = ['ours', 'nxdocker', 'naive', 'nxcontainer'];
const SHORT = { ours: '**nx-docker-delta**', nxdocker: '@nx/docker 23.2.1 (`setup-docker`)', naive: 'naive (copy repo, install, `nx build`, per-service loop)', nxcontainer: '@nx-tools/nx-container 7.3.0 (buildx)' };

/** Variants of a results object (older single-variant results: the top-level contenders, as npm). */
export function variantsOf(results) {
  if (results.variants) return results.variants;
  return { npm: { packageManager: 'npm', contenders: results.contenders ?? {} } };
}

/** P1 whose image was checked and lacks the change (run.mjs imageHasMarker): not a measurement. */
const voidP1 = (c) => c?.scenarios?.P1?.change?.found === false;
const p1Cell = (c, cell) => `${cell(c.scenarios.P1)}${voidP1(c) ? ' — **void**: the image lacks the change' : ''}`;
/** P2 whose images were checked and some hold another service's output. */
const voidP2 = (c) => c?.scenarios?.P2?.change?.found === false;
const p2Cell = (c, cell) => `${cell(c.scenarios.P2)}${voidP2(c) ? ` — **void**: ${c.scenarios.P2.change.wrong.join(', ')} built from another service's Dockerfile` : ''}`;
const isVoid = { P1: voidP1, P2: voidP2, P3: (c) => c?.scenarios?.P3?.sameAs === 'P2' && voidP2(c) };

const ordered = (contenders) => Object.entries(contenders).sort(([a], [b]) => ORDER.indexOf(a) - ORDER.indexOf(b));

export function ratios(variant) {
  const ours = variant.contenders.ours?.scenarios ?? {};
  const out = {};
  for (const [id, c] of Object.entries(variant.contenders)) {
    if (id === 'ours') continue;
    const r = {};
    for (const key of ['P1', 'P2', 'P3', 'P6']) {
      if (isVoid[key]?.(c) || isVoid[key]?.(variant.contenders.ours)) continue;
      if (c.scenarios[key] && ours[key]) r[key] = c.scenarios[key].median / ours[key].median;
    }
    if (c.scenarios.P4?.imageBytes && ours.P4?.imageBytes) r.P4size = ours.P4.imageBytes / c.scenarios.P4.imageBytes;
    if (c.scenarios.P4?.bytes && ours.P4?.bytes !== undefined) r.P4push = c.scenarios.P4.bytes / Math.max(ours.P4.bytes, 1);
    out[id] = r;
  }
  return out;
}

const topPhases = (phases, n = 3) =>
  phases
    ? Object.entries(phases)
        .filter(([k, v]) => typeof v === 'number' && !/^total/i.test(k))
        .sort(([, a], [, b]) => b - a)
        .slice(0, n)
        .map(([k, v]) => `${k} ${s(v)}`)
        .join(', ')
    : undefined;

/** Every target of issue 8 for one variant: { name, measured, met, why }. */
export function targets(results, variant) {
  const c = variant.contenders;
  const ours = c.ours?.scenarios ?? {};
  const rt = ratios(variant);
  const rows = [];
  // `why` is a function, evaluated only for a miss (its inputs may be missing otherwise).
  const add = (name, measured, met, why) => rows.push({ name, measured, met, why: met === false ? why() : undefined });
  const ownMs = ours.ownBuild?.median;
  const phaseText = topPhases(c.ours?.phases);

  const overhead = c.ours?.overheadMs;
  add('image overhead (P1 − own build) ≤ 1.5 s', overhead === undefined ? 'n/a' : `${s(overhead)} (P1 ${s(ours.P1?.median)} − own build ${s(ownMs)})`, overhead === undefined ? undefined : overhead <= 1500,
    () => {
      const inReceipt = c.ours?.phases ? Object.entries(c.ours.phases).filter(([k, v]) => typeof v === 'number' && !/^total/i.test(k)).reduce((a, [, v]) => a + v, 0) : undefined;
      return `the image part of our delta is ${s(overhead)}${inReceipt !== undefined ? `: ${s(inReceipt)} inside the docker-service receipt (largest phases: ${phaseText}) and ${s(overhead - inReceipt)} outside it — Nx starting the docker-service task process and the docker-build command after the build, on the affected graph` : ''}.`;
    });

  const p1Bound = (theirs) => (theirs?.scenarios.P1 && ownMs ? theirs.scenarios.P1.median / ownMs : undefined);
  for (const [id, min, label] of [['nxdocker', 3, '@nx/docker'], ['naive', 10, 'naive']]) {
    const r = rt[id]?.P1;
    const bound = id === 'nxdocker' ? p1Bound(c.nxdocker) : undefined;
    add(`P1 ≥ ${min}× faster than ${label}`, r === undefined ? 'n/a' : `${x(r)} (${s(c[id].scenarios.P1.median)} vs ${s(ours.P1.median)})`, r === undefined ? undefined : r >= min,
      () => id === 'nxdocker'
        ? `both run the same \`nx affected\` + the service's own build (${s(ownMs)}); @nx/docker's Docker part is ${s(c.nxdocker?.scenarios.P1?.median - (c.nxdocker?.scenarios.ownBuild?.median ?? ownMs))} (its per-change \`npm install\` of the generated package.json), so even a zero-cost image step caps the ratio at ${x(bound)}.`
        : `the naive loop rebuilds all ${results.options.services} services per delta, but its install layer stays cached while the lockfile is unchanged: each service costs only COPY + an in-container \`nx build\`${ownMs && overhead !== undefined ? `; our P1 is the service's own build through Nx (${s(ownMs)}, ${Math.round((ownMs / ours.P1.median) * 100)} % of it) plus ${s(overhead)} of image work, so 10× needs P1 ≤ ${s(c.naive.scenarios.P1.median / 10)}` : ''}.`);
  }
  const p2 = rt.nxdocker?.P2;
  add('P2 cold ≥ 1.5× faster than @nx/docker', p2 === undefined ? 'n/a' : `${x(p2)} (${s(c.nxdocker.scenarios.P2.median)} vs ${s(ours.P2.median)})`, p2 === undefined ? undefined : p2 >= 1.5,
    () => `our cold build's summed receipt phases over all services (largest): ${topPhases(c.ours?.phasesP2) ?? 'n/a'} — \`deps\` includes services waiting for the install of the dependency set they share: Nx runs the ${results.options.services} builds first, then schedules services in project order, so a slot can wait on a set another slot installs; @nx/docker runs one \`npm install\` per service with ${results.options.parallel} in parallel.`);
  const p3 = rt.nxdocker?.P3;
  add('P3 fresh CI ≥ 3× faster than @nx/docker', p3 === undefined ? 'n/a' : `${x(p3)} (${s(c.nxdocker.scenarios.P3.median)} vs ${s(ours.P3.median)})`, p3 === undefined ? undefined : p3 >= 3,
    () => `our fresh-CI delta's receipt phases (largest): ${topPhases(ours.P3?.phases) ?? 'n/a'} — pulling the dependency image / base from the registry and pushing the result are inside P3.`);
  const nc = ours.P3 && ours.P3nocache ? ours.P3nocache.median / ours.P3.median : undefined;
  add('P3 ≥ 5× faster than a no-cache rebuild', nc === undefined ? 'n/a' : `${x(nc)} (${s(ours.P3nocache.median)} vs ${s(ours.P3.median)})`, nc === undefined ? undefined : nc >= 5,
    () => `the no-cache rebuild of the one service (base + its dependency install + app) takes ${s(ours.P3nocache?.median)}; the registry-cached run still spends ${s(ours.P3?.median)} (receipt phases, largest: ${topPhases(ours.P3?.phases) ?? 'n/a'}).`);
  if (results.p5) {
    const show = results.p5.show;
    const addedBy = (variant) => {
      const st = show[variant];
      const base = variant.endsWith(IN_PROCESS) ? show[`without${IN_PROCESS}`] : show.without;
      return st && base ? (st.median - base.median) / base.median : undefined;
    };
    const pct = (v) => `${(v * 100).toFixed(1)} %`;
    const added = addedBy('nx-docker-delta');
    const inProcess = addedBy(`nx-docker-delta${IN_PROCESS}`);
    const floor = addedBy(NOOP);
    const floorInProcess = addedBy(`${NOOP}${IN_PROCESS}`);
    const oneTarget = addedBy(ONE_TARGET);
    add('P5 ≤ 10 % added to `nx show projects`', pct(added), added <= 0.1, () =>
      inProcess !== undefined
        ? `Nx starts a worker process per plugin (isolation, the default)${floor !== undefined ? `: a plugin that infers nothing already adds ${pct(floor)}, the floor of any plugin here` : ''}${oneTarget !== undefined ? `; one that infers a single bare target per Dockerfile (no inputs, no metadata) adds ${pct(oneTarget)}, the floor of any Docker inference` : ''}. With every plugin in Nx's own process (\`NX_ISOLATE_PLUGINS=false\`, against the same setting without plugins) the plugin adds ${pct(inProcess)}${floorInProcess !== undefined ? ` (the no-op plugin ${pct(floorInProcess)})` : ''}: its own share is loading, \`createNodes\` and Nx merging its targets into ${results.p5.projects} projects (see the P5 section).`
        : 'inference runs in Nx\'s plugin worker on every graph computation (see the P5 section).');
  }
  const depImages = ours.P6?.dependencyImagesBuilt;
  const known = depImages?.filter((n) => n !== undefined && n !== null) ?? [];
  add('P6 rebuilds exactly one dependency image', known.length ? known.join(', ') : 'n/a (no dependency images in the receipts)', known.length ? known.every((n) => n === 1) : undefined,
    () => 'receipts show a different number of dependency images built than the one whose dependency set changed.');
  return rows;
}

function renderVariant(results, pm, variant, lines) {
  const contenders = ordered(variant.contenders);
  const ours = variant.contenders.ours?.scenarios ?? {};
  lines.push(`## ${pm}`, '');
  if (variant.nodeModulesMB) {
    const v = Object.values(variant.nodeModulesMB);
    lines.push(`Production \`node_modules\` per service image (measured with \`du\` in the images): ${Object.entries(variant.nodeModulesMB).map(([k, m]) => `${k} ${m} MB`).join(', ')} (min ${Math.min(...v)}, max ${Math.max(...v)} MB).`, '');
  }
  lines.push('| contender | P1 warm delta | P2 cold (all N) | P3 fresh CI (1 changed) | P4 runtime image | P4 delta push | P6 new dependency | own build | image overhead (P1 − own build) | starts (GET /health) | contender wall time |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [, c] of contenders) {
    const sc = c.scenarios;
    const p3 = sc.P3 ? `${range(sc.P3)}${sc.P3.sameAs ? ` (= ${sc.P3.sameAs})` : ''}` : 'n/a';
    const push = sc.P4?.bytes !== undefined ? `${mb(sc.P4.bytes)} (${sc.P4.blobs} blobs)` : 'n/a';
    const start = c.start ? (c.start.ok ? `yes, ${s(c.start.ms)}` : `**no**: ${c.start.error}`) : 'n/a';
    const label = c.error ? `${c.label} — **FAILED** (see notes)` : c.label;
    lines.push(`| ${label} | ${p1Cell(c, range)} | ${p2Cell(c, range)} | ${p3} | ${mb(sc.P4?.imageBytes)} | ${push} | ${range(sc.P6)} | ${range(sc.ownBuild)} | ${c.overheadMs === undefined ? 'n/a' : s(c.overheadMs)} | ${start} | ${c.wallSeconds ?? '?'} s |`);
  }
  lines.push('');
  const o = variant.contenders.ours;
  if (o?.phases) lines.push(`nx-docker-delta svc01 receipt after P1 (\`phasesMs\`): ${Object.entries(o.phases).map(([k, v]) => `${k} ${v} ms`).join(' · ')}.`, '');
  if (o?.phasesP2) lines.push(`nx-docker-delta P2, receipt phases summed over all services: ${Object.entries(o.phasesP2).map(([k, v]) => `${k} ${s(v)}`).join(' · ')}.`, '');
  if (ours.P3?.phases) lines.push(`nx-docker-delta P3 svc01 receipt: ${Object.entries(ours.P3.phases).map(([k, v]) => `${k} ${v} ms`).join(' · ')}.`, '');
  if (ours.P3nocache) lines.push(`nx-docker-delta P3 without a registry cache (same delta, nothing to reuse, no push): ${range(ours.P3nocache)}.`, '');
  if (ours.floor) lines.push(`P1 floor (compile the one service with esbuild, no Nx, + write and export its one app layer on the image it already has): ${range(ours.floor)} (compile ${range(ours.floor.compile)}, layer ${range(ours.floor.layer)}); nx-docker-delta P1 / floor = ${ours.P1 ? x(ours.P1.median / ours.floor.median) : 'n/a'}.`, '');

  const rt = ratios(variant);
  lines.push(`### Ratios, ${pm} (how many times slower / bigger than nx-docker-delta)`, '');
  lines.push('| contender | P1 | P2 | P3 | P6 | P4 image size (ours / theirs) | P4 delta push bytes |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [id, r] of Object.entries(rt).sort(([a], [b]) => ORDER.indexOf(a) - ORDER.indexOf(b))) {
    lines.push(`| ${variant.contenders[id].label} | ${x(r.P1)} | ${x(r.P2)} | ${x(r.P3)} | ${x(r.P6)} | ${r.P4size !== undefined ? `${(r.P4size * 100).toFixed(0)} %` : 'n/a'} | ${x(r.P4push)} |`);
  }
  lines.push('');
  lines.push(`### Targets (issue 8), ${pm}`, '');
  lines.push('| target | measured | met | why (for a miss, from the measured phases) |');
  lines.push('| --- | --- | --- | --- |');
  for (const t of targets(results, variant)) lines.push(`| ${t.name} | ${t.measured} | ${t.met === undefined ? 'n/a' : t.met ? 'met' : '**missed**'} | ${t.why ?? ''} |`);
  lines.push('');
  const notes = contenders.flatMap(([, c]) => (c.notes ?? []).map((n) => `- ${c.label}: ${n}`));
  if (notes.length) lines.push(`### Notes, ${pm}`, '', ...notes, '');
}

/** The compact table the README copies: one row per package manager × contender. */
export function renderSummary(results) {
  const lines = [];
  const m = results.machine ?? {};
  lines.push(`Profile **${results.profile ?? (results.options?.quick ? 'quick' : 'realistic')}**, ${results.date.slice(0, 10)}, nx-docker-delta \`${(results.commit ?? m.pluginCommit ?? '?').slice(0, 10)}\`, N=${results.options.services}, P1/own ×${results.options.runs} and P2/P3/P6 ×${results.options.coldRuns ?? results.options.runs} (medians), \`--parallel=${results.options.parallel ?? 'default'}\`, ${m.nproc} cores, dockerd ${m.dockerServer ?? m.docker}, ${m.clientMode}; total ${(results.wallSeconds / 60).toFixed(0)} min${results.complete === false ? ' — **INCOMPLETE RUN**' : ''}.`, '');
  lines.push('| pm | contender | P1 warm delta | P2 cold | P3 fresh CI | P6 new dep | own build | image overhead | runtime image | delta push |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [pm, variant] of Object.entries(variantsOf(results))) {
    for (const [id, c] of ordered(variant.contenders)) {
      const sc = c.scenarios;
      const cell = (st) => (st ? s(st.median) : c.error ? 'failed' : 'n/a');
      lines.push(`| ${pm} | ${SHORT[id] ?? c.label} | ${p1Cell(c, cell)} | ${p2Cell(c, cell)} | ${cell(sc.P3)}${id === 'ours' && sc.P3nocache ? ` (${s(sc.P3nocache.median)} no cache)` : ''} | ${cell(sc.P6)} | ${cell(sc.ownBuild)} | ${c.overheadMs === undefined ? '–' : s(c.overheadMs)} | ${mb(sc.P4?.imageBytes)} | ${sc.P4?.bytes !== undefined ? mb(sc.P4.bytes) : 'n/a'} |`);
    }
  }
  lines.push('');
  lines.push('| target (issue 8) | ' + Object.keys(variantsOf(results)).join(' | ') + ' |');
  lines.push('| --- | ' + Object.keys(variantsOf(results)).map(() => '---').join(' | ') + ' |');
  const perVariant = Object.values(variantsOf(results)).map((v) => targets(results, v));
  for (let i = 0; i < (perVariant[0]?.length ?? 0); i++) {
    lines.push(`| ${perVariant[0][i].name} | ${perVariant.map((rows) => `${rows[i].measured.split(' (')[0]} ${rows[i].met === undefined ? '' : rows[i].met ? '✓ met' : '✗ missed'}`).join(' | ')} |`);
  }
  return lines.join('\n');
}

export function renderMarkdown(results) {
  const m = results.machine;
  const o = results.options;
  const lines = [];
  lines.push(`# nx-docker-delta benchmark — ${results.date.slice(0, 10)}, ${results.profile} profile`, '');
  lines.push(`- Date: ${results.date} (run \`${results.runId}\`, total wall time ${results.wallSeconds} s = ${(results.wallSeconds / 60).toFixed(1)} min${Object.entries(variantsOf(results)).map(([pm, v]) => `; ${pm} ${v.wallSeconds ?? '?'} s`).join('')})`);
  lines.push(`- nx-docker-delta built from commit \`${results.commit ?? m.pluginCommit ?? '?'}\` (\`git archive\`); generators: ${m.pluginGenerators?.length ? m.pluginGenerators.join(', ') : 'none'}`);
  lines.push(`- Machine: ${m.nproc} × ${m.cpu}, ${m.memory}, Node ${m.node}`);
  lines.push(`- Docker: ${m.docker}; client mode: ${m.clientMode}${m.rejectedClients?.length ? ` (skipped: ${m.rejectedClients.join('; ')})` : ''}; nx-container's buildx DOCKER_CONFIG: ${m.buildxConfig ?? 'not used'}`);
  lines.push(`- Registry: ${m.registry}`);
  lines.push(`- Workload (${results.profile}): ${o.services} ${results.workload}; package managers: ${o.packageManagers.join(', ')} (each its own workspace and results)`);
  lines.push(`- Runs: P1, own build and floor ×${o.runs}; P2, P3, P6 and naive's P1 ×${o.coldRuns} — median (min–max). Every Nx-based contender runs \`run-many\`/\`affected\` with \`--parallel=${o.parallel}\`; the Nx daemon is off (as in CI).${o.quick ? ' QUICK PROFILE: smoke test, not a measurement.' : ''}`);
  if (results.complete === false) lines.push('- **INCOMPLETE**: written while the run was still going (or it was interrupted); missing cells were not measured.');
  if (m.load) {
    // The contenders' own builds load both cores (and Linux counts I/O waits): only the start says whether something else ran.
    const busy = m.load.start > 1;
    lines.push(`- Load: 1-minute load average ${m.load.start.toFixed(2)} at the start (${busy ? 'something else was running: expect noise' : 'a quiet machine'}), at most ${m.load.max.toFixed(2)} during the run, from the contenders' own builds (${m.load.cores} cores).`, '');
  } else {
    // Results written before the load was recorded: those runs shared the machine with other test suites.
    lines.push('- The Docker daemon and the 2 cores were shared with other helpers\' test suites running at the same time: expect noise.', '');
  }
  lines.push('## Summary', '', renderSummary(results), '');
  for (const [pm, variant] of Object.entries(variantsOf(results))) renderVariant(results, pm, variant, lines);

  if (results.p5) {
    const p5 = results.p5;
    lines.push(`## P5 graph cost (${p5.projects} projects, each with a Dockerfile)`, '');
    lines.push('| plugins in nx.json | `nx show projects` | added |');
    lines.push('| --- | --- | --- |');
    for (const [variant, st] of Object.entries(p5.show)) {
      // In-process variants against the in-process run without plugins (Nx's default plugins are isolated otherwise).
      const base = (variant.endsWith(IN_PROCESS) ? p5.show[`without${IN_PROCESS}`] : undefined)?.median ?? p5.show.without?.median;
      const added = variant.startsWith('without') ? '—' : `${(((st.median - base) / base) * 100).toFixed(1)} %`;
      lines.push(`| ${variant} | ${range(st)} | ${added} |`);
    }
    const cn = p5.createNodes;
    lines.push('');
    lines.push(`nx-docker-delta \`createNodes\` called directly on ${cn.files} Dockerfiles (module loaded once, as in Nx's plugin worker): first call ${cn.firstCallMs.toFixed(0)} ms, then ${cn.median.toFixed(0)} ms median (${cn.min.toFixed(0)}–${cn.max.toFixed(0)} ms); module load ${cn.moduleLoadMs.toFixed(0)} ms.`, '');
  }
  if (results.notes?.length) lines.push('## Notes', '', ...results.notes.map((n) => `- ${n}`), '');
  lines.push('## Commands per contender', '');
  lines.push('- nx-docker-delta: `nx g nx-docker-delta:init --flavour=debian --baseImage=node:20-bookworm-slim`, `nx g nx-docker-delta:dockerfile --project=<svc>` per service, then `nx run-many -t docker-build` (P2) / `nx affected -t docker-build --base=HEAD~1` (P1, P3, P6; P3 with `NX_DOCKER_REGISTRY=127.0.0.1:5000/<run> PUSH=true`).');
  lines.push('- @nx/docker: `nx g @nx/node:setup-docker --project=<svc>` per service, then `nx run-many -t docker:build` (P2) / `nx affected -t docker:build --base=HEAD~1` (P1, P3, P6).');
  lines.push('- @nx-tools/nx-container: `nx g @nx-tools/nx-container:configuration --template=nest --engine=docker`, then `nx run-many -t container` / `nx affected -t container`, DOCKER_CONFIG with the buildx plugin (docker driver).');
  lines.push('- naive: `docker build -f apps/<svc>/Dockerfile -t <svc> .` for every service, one after the other.');
  lines.push('- own build: `nx run svc01:build --skip-nx-cache` after a one-line change. P2/P3 reset: the run\'s own images removed, `docker builder prune -af`, Nx cache and build outputs deleted (the `node:20-bookworm-slim` stand-in stays: it cannot be pulled here).');
  lines.push('');
  const first = Object.values(variantsOf(results))[0]?.contenders ?? {};
  for (const [id, title] of [['ours', 'nx-docker-delta service Dockerfile'], ['nxdocker', '@nx/docker (setup-docker) Dockerfile'], ['nxcontainer', '@nx-tools/nx-container Dockerfile'], ['naive', 'naive Dockerfile']]) {
    if (first[id]?.dockerfile) lines.push(`<details><summary>${title} used (${Object.keys(variantsOf(results))[0]})</summary>`, '', '```dockerfile', first[id].dockerfile.trim(), '```', '</details>', '');
  }
  return lines.join('\n');
}

// Markdown report: machine first, then contender × scenario, ratios against us, the floor, P5,
// and the issue's targets with what was measured.
const s = (ms) => (ms === undefined || Number.isNaN(ms) ? 'n/a' : ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`);
const range = (st) => (st ? `${s(st.median)} (${s(st.min)}–${s(st.max)})` : 'n/a');
const mb = (b) => (b === undefined ? 'n/a' : `${(b / 1e6).toFixed(b < 1e6 ? 2 : 1)} MB`);
const x = (ratio) => (ratio === undefined || !Number.isFinite(ratio) ? 'n/a' : `${ratio.toFixed(ratio < 10 ? 2 : 1)}×`);

export function ratios(results) {
  const ours = results.contenders.ours?.scenarios ?? {};
  const out = {};
  for (const [id, c] of Object.entries(results.contenders)) {
    if (id === 'ours') continue;
    const r = {};
    for (const key of ['P1', 'P2', 'P3', 'P6']) {
      if (c.scenarios[key] && ours[key]) r[key] = c.scenarios[key].median / ours[key].median;
    }
    if (c.scenarios.P4?.imageBytes && ours.P4?.imageBytes) r.P4size = ours.P4.imageBytes / c.scenarios.P4.imageBytes;
    if (c.scenarios.P4?.bytes && ours.P4?.bytes !== undefined) r.P4push = c.scenarios.P4.bytes / Math.max(ours.P4.bytes, 1);
    out[id] = r;
  }
  return out;
}

const ORDER = ['ours', 'nxdocker', 'naive', 'nxcontainer'];

export function renderMarkdown(input) {
  const ordered = Object.fromEntries(Object.entries(input.contenders).sort(([a], [b]) => ORDER.indexOf(a) - ORDER.indexOf(b)));
  const results = { ...input, contenders: ordered };
  const m = results.machine;
  const o = results.options;
  const ours = results.contenders.ours?.scenarios ?? {};
  const rt = ratios(results);
  const lines = [];
  lines.push(`# nx-docker-delta benchmark — ${results.date.slice(0, 10)}`, '');
  lines.push(`- Date: ${results.date} (run \`${results.runId}\`, wall time ${results.wallSeconds} s)`);
  lines.push(`- Machine: ${m.nproc} × ${m.cpu}, ${m.memory}, Node ${m.node}`);
  lines.push(`- Docker: ${m.docker}; client mode: ${m.clientMode}${m.rejectedClients?.length ? ` (skipped: ${m.rejectedClients.join('; ')})` : ''}`);
  lines.push(`- Registry: ${m.registry}`);
  lines.push(`- Workspace: ${o.services} express services on 3 shared libs (express, zod, lodash, dayjs), esbuild builds, npm; ${o.runs} run(s) per scenario, median (min–max)${o.quick ? ' — QUICK MODE: smoke test, not a measurement' : ''}`);
  lines.push(`- nx-docker-delta built from commit \`${(m.pluginCommit ?? '?').slice(0, 10)}\`; generators: ${m.pluginGenerators?.length ? m.pluginGenerators.join(', ') : 'none'}`);
  if (results.complete === false) lines.push('- **INCOMPLETE**: written while the run was still going (or it was interrupted); missing cells were not measured.');
  lines.push('- The Docker daemon was shared with other test suites running at the same time: expect noise.', '');

  lines.push('## Wall time and size per contender', '');
  lines.push('| contender | P1 warm delta | P2 cold (all N) | P3 fresh CI (1 changed) | P4 runtime image | P4 delta push | P6 new dependency | own build | image overhead (P1 − own build) |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [id, c] of Object.entries(results.contenders)) {
    const sc = c.scenarios;
    const p3 = sc.P3 ? `${range(sc.P3)}${sc.P3.sameAs ? ` (= ${sc.P3.sameAs})` : ''}` : 'n/a';
    const push = sc.P4?.bytes !== undefined ? `${mb(sc.P4.bytes)} (${sc.P4.blobs} blobs)` : 'n/a';
    const overhead = c.overheadMs === undefined ? 'n/a' : s(c.overheadMs);
    lines.push(`| ${c.label} | ${range(sc.P1)} | ${range(sc.P2)} | ${p3} | ${mb(sc.P4?.imageBytes)} | ${push} | ${range(sc.P6)} | ${range(sc.ownBuild)} | ${overhead} |`);
  }
  lines.push('');
  if (results.contenders.ours?.phases) {
    const ph = results.contenders.ours.phases;
    lines.push(`Where nx-docker-delta's last service build spent its time (receipt \`phasesMs\`): ${Object.entries(ph).map(([k, v]) => `${k} ${v} ms`).join(' · ')}.`, '');
  }
  if (ours.P3nocache) lines.push(`nx-docker-delta P3 without a registry cache (same delta, nothing to reuse, no push): ${range(ours.P3nocache)}.`, '');

  lines.push('## Ratios (how many times slower / bigger than nx-docker-delta)', '');
  lines.push('| contender | P1 | P2 | P3 | P6 | P4 image size (ours / theirs) | P4 delta push bytes |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [id, r] of Object.entries(rt)) {
    lines.push(`| ${results.contenders[id].label} | ${x(r.P1)} | ${x(r.P2)} | ${x(r.P3)} | ${x(r.P6)} | ${r.P4size !== undefined ? `${(r.P4size * 100).toFixed(0)} %` : 'n/a'} | ${x(r.P4push)} |`);
  }
  lines.push('');

  if (ours.floor) {
    lines.push('## P1 floor', '');
    lines.push(`Compile the one service (esbuild, no Nx) + write and export its one app layer on the image it already has: ${range(ours.floor)} (compile ${range(ours.floor.compile)}, layer ${range(ours.floor.layer)}).`);
    if (ours.P1) lines.push(`nx-docker-delta P1 / floor = **${x(ours.P1.median / ours.floor.median)}**.`);
    lines.push('');
  }

  if (results.p5) {
    const p5 = results.p5;
    lines.push(`## P5 graph cost (${p5.projects} projects, each with a Dockerfile)`, '');
    lines.push('| plugins in nx.json | `nx show projects` | added |');
    lines.push('| --- | --- | --- |');
    const base = p5.show.without?.median;
    for (const [variant, st] of Object.entries(p5.show)) {
      const added = variant === 'without' ? '—' : `${(((st.median - base) / base) * 100).toFixed(1)} %`;
      lines.push(`| ${variant} | ${range(st)} | ${added} |`);
    }
    const cn = p5.createNodes;
    lines.push('');
    lines.push(`nx-docker-delta \`createNodes\` called directly on ${cn.files} Dockerfiles (module loaded once, as in Nx's plugin worker): first call ${cn.firstCallMs.toFixed(0)} ms, then ${cn.median.toFixed(0)} ms median (${cn.min.toFixed(0)}–${cn.max.toFixed(0)} ms); module load ${cn.moduleLoadMs.toFixed(0)} ms.`, '');
  }

  lines.push('## Targets (issue 8)', '');
  lines.push('| target | measured | met |');
  lines.push('| --- | --- | --- |');
  const t = (name, value, ok) => lines.push(`| ${name} | ${value} | ${ok === undefined ? 'n/a' : ok ? 'yes' : '**no**'} |`);
  const atLeast = (ratio, min) => (ratio === undefined ? undefined : ratio >= min);
  const overhead = results.contenders.ours?.overheadMs;
  t('image overhead (P1 − own build) ≤ 1.5 s', overhead === undefined ? 'n/a' : s(overhead), overhead === undefined ? undefined : overhead <= 1500);
  t('P1 ≥ 3× faster than @nx/docker', x(rt.nxdocker?.P1), atLeast(rt.nxdocker?.P1, 3));
  t('P1 ≥ 10× faster than naive', x(rt.naive?.P1), atLeast(rt.naive?.P1, 10));
  t('P2 cold ≥ 1.5× faster than @nx/docker', x(rt.nxdocker?.P2), atLeast(rt.nxdocker?.P2, 1.5));
  t('P3 fresh CI ≥ 3× faster than @nx/docker', x(rt.nxdocker?.P3), atLeast(rt.nxdocker?.P3, 3));
  const p3 = ours.P3 && ours.P3nocache ? ours.P3nocache.median / ours.P3.median : undefined;
  t('P3 ≥ 5× faster than a no-cache rebuild', x(p3), atLeast(p3, 5));
  if (results.p5) {
    const added = (results.p5.show['nx-docker-delta'].median - results.p5.show.without.median) / results.p5.show.without.median;
    t('P5 ≤ 10 % added to `nx show projects`', `${(added * 100).toFixed(1)} %`, added <= 0.1);
  }
  const depImages = ours.P6?.dependencyImagesBuilt;
  const known = depImages?.filter((n) => n !== undefined && n !== null) ?? [];
  t('P6 rebuilds exactly one dependency image', known.length ? known.join(', ') : 'n/a (no dependency images in the receipts)', known.length ? known.every((n) => n === 1) : undefined);
  lines.push('');
  const pf = ours.P1 && ours.floor ? ours.P1.median / ours.floor.median : undefined;
  if (pf !== undefined) lines.push(`P1 / floor: ${x(pf)} (the floor is the change's irreducible work, see above).`, '');

  lines.push('## Notes', '');
  for (const [id, c] of Object.entries(results.contenders)) for (const note of c.notes ?? []) lines.push(`- ${c.label}: ${note}`);
  for (const note of results.notes) lines.push(`- ${note}`);
  lines.push('');
  lines.push('## Commands per contender', '');
  lines.push('- nx-docker-delta: `nx g nx-docker-delta:init --flavour=debian --baseImage=node:20-bookworm-slim`, service Dockerfiles (see notes), then `nx run-many -t docker-build` (P2) / `nx affected -t docker-build --base=HEAD~1` (P1, P3; P3 with `NX_DOCKER_REGISTRY=127.0.0.1:5000/<run> PUSH=true`).');
  lines.push('- @nx/docker: `nx g @nx/node:setup-docker --project=<svc>` per service, then `nx run-many -t docker:build` (P2) / `nx affected -t docker:build --base=HEAD~1` (P1, P3).');
  lines.push('- naive: `docker build -f apps/<svc>/Dockerfile -t <svc> .` for every service, one after the other.');
  lines.push('- P2/P3 reset: the run\'s own images removed, `docker builder prune -af`, Nx cache and build outputs deleted (the `node:20-bookworm-slim` stand-in stays: it cannot be pulled here).');
  lines.push('');
  if (results.contenders.ours?.dockerfile) {
    lines.push('<details><summary>nx-docker-delta service Dockerfile used</summary>', '', '```dockerfile', results.contenders.ours.dockerfile.trim(), '```', '</details>', '');
  }
  if (results.contenders.nxdocker?.dockerfile) {
    lines.push('<details><summary>@nx/docker (setup-docker) Dockerfile used</summary>', '', '```dockerfile', results.contenders.nxdocker.dockerfile.trim(), '```', '</details>', '');
  }
  return lines.join('\n');
}

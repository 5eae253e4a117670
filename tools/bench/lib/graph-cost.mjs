// P5: what inference costs. `nx show projects` on a workspace of M projects, each with a
// Dockerfile, without a Docker plugin, with nx-docker-delta and with @nx/docker; and the
// plugin's createNodes function called directly on the file list Nx would hand it.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fallbackServiceDockerfile } from './contenders.mjs';
import { run, stats } from './proc.mjs';
import { commitAll, git, lockfileFor } from './setup.mjs';
import { nxJson, rootPackageJson, writeFiles } from './workspace.mjs';

// Nx runs each plugin in a worker process of its own (plugin isolation, the default); the
// in-process variants (NX_ISOLATE_PLUGINS=false) separate what the plugin itself costs from that.
export const IN_PROCESS = ', in-process (NX_ISOLATE_PLUGINS=false)';
// The floor any plugin pays: a plugin that matches the same files and infers nothing (Nx still
// starts its worker, loads it and calls it). Loaded by absolute path, outside the workspace, so Nx
// resolves it as it resolves an installed package (no workspace project scan, no transpiler).
export const NOOP = 'no-op plugin (infers nothing)';
// The floor of any Docker inference: one bare target for each Dockerfile's folder, nothing else
// (no inputs, no metadata, no createDependencies) — what Nx then spends merging it into the graph.
export const ONE_TARGET = 'one-target plugin (a bare target per Dockerfile)';
const variantsFor = (noopPath, oneTargetPath) => ({
  without: { plugins: [] },
  [NOOP]: { plugins: [{ plugin: noopPath }] },
  [ONE_TARGET]: { plugins: [{ plugin: oneTargetPath }] },
  'nx-docker-delta': { plugins: [{ plugin: 'nx-docker-delta' }] },
  '@nx/docker': { plugins: [{ plugin: '@nx/docker' }] },
  // Nx's own default plugins (project.json, package.json, lockfile) are isolated too: the in-process
  // variants compare with this one.
  [`without${IN_PROCESS}`]: { plugins: [], env: { NX_ISOLATE_PLUGINS: 'false' } },
  [`${NOOP}${IN_PROCESS}`]: { plugins: [{ plugin: noopPath }], env: { NX_ISOLATE_PLUGINS: 'false' } },
  [`${ONE_TARGET}${IN_PROCESS}`]: { plugins: [{ plugin: oneTargetPath }], env: { NX_ISOLATE_PLUGINS: 'false' } },
  [`nx-docker-delta${IN_PROCESS}`]: { plugins: [{ plugin: 'nx-docker-delta' }], env: { NX_ISOLATE_PLUGINS: 'false' } },
  [`@nx/docker${IN_PROCESS}`]: { plugins: [{ plugin: '@nx/docker' }], env: { NX_ISOLATE_PLUGINS: 'false' } },
});

export async function measureGraphCost({ benchRoot, templateDir, projects, runs, env, log, say }) {
  const root = join(benchRoot, 'p5');
  const ws = { root, env: { ...env, NX_CACHE_DIRECTORY: join(root, '.nx/cache') } };
  const files = { '.gitignore': 'node_modules\n.nx\n', 'package.json': rootPackageJson({}) };
  const dockerfiles = ['Dockerfile.base'];
  files['Dockerfile.base'] = 'ARG NODE_IMAGE=node:20-bookworm-slim\nFROM ${NODE_IMAGE}\nWORKDIR /app\n';
  for (let i = 0; i < projects; i++) {
    const name = `p${String(i + 1).padStart(3, '0')}`;
    files[`apps/${name}/project.json`] = JSON.stringify({ name, sourceRoot: `apps/${name}/src`, projectType: 'application' }) + '\n';
    files[`apps/${name}/Dockerfile`] = fallbackServiceDockerfile(name);
    files[`apps/${name}/src/main.ts`] = `export const name = '${name}';\n`;
    dockerfiles.push(`apps/${name}/Dockerfile`);
  }
  mkdirSync(root, { recursive: true });
  writeFiles(root, files);
  writeFileSync(join(root, 'package-lock.json'), await lockfileFor(files['package.json'], log));
  symlinkSync(join(templateDir, 'node_modules'), join(root, 'node_modules'), 'dir');
  await git(ws, ['init', '-q', '-b', 'main'], log);
  await commitAll(ws, 'p5', log);

  const noopDir = join(benchRoot, 'p5-noop-plugin');
  mkdirSync(noopDir, { recursive: true });
  writeFileSync(join(noopDir, 'package.json'), JSON.stringify({ name: 'p5-noop-plugin', version: '0.0.0', main: 'index.js' }) + '\n');
  writeFileSync(join(noopDir, 'index.js'), "exports.createNodesV2 = exports.createNodes = ['**/*{Dockerfile,dockerfile,Containerfile}*', () => []];\n");
  writeFileSync(
    join(noopDir, 'one-target.js'),
    [
      "const { dirname } = require('node:path');",
      "exports.createNodesV2 = exports.createNodes = ['**/*{Dockerfile,dockerfile,Containerfile}*', (files) =>",
      "  files.map((file) => [file, { projects: { [dirname(file)]: { targets: { 'docker-image': { command: 'true' } } } } }])];",
      '',
    ].join('\n')
  );
  const variants = Object.entries(variantsFor(join(noopDir, 'index.js'), join(noopDir, 'one-target.js')));

  // Each variant keeps its own workspace data directory (Nx's graph and file-hash caches, the
  // plugins' caches), so switching nx.json between runs invalidates nothing; the runs are then
  // interleaved (one of each variant per round), so a change in the machine's load hits every
  // variant alike instead of one.
  const nxBin = join(root, 'node_modules/nx/dist/bin/nx.js');
  const envOf = (variant, variantEnv = {}) => ({ ...ws.env, ...variantEnv, NX_WORKSPACE_DATA_DIRECTORY: join(root, '.nx', `data-${variant.replace(/\W+/g, '-')}`) });
  const show = {};
  const times = {};
  for (const [variant, { plugins, env: variantEnv }] of variants) {
    writeFileSync(join(root, 'nx.json'), nxJson(plugins));
    const env = envOf(variant, variantEnv);
    const warm = await run(process.execPath, [nxBin, 'show', 'projects'], { cwd: root, env, log });
    // Counted through a file: Nx exits before a piped stdout is drained, so pipes lose lines.
    const listFile = join(root, `.nx-projects-${variant.replace(/\W/g, '')}.txt`);
    await run('sh', ['-c', 'exec "$0" "$@" > "$LIST_FILE"', process.execPath, nxBin, 'show', 'projects'], { cwd: root, env: { ...env, LIST_FILE: listFile }, log });
    show[variant] = { projects: readFileSync(listFile, 'utf8').split('\n').filter(Boolean).length, firstRunMs: warm.ms };
    times[variant] = [];
  }
  for (let r = 0; r < runs; r++) {
    for (const [variant, { plugins, env: variantEnv }] of variants) {
      writeFileSync(join(root, 'nx.json'), nxJson(plugins));
      times[variant].push((await run(process.execPath, [nxBin, 'show', 'projects'], { cwd: root, env: envOf(variant, variantEnv), log })).ms);
    }
  }
  for (const [variant] of variants) {
    show[variant] = { ...stats(times[variant]), ...show[variant] };
    say(`P5 nx show projects [${variant}]: ${(show[variant].median / 1000).toFixed(2)} s median (${show[variant].projects} projects)`);
  }

  // createNodes called directly, in one process as Nx's plugin worker does (module loaded once).
  const script = `
    const { performance } = require('node:perf_hooks');
    const t0 = performance.now();
    const plugin = require(${JSON.stringify(join(templateDir, 'node_modules/nx-docker-delta/dist/index.js'))});
    const loadMs = performance.now() - t0;
    const files = ${JSON.stringify(dockerfiles)};
    const context = { nxJsonConfiguration: require('./nx.json'), workspaceRoot: process.cwd() };
    (async () => {
      const times = [];
      let nodes = 0;
      for (let i = 0; i < ${runs + 1}; i++) {
        const t = performance.now();
        const result = await plugin.createNodesV2[1](files, {}, context);
        times.push(performance.now() - t);
        nodes = result.length;
      }
      console.log(JSON.stringify({ loadMs, times, nodes }));
    })();`;
  writeFileSync(join(root, 'nx.json'), nxJson([{ plugin: 'nx-docker-delta' }]));
  const direct = await run(process.execPath, ['-e', script], { cwd: root, env: ws.env, log, capture: true });
  const parsed = JSON.parse(direct.stdout.trim().split('\n').pop());
  const createNodes = { files: dockerfiles.length, results: parsed.nodes, moduleLoadMs: parsed.loadMs, firstCallMs: parsed.times[0], ...stats(parsed.times.slice(1)) };
  say(`P5 createNodes on ${dockerfiles.length} Dockerfiles: first call ${createNodes.firstCallMs.toFixed(0)} ms, then ${createNodes.median.toFixed(0)} ms median`);
  return { projects, show, createNodes };
}

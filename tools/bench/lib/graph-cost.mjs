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
const VARIANTS = {
  without: { plugins: [] },
  'nx-docker-delta': { plugins: [{ plugin: 'nx-docker-delta' }] },
  '@nx/docker': { plugins: [{ plugin: '@nx/docker' }] },
  // Nx's own default plugins (project.json, package.json, lockfile) are isolated too: the in-process
  // variants compare with this one.
  [`without${IN_PROCESS}`]: { plugins: [], env: { NX_ISOLATE_PLUGINS: 'false' } },
  [`nx-docker-delta${IN_PROCESS}`]: { plugins: [{ plugin: 'nx-docker-delta' }], env: { NX_ISOLATE_PLUGINS: 'false' } },
  [`@nx/docker${IN_PROCESS}`]: { plugins: [{ plugin: '@nx/docker' }], env: { NX_ISOLATE_PLUGINS: 'false' } },
};

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

  const show = {};
  for (const [variant, { plugins, env: variantEnv = {} }] of Object.entries(VARIANTS)) {
    writeFileSync(join(root, 'nx.json'), nxJson(plugins));
    const env = { ...ws.env, ...variantEnv };
    const nxBin = join(root, 'node_modules/nx/dist/bin/nx.js');
    const warm = await run(process.execPath, [nxBin, 'show', 'projects'], { cwd: root, env, log });
    // Counted through a file: Nx exits before a piped stdout is drained, so pipes lose lines.
    const listFile = join(root, `.nx-projects-${variant.replace(/\W/g, '')}.txt`);
    await run('sh', ['-c', 'exec "$0" "$@" > "$LIST_FILE"', process.execPath, nxBin, 'show', 'projects'], { cwd: root, env: { ...env, LIST_FILE: listFile }, log });
    const count = readFileSync(listFile, 'utf8').split('\n').filter(Boolean).length;
    const times = [];
    for (let r = 0; r < runs; r++) times.push((await run(process.execPath, [nxBin, 'show', 'projects'], { cwd: root, env, log })).ms);
    show[variant] = { ...stats(times), projects: count, firstRunMs: warm.ms };
    say(`P5 nx show projects [${variant}]: ${(show[variant].median / 1000).toFixed(2)} s median (${count} projects)`);
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
  writeFileSync(join(root, 'nx.json'), nxJson(VARIANTS['nx-docker-delta'].plugins));
  const direct = await run(process.execPath, ['-e', script], { cwd: root, env: ws.env, log, capture: true });
  const parsed = JSON.parse(direct.stdout.trim().split('\n').pop());
  const createNodes = { files: dockerfiles.length, results: parsed.nodes, moduleLoadMs: parsed.loadMs, firstCallMs: parsed.times[0], ...stats(parsed.times.slice(1)) };
  say(`P5 createNodes on ${dockerfiles.length} Dockerfiles: first call ${createNodes.firstCallMs.toFixed(0)} ms, then ${createNodes.median.toFixed(0)} ms median`);
  return { projects, show, createNodes };
}

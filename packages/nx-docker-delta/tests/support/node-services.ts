/**
 * A small npm workspace of Node services whose Dockerfiles the `dockerfile` generator's renderer
 * writes (compile=host, the `node:20-bookworm-slim` stand-in as runtime): the fixture the
 * dependency-image and assembly suites build on.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderNodeDockerfile } from '../../src/generators/dockerfile/lib/node-dockerfile';

export const NODE_STANDIN = 'node:20-bookworm-slim';

/** `main.js` of a service: loads `packages`, prints one JSON line with its name and revision. */
export function serverSource(svc: string, packages: string[], revision = 1): string {
  return [
    ...packages.map((p, i) => `const dep${i} = require('${p}');`),
    `module.exports = { name: '${svc}', deps: [${packages.map((_, i) => `dep${i}`).join(', ')}] };`,
    `console.log(JSON.stringify({ service: '${svc}', revision: ${revision} }));`,
    '',
  ].join('\n');
}

/** project.json whose `build` copies src/main.js to dist/apps/<svc>/main.js (Nx-cached build output). */
export function serviceProjectJson(svc: string): string {
  const project = {
    name: svc,
    projectType: 'application',
    targets: {
      build: {
        executor: 'nx:run-commands',
        outputs: [`{workspaceRoot}/dist/apps/${svc}`],
        options: { command: `mkdir -p dist/apps/${svc} && cp apps/${svc}/src/main.js dist/apps/${svc}/main.js` },
      },
    },
  };
  return JSON.stringify(project, null, 2);
}

/** The generated Dockerfile of service `svc` (npm, compile=host, debian-slim on the stand-in). */
export function generatedDockerfile(svc: string): string {
  return renderNodeDockerfile({
    projectName: svc,
    projectRoot: `apps/${svc}`,
    packageManager: 'npm',
    lockfile: 'package-lock.json',
    buildOutputPath: `dist/apps/${svc}`,
    main: 'main.js',
    compile: 'host',
    runtime: 'debian-slim',
    nodeMajor: '20',
    baseImage: 'workspace-base',
    runtimeImage: NODE_STANDIN,
  });
}

/** The root lockfile of `manifest`, resolved by npm itself (nothing installed). */
export function resolveLockfile(manifest: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nxdd-lock-'));
  try {
    writeFileSync(join(dir, 'package.json'), manifest);
    const r = spawnSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm install --package-lock-only failed: ${r.stderr}`);
    return readFileSync(join(dir, 'package-lock.json'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Root files of the workspace: manifest + lockfile of `dependencies`, nx.json with the plugin
 * under `imagePrefix`, ignore files, and a Dockerfile.base labelled with `runLabel` (so the base
 * and everything on it is really built by this run).
 */
export function workspaceRootFiles(o: { name: string; dependencies: Record<string, string>; imagePrefix: string; runLabel: string }): Record<string, string> {
  const manifest = JSON.stringify({ name: o.name, version: '0.0.0', private: true, dependencies: o.dependencies }, null, 2) + '\n';
  return {
    'package.json': manifest,
    'package-lock.json': resolveLockfile(manifest),
    'nx.json': JSON.stringify(
      {
        plugins: [{ plugin: 'nx-docker-delta', options: { imagePrefix: o.imagePrefix } }],
        namedInputs: { default: ['{projectRoot}/**/*'], production: ['default'] },
        pluginsConfig: { '@nx/js': { analyzeSourceFiles: true } },
      },
      null,
      2
    ),
    '.gitignore': 'node_modules\ndist\n.nx\n.nx-docker-delta\n',
    // What a workspace that stages pruned contexts ignores: build output and apps stay visible (staging honours .dockerignore).
    '.dockerignore': 'node_modules\n.nx\n.nx-docker-delta\n.git\n',
    'Dockerfile.base': `ARG NODE_IMAGE=${NODE_STANDIN}\nFROM \${NODE_IMAGE}\nLABEL dev.nx-docker-delta.test-run=${o.runLabel}\nWORKDIR /app\n`,
  };
}

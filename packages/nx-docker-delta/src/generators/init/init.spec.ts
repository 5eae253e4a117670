import { logger, readNxJson, type Tree, updateNxJson } from '@nx/devkit';
import { PRIVATE_REGISTRY_NOTE } from '../utils/private-registry';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { DEFAULT_BASE_DIR, initGenerator, PLUGIN_ENTRY } from './init';

const BASE = `${DEFAULT_BASE_DIR}/Dockerfile.base`;
import { DOCKERIGNORE_HEADER } from './lib/base-dockerfile';

function nodeTree(pm: 'npm' | 'pnpm' | 'yarn', packageManager?: string): Tree {
  const tree = createTreeWithEmptyWorkspace();
  const pkg = JSON.parse(tree.read('package.json', 'utf-8') as string);
  tree.write('package.json', JSON.stringify({ ...pkg, ...(packageManager ? { packageManager } : {}) }));
  const lock = { npm: 'package-lock.json', pnpm: 'pnpm-lock.yaml', yarn: 'yarn.lock' }[pm];
  tree.write(lock, pm === 'pnpm' ? "lockfileVersion: '9.0'\n" : pm === 'yarn' ? '# yarn lockfile v1\n' : '{"lockfileVersion":3}');
  return tree;
}

describe('init generator', () => {
  it('registers the plugin with its options spelled out, once', async () => {
    const tree = nodeTree('npm');
    await initGenerator(tree, { skipFormat: true });
    await initGenerator(tree, { skipFormat: true });
    const entries = (readNxJson(tree)?.plugins ?? []).filter((p) => typeof p !== 'string' && p.plugin === 'nx-docker-delta');
    expect(entries).toEqual([PLUGIN_ENTRY]);
    expect(entries[0]).toMatchInlineSnapshot(`
{
  "options": {
    "baseTargetName": "docker-base",
    "buildTargetName": "docker-build",
    "serviceTargetName": "docker-service",
  },
  "plugin": "nx-docker-delta",
}
`);
  });

  it('tells about the .npmrc build secret only when the workspace has a root .npmrc or .yarnrc.yml', async () => {
    const info = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    try {
      await initGenerator(nodeTree('pnpm'), { skipFormat: true });
      expect(info.mock.calls.map(([line]) => line)).not.toContain(PRIVATE_REGISTRY_NOTE);
      const withNpmrc = nodeTree('npm');
      withNpmrc.write('.npmrc', '@acme:registry=https://npm.acme.example/\n');
      await initGenerator(withNpmrc, { skipFormat: true });
      const withYarnrc = nodeTree('yarn');
      withYarnrc.write('.yarnrc.yml', 'npmAuthToken: ${NPM_TOKEN}\n');
      await initGenerator(withYarnrc, { skipFormat: true });
      expect(info.mock.calls.filter(([line]) => line === PRIVATE_REGISTRY_NOTE)).toHaveLength(2);
    } finally {
      info.mockRestore();
    }
  });

  it('leaves a user-configured plugin entry alone', async () => {
    const tree = nodeTree('npm');
    const nxJson = readNxJson(tree) ?? {};
    updateNxJson(tree, { ...nxJson, plugins: [{ plugin: 'nx-docker-delta', options: { buildTargetName: 'image' } }] });
    await initGenerator(tree, { skipFormat: true });
    expect(readNxJson(tree)?.plugins).toEqual([{ plugin: 'nx-docker-delta', options: { buildTargetName: 'image' } }]);
  });

  it('writes a pnpm alpine base pinned to packageManager', async () => {
    const tree = nodeTree('pnpm', 'pnpm@9.15.9');
    await initGenerator(tree, { skipFormat: true });
    expect(tree.read(BASE, 'utf-8')).toMatchInlineSnapshot(`
"# Shared toolchain base for every Node service of this workspace (nx-docker-delta).
# Toolchain only: no application source and no lockfile, so no service change invalidates it.
# Rebuild it regularly with --no-cache to pick up OS security fixes.
ARG NODE_IMAGE=node:20-alpine
FROM \${NODE_IMAGE}

# OS build dependencies for native modules (node-gyp), installed once for all services.
# Extend with --build-arg OS_BUILD_DEPS="... libpq-dev" or empty it to skip.
# Native addons: none in pnpm-lock.yaml, so no compilers (re-run \`nx g nx-docker-delta:init\` after adding one).
ARG OS_BUILD_DEPS=""
RUN if [ -n "$OS_BUILD_DEPS" ]; then apk add --no-cache $OS_BUILD_DEPS; fi

# pnpm pinned to the workspace's version.
RUN npm install -g pnpm@9.15.9

# Non-root user (uid 1000, like the official node images) for stages that run the app.
RUN id -u node >/dev/null 2>&1 || { addgroup -g 1000 node && adduser -u 1000 -G node -h /home/node -s /bin/sh -D node; }

ENV NPM_CONFIG_UPDATE_NOTIFIER=false \\
    NPM_CONFIG_FUND=false \\
    NEXT_TELEMETRY_DISABLED=1
WORKDIR /app
"
`);
  });

  it('writes a debian npm base', async () => {
    const tree = nodeTree('npm');
    await initGenerator(tree, { skipFormat: true, flavour: 'debian' });
    expect(tree.read(BASE, 'utf-8')).toMatchInlineSnapshot(`
"# Shared toolchain base for every Node service of this workspace (nx-docker-delta).
# Toolchain only: no application source and no lockfile, so no service change invalidates it.
# Rebuild it regularly with --no-cache to pick up OS security fixes.
ARG NODE_IMAGE=node:20-bookworm-slim
FROM \${NODE_IMAGE}

# OS build dependencies for native modules (node-gyp), installed once for all services.
# Extend with --build-arg OS_BUILD_DEPS="... libpq-dev" or empty it to skip.
# Native addons: cannot tell from package-lock.json, so compilers for node-gyp are included.
ARG OS_BUILD_DEPS="python3 make g++ ca-certificates"
RUN if [ -n "$OS_BUILD_DEPS" ]; then \\
      apt-get update \\
      && apt-get install -y --no-install-recommends $OS_BUILD_DEPS \\
      && rm -rf /var/lib/apt/lists/*; \\
    fi

# npm: the version bundled with the image (pin one with "packageManager" in package.json).

# Non-root user (uid 1000, like the official node images) for stages that run the app.
RUN id -u node >/dev/null 2>&1 || { groupadd --gid 1000 node && useradd --uid 1000 --gid node --home-dir /home/node --create-home --shell /bin/sh node; }

ENV NPM_CONFIG_UPDATE_NOTIFIER=false \\
    NPM_CONFIG_FUND=false \\
    NEXT_TELEMETRY_DISABLED=1
WORKDIR /app
"
`);
  });

  it('pins yarn classic from the lockfile and keeps no app source or lockfile in the base', async () => {
    const tree = nodeTree('yarn');
    await initGenerator(tree, { skipFormat: true });
    const base = tree.read(BASE, 'utf-8') as string;
    expect(base).toContain('RUN npm install -g --force yarn@1.22.22');
    expect(base).not.toMatch(/^(COPY|ADD)\b/m);
    expect(base).toMatch(/^ARG NODE_IMAGE=node:20-alpine\nFROM \$\{NODE_IMAGE\}$/m);
  });

  it('writes an Elixir base for a mix umbrella with hex switchable off', async () => {
    const tree = createTreeWithEmptyWorkspace();
    tree.write('mix.exs', 'defmodule Umbrella.MixProject do\n  def project, do: [apps_path: "apps"]\nend\n');
    tree.write('apps/api/mix.exs', 'defmodule Api.MixProject do end\n');
    await initGenerator(tree, { skipFormat: true });
    expect(tree.read(BASE, 'utf-8')).toMatchInlineSnapshot(`
"# Shared Elixir/Erlang toolchain base for every release of this umbrella (nx-docker-delta).
# Toolchain only: no application source, no mix.lock, so no service change invalidates it.
# Rebuild it regularly with --no-cache to pick up OS security fixes.
ARG ELIXIR_IMAGE=hexpm/elixir:1.17.3-erlang-27.2-alpine-3.21.0
FROM \${ELIXIR_IMAGE}

# OS build dependencies (NIFs, git deps), installed once for all services.
ARG OS_BUILD_DEPS="build-base git"
RUN if [ -n "$OS_BUILD_DEPS" ]; then apk add --no-cache $OS_BUILD_DEPS; fi

# hex and rebar come from the network; --build-arg MIX_INSTALL_HEX=false skips them
# (offline builds, or umbrellas with in-umbrella dependencies only).
ARG MIX_INSTALL_HEX=true
RUN if [ "$MIX_INSTALL_HEX" = "true" ]; then mix local.hex --force && mix local.rebar --force; fi

# Non-root user (uid 1000) for stages that run the release.
RUN id -u app >/dev/null 2>&1 || { addgroup -g 1000 app && adduser -u 1000 -G app -h /app -s /bin/sh -D app; }

ENV MIX_ENV=prod \\
    LANG=C.UTF-8
WORKDIR /app
"
`);
    expect(tree.read('.dockerignore', 'utf-8')).toContain('_build');
  });

  it('never overwrites a changed Dockerfile.base without --force, and is idempotent', async () => {
    const tree = nodeTree('npm');
    await initGenerator(tree, { skipFormat: true });
    const first = tree.read(BASE, 'utf-8');
    await initGenerator(tree, { skipFormat: true });
    expect(tree.listChanges().length).toBeGreaterThan(0);
    expect(tree.read(BASE, 'utf-8')).toBe(first);

    tree.write(BASE, 'FROM mine\n');
    await initGenerator(tree, { skipFormat: true });
    expect(tree.read(BASE, 'utf-8')).toBe('FROM mine\n');
    await initGenerator(tree, { skipFormat: true, force: true });
    expect(tree.read(BASE, 'utf-8')).toBe(first);
  });

  it('installs OS build tools only when the lockfile has a native addon; a re-run follows the lockfile', async () => {
    const tree = nodeTree('npm');
    tree.write('package-lock.json', JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/ms': { version: '2.1.3' } } }));
    await initGenerator(tree, { flavour: 'debian', skipFormat: true });
    const lines = (tree.read(BASE, 'utf-8') as string).split('\n').filter((l) => /^ARG OS_BUILD_DEPS=|^# Native addons/.test(l));
    expect(lines).toEqual([
      '# Native addons: none in package-lock.json, so no compilers (re-run `nx g nx-docker-delta:init` after adding one).',
      'ARG OS_BUILD_DEPS=""',
    ]);

    // The user edits another line; a native addon arrives: init moves only the verdict.
    tree.write(BASE, (tree.read(BASE, 'utf-8') as string).replace('WORKDIR /app', 'WORKDIR /srv'));
    tree.write('package-lock.json', JSON.stringify({ lockfileVersion: 3, packages: { '': {}, 'node_modules/bcrypt': { version: '5.1.1', hasInstallScript: true } } }));
    await initGenerator(tree, { flavour: 'debian', skipFormat: true });
    const updated = tree.read(BASE, 'utf-8') as string;
    expect(updated).toContain('# Native addons: bcrypt in package-lock.json may compile, so compilers for node-gyp are included.\nARG OS_BUILD_DEPS="python3 make g++ ca-certificates"\n');
    expect(updated).toContain('WORKDIR /srv');
    await initGenerator(tree, { flavour: 'debian', skipFormat: true });
    expect(tree.read(BASE, 'utf-8')).toBe(updated);

    // A list the user extended is theirs.
    tree.write(BASE, updated.replace('g++ ca-certificates"', 'g++ ca-certificates libpq-dev"'));
    tree.write('package-lock.json', JSON.stringify({ lockfileVersion: 3, packages: { '': {} } }));
    await initGenerator(tree, { flavour: 'debian', skipFormat: true });
    expect(tree.read(BASE, 'utf-8')).toContain('libpq-dev"');
  });

  it('a second run changes no file', async () => {
    const tree = nodeTree('pnpm', 'pnpm@9.15.9');
    await initGenerator(tree, { skipFormat: true });
    const snapshot = new Map(tree.listChanges().map((c) => [c.path, c.content?.toString()]));
    await initGenerator(tree, { skipFormat: true });
    expect(new Map(tree.listChanges().map((c) => [c.path, c.content?.toString()]))).toEqual(snapshot);
  });

  it('merges .dockerignore, keeping user lines and letting user negations win', async () => {
    const tree = nodeTree('npm');
    tree.write('.dockerignore', 'secrets/\n.git\n!.env.ci\n');
    await initGenerator(tree, { skipFormat: true });
    const merged = tree.read('.dockerignore', 'utf-8') as string;
    expect(merged).toMatchInlineSnapshot(`
"# Added by nx-docker-delta: kept out of every build context.
**/node_modules
.nx
.nx-docker-delta
**/.env*
!**/.env.example
**/coverage
tmp
**/*.log
.DS_Store

secrets/
.git
!.env.ci
"
`);
    expect(merged.endsWith('secrets/\n.git\n!.env.ci\n')).toBe(true);
    expect(merged).not.toMatch(/^dist$/m);
    await initGenerator(tree, { skipFormat: true });
    expect(tree.read('.dockerignore', 'utf-8')).toBe(merged);
    expect(merged.split(DOCKERIGNORE_HEADER).length).toBe(2);
  });

  it('warns but still registers when no toolchain is found', async () => {
    const tree = createTreeWithEmptyWorkspace();
    await initGenerator(tree, { skipFormat: true });
    expect(tree.exists(BASE)).toBe(false);
    expect(JSON.stringify(readNxJson(tree)?.plugins)).toContain('nx-docker-delta');
  });

  it('lets baseImage override the FROM default', async () => {
    const tree = nodeTree('npm');
    await initGenerator(tree, { skipFormat: true, baseImage: 'node:22-alpine' });
    expect(tree.read(BASE, 'utf-8')).toMatch(/^ARG NODE_IMAGE=node:22-alpine$/m);
  });
  it('puts the base in its own project by default, so root-file changes never make services affected', async () => {
    const tree = createTreeWithEmptyWorkspace();
    tree.write('package-lock.json', '{"lockfileVersion":3,"packages":{}}');
    await initGenerator(tree, { skipFormat: true });
    expect(tree.exists('Dockerfile.base')).toBe(false);
    expect(JSON.parse(tree.read('docker/workspace-base/project.json', 'utf-8') as string)).toEqual({
      name: 'workspace-base',
      $schema: '../../node_modules/nx/schemas/project-schema.json',
      projectType: 'library',
      tags: ['docker:base'],
    });
  });

  it('keeps the seed layout when a root Dockerfile.base exists, and honours --baseDir=.', async () => {
    const existing = createTreeWithEmptyWorkspace();
    existing.write('package-lock.json', '{"lockfileVersion":3,"packages":{}}');
    existing.write('Dockerfile.base', 'FROM mine\n');
    await initGenerator(existing, { skipFormat: true });
    expect(existing.read('Dockerfile.base', 'utf-8')).toBe('FROM mine\n');
    expect(existing.exists(BASE)).toBe(false);

    const root = createTreeWithEmptyWorkspace();
    root.write('package-lock.json', '{"lockfileVersion":3,"packages":{}}');
    await initGenerator(root, { skipFormat: true, baseDir: '.' });
    expect(root.read('Dockerfile.base', 'utf-8')).toMatch(/^ARG NODE_IMAGE=node:20-alpine$/m);
    expect(root.exists('project.json')).toBe(false);
  });
});

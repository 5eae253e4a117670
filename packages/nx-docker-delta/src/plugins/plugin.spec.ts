import type { CreateDependenciesContext, CreateNodesContextV2, CreateNodesResult, ProjectConfiguration, TargetConfiguration } from '@nx/devkit';
import { DependencyType } from '@nx/devkit';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { minimatch } from 'minimatch';
import type { NxDockerDeltaPluginOptions } from '../planning/options';
import { createDependencies, createNodes, createNodesV2 } from './plugin';

type Files = Record<string, string>;

const ROOT_PACKAGE = JSON.stringify({ name: 'acme', private: true });
const BASE_DOCKERFILE = ['FROM nxdd-test/node:20', 'WORKDIR /app', 'COPY package.json package-lock.json ./', 'RUN npm ci', ''].join('\n');
const SERVICE = (arg: string) => [arg, 'FROM ${BASE_IMAGE}', 'COPY dist ./dist', 'CMD ["node", "dist/main.js"]', ''].join('\n');
const project = (name: string) => JSON.stringify({ name });

let workspaceRoot: string;
beforeEach(() => {
  workspaceRoot = mkdtempSync(join(tmpdir(), 'nxdd-plugin-'));
});
afterEach(() => {
  rmSync(workspaceRoot, { recursive: true, force: true });
});

function write(files: Files): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(workspaceRoot, path)), { recursive: true });
    writeFileSync(join(workspaceRoot, path), content);
  }
}

/** The files Nx hands the plugin: everything under the workspace its static glob matches. */
function matchedFiles(): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const entry of readdirSync(join(workspaceRoot, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) visit(path);
      else if (minimatch(path, createNodesV2[0], { dot: true })) out.push(path);
    }
  };
  visit('');
  return out.sort();
}

function infer(files: Files, options?: NxDockerDeltaPluginOptions, namedInputs: Record<string, string[]> = { default: ['{projectRoot}/**/*'] }) {
  write(files);
  const context: CreateNodesContextV2 = { workspaceRoot, nxJsonConfiguration: { namedInputs } };
  const results = createNodesV2[1](matchedFiles(), options, context) as Array<readonly [string, CreateNodesResult]>;
  // The docker-build command names the plugin's script by where this checkout is: shown as <script>.
  return JSON.parse(JSON.stringify(results).split(SCRIPT).join('<script>')) as typeof results;
}

/** The docker-build script of the plugin under test (outside the temp workspace: an absolute path). */
const SCRIPT = join(__dirname, '..', 'bin', 'docker-build.js');
const dockerBuildCommand = (targets: string) => ({ command: `node <script> --targets=${targets}` });

/** Per project root, the targets every result gives it (as Nx merges them). */
function targetsByRoot(results: Array<readonly [string, CreateNodesResult]>): Record<string, Record<string, TargetConfiguration>> {
  const byRoot: Record<string, Record<string, TargetConfiguration>> = {};
  for (const [, result] of results) {
    for (const [root, config] of Object.entries(result.projects ?? {})) {
      byRoot[root] = { ...byRoot[root], ...config.targets };
    }
  }
  return byRoot;
}

const SEED: Files = {
  'package.json': ROOT_PACKAGE,
  'Dockerfile.base': BASE_DOCKERFILE,
  '.dockerignore': 'node_modules\n',
  'apps/api/project.json': project('api'),
  'apps/api/Dockerfile': SERVICE('ARG BASE_IMAGE=workspace-base'),
  'apps/web/package.json': project('web'),
  'apps/web/Dockerfile': SERVICE('ARG BASE_IMAGE'),
};

describe('createNodes', () => {
  it('is the same tuple under both names', () => {
    expect(createNodes).toBe(createNodesV2);
  });

  it('gives services nx-release-publish when the workspace uses nx release, never taking over an npm package', () => {
    write({ ...SEED, 'apps/private/package.json': JSON.stringify({ name: 'private', private: true }), 'apps/private/Dockerfile': SERVICE('ARG BASE_IMAGE') });
    const run = (release?: object) =>
      targetsByRoot(
        createNodesV2[1](matchedFiles(), undefined, {
          workspaceRoot,
          nxJsonConfiguration: { namedInputs: { default: ['{projectRoot}/**/*'] }, ...(release ? { release } : {}) },
        }) as Array<readonly [string, CreateNodesResult]>
      );
    const withRelease = run({ projects: ['api', 'private'] });
    expect(withRelease['apps/api']['nx-release-publish']).toEqual({
      executor: 'nx-docker-delta:release-publish',
      cache: false,
      options: {},
      metadata: expect.objectContaining({ technologies: ['docker'] }),
    });
    expect(withRelease['apps/private']['nx-release-publish']?.executor).toBe('nx-docker-delta:release-publish');
    // apps/web's package.json is not private: an npm package, whose publish target is npm's.
    expect(withRelease['apps/web']['nx-release-publish']).toBeUndefined();
    expect(Object.values(run()).some((targets) => 'nx-release-publish' in targets)).toBe(false);
  });

  it('infers nothing on an unsupported Nx and says so once, in one sentence', () => {
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (message: string) => warnings.push(message);
    try {
      write({ 'node_modules/nx/package.json': JSON.stringify({ name: 'nx', version: '19.8.4' }) });
      expect(infer(SEED)).toEqual([]);
      expect(infer(SEED)).toEqual([]);
    } finally {
      console.warn = warn;
    }
    expect(warnings).toEqual([
      'nx-docker-delta supports Nx 20–23 but this workspace runs Nx 19.8.4, so it infers no Docker targets — upgrade the workspace to Nx 20 or newer (nx migrate 20).',
    ]);
  });

  it('infers a root base and two services on it', () => {
    expect(infer(SEED)).toMatchInlineSnapshot(`
[
  [
    "Dockerfile.base",
    {
      "projects": {
        ".": {
          "targets": {
            "docker-base": {
              "cache": false,
              "executor": "nx-docker-delta:base",
              "inputs": [
                "{workspaceRoot}/Dockerfile.base",
                "{workspaceRoot}/Dockerfile.base.dockerignore",
                "{workspaceRoot}/.dockerignore",
                "{workspaceRoot}/package.json",
                "{workspaceRoot}/package.json/**/*",
                "{workspaceRoot}/package-lock.json",
                "{workspaceRoot}/package-lock.json/**/*",
                {
                  "env": "NX_DOCKER_REGISTRY",
                },
                {
                  "env": "PUSH",
                },
                {
                  "env": "NX_DOCKER_PUSH",
                },
                {
                  "env": "NX_DOCKER_PLATFORM",
                },
                {
                  "env": "NX_DOCKER_TAGS",
                },
                {
                  "env": "NX_DOCKER_CACHE_REGISTRY",
                },
              ],
              "metadata": {
                "description": "Build the shared base image workspace, tagged by a hash of exactly its inputs (built once, reused everywhere)",
                "help": {
                  "command": "node -e "console.log(JSON.stringify(require('nx-docker-delta/dist/executors/base/schema.json'), null, 2))"",
                  "example": {},
                },
                "technologies": [
                  "docker",
                ],
              },
              "options": {
                "bases": [
                  {
                    "context": ".",
                    "dockerfile": "Dockerfile.base",
                    "name": "workspace",
                  },
                ],
              },
              "outputs": [
                "{workspaceRoot}/dist/nx-docker-delta/bases/workspace.json",
              ],
            },
            "docker-build": {
              "cache": false,
              "dependsOn": [
                {
                  "params": "forward",
                  "target": "docker-base",
                },
              ],
              "executor": "nx:run-commands",
              "metadata": {
                "description": "Build what changed and make sure every image the receipts name is available (pulls or rebuilds after a cache hit if not)",
                "help": {
                  "command": "node -e "console.log(JSON.stringify(require('nx-docker-delta/dist/executors/verify/schema.json'), null, 2))"",
                  "example": {},
                },
                "technologies": [
                  "docker",
                ],
              },
              "options": {
                "command": "node <script> --targets=docker-base",
              },
            },
          },
        },
      },
    },
  ],
  [
    "apps/api/Dockerfile",
    {
      "projects": {
        "apps/api": {
          "targets": {
            "docker-build": {
              "cache": false,
              "dependsOn": [
                {
                  "params": "forward",
                  "target": "docker-service",
                },
              ],
              "executor": "nx:run-commands",
              "metadata": {
                "description": "Build what changed and make sure every image the receipts name is available (pulls or rebuilds after a cache hit if not)",
                "help": {
                  "command": "node -e "console.log(JSON.stringify(require('nx-docker-delta/dist/executors/verify/schema.json'), null, 2))"",
                  "example": {},
                },
                "technologies": [
                  "docker",
                ],
              },
              "options": {
                "command": "node <script> --targets=docker-service",
              },
            },
            "docker-service": {
              "cache": true,
              "dependsOn": [
                "build",
              ],
              "executor": "nx-docker-delta:service",
              "inputs": [
                "default",
                "^default",
                "{workspaceRoot}/apps/api/Dockerfile",
                "{workspaceRoot}/apps/api/Dockerfile.dockerignore",
                "{workspaceRoot}/apps/api/.dockerignore",
                "{workspaceRoot}/Dockerfile.base",
                "{workspaceRoot}/Dockerfile.base.dockerignore",
                "{workspaceRoot}/.dockerignore",
                "{workspaceRoot}/package.json",
                "{workspaceRoot}/package.json/**/*",
                "{workspaceRoot}/package-lock.json",
                "{workspaceRoot}/package-lock.json/**/*",
                {
                  "env": "NX_DOCKER_REGISTRY",
                },
                {
                  "env": "PUSH",
                },
                {
                  "env": "NX_DOCKER_PUSH",
                },
                {
                  "env": "NX_DOCKER_PLATFORM",
                },
                {
                  "env": "NX_DOCKER_TAGS",
                },
                {
                  "env": "NX_DOCKER_CACHE_REGISTRY",
                },
              ],
              "metadata": {
                "context": {
                  "path": "apps/api",
                  "reason": "the project folder (default)",
                },
                "description": "Build the Dockerfile image on the shared base workspace, only its own layers; writes a receipt",
                "help": {
                  "command": "node -e "console.log(JSON.stringify(require('nx-docker-delta/dist/executors/service/schema.json'), null, 2))"",
                  "example": {
                    "options": {
                      "push": true,
                      "tags": [
                        "latest",
                      ],
                    },
                  },
                },
                "technologies": [
                  "docker",
                ],
              },
              "options": {
                "dockerfile": "apps/api/Dockerfile",
              },
              "outputs": [
                "{workspaceRoot}/dist/nx-docker-delta/apps/api/docker-service.json",
              ],
            },
          },
        },
      },
    },
  ],
  [
    "apps/web/Dockerfile",
    {
      "projects": {
        "apps/web": {
          "targets": {
            "docker-build": {
              "cache": false,
              "dependsOn": [
                {
                  "params": "forward",
                  "target": "docker-service",
                },
              ],
              "executor": "nx:run-commands",
              "metadata": {
                "description": "Build what changed and make sure every image the receipts name is available (pulls or rebuilds after a cache hit if not)",
                "help": {
                  "command": "node -e "console.log(JSON.stringify(require('nx-docker-delta/dist/executors/verify/schema.json'), null, 2))"",
                  "example": {},
                },
                "technologies": [
                  "docker",
                ],
              },
              "options": {
                "command": "node <script> --targets=docker-service",
              },
            },
            "docker-service": {
              "cache": true,
              "dependsOn": [
                "build",
              ],
              "executor": "nx-docker-delta:service",
              "inputs": [
                "default",
                "^default",
                "{workspaceRoot}/apps/web/Dockerfile",
                "{workspaceRoot}/apps/web/Dockerfile.dockerignore",
                "{workspaceRoot}/apps/web/.dockerignore",
                "{workspaceRoot}/Dockerfile.base",
                "{workspaceRoot}/Dockerfile.base.dockerignore",
                "{workspaceRoot}/.dockerignore",
                "{workspaceRoot}/package.json",
                "{workspaceRoot}/package.json/**/*",
                "{workspaceRoot}/package-lock.json",
                "{workspaceRoot}/package-lock.json/**/*",
                {
                  "env": "NX_DOCKER_REGISTRY",
                },
                {
                  "env": "PUSH",
                },
                {
                  "env": "NX_DOCKER_PUSH",
                },
                {
                  "env": "NX_DOCKER_PLATFORM",
                },
                {
                  "env": "NX_DOCKER_TAGS",
                },
                {
                  "env": "NX_DOCKER_CACHE_REGISTRY",
                },
              ],
              "metadata": {
                "context": {
                  "path": "apps/web",
                  "reason": "the project folder (default)",
                },
                "description": "Build the Dockerfile image on the shared base workspace, only its own layers; writes a receipt",
                "help": {
                  "command": "node -e "console.log(JSON.stringify(require('nx-docker-delta/dist/executors/service/schema.json'), null, 2))"",
                  "example": {
                    "options": {
                      "push": true,
                      "tags": [
                        "latest",
                      ],
                    },
                  },
                },
                "technologies": [
                  "docker",
                ],
              },
              "options": {
                "dockerfile": "apps/web/Dockerfile",
              },
              "outputs": [
                "{workspaceRoot}/dist/nx-docker-delta/apps/web/docker-service.json",
              ],
            },
          },
        },
      },
    },
  ],
]
`);
  });

  it('options: target names', () => {
    const targets = targetsByRoot(infer(SEED, { baseTargetName: 'image-base', serviceTargetName: 'image', buildTargetName: 'container' }));
    expect(Object.keys(targets['.']).sort()).toEqual(['container', 'image-base']);
    expect(Object.keys(targets['apps/api']).sort()).toEqual(['container', 'image']);
    expect(targets['apps/api'].image.dependsOn).toEqual(['build']);
    expect(targets['apps/api'].container.options).toEqual(dockerBuildCommand('image'));
    expect(targets['.'].container.options).toEqual(dockerBuildCommand('image-base'));
  });

  it('options: baseGlob', () => {
    const targets = targetsByRoot(
      infer(
        {
          'package.json': ROOT_PACKAGE,
          'docker/base.Dockerfile': BASE_DOCKERFILE,
          'apps/api/project.json': project('api'),
          'apps/api/Dockerfile': SERVICE('ARG BASE_IMAGE'),
        },
        { baseGlob: '**/base.Dockerfile' }
      )
    );
    expect(targets['.']['docker-base'].options.bases).toEqual([{ name: 'docker', dockerfile: 'docker/base.Dockerfile', context: 'docker' }]);
    expect(targets['apps/api']['docker-service'].metadata?.description).toContain('on the shared base docker');
  });

  it('options: serviceGlobs', () => {
    const targets = targetsByRoot(
      infer(
        {
          ...SEED,
          'apps/api/Dockerfile': 'FROM busybox\n',
          'apps/api/Containerfile': SERVICE('ARG BASE_IMAGE'),
        },
        { serviceGlobs: ['**/Containerfile'] }
      )
    );
    expect(Object.keys(targets).sort()).toEqual(['.', 'apps/api']);
    expect(targets['apps/api']['docker-service'].options).toEqual({ dockerfile: 'apps/api/Containerfile' });
  });

  it('options: imagePrefix reaches both executors and lets a service name its base by prefixed image', () => {
    const targets = targetsByRoot(infer({ ...SEED, 'apps/api/Dockerfile': SERVICE('ARG BASE_IMAGE=acme/workspace-base') }, { imagePrefix: 'acme/' }));
    expect(targets['.']['docker-base'].options.imagePrefix).toBe('acme/');
    expect(targets['apps/api']['docker-service'].options).toEqual({ dockerfile: 'apps/api/Dockerfile', imagePrefix: 'acme/' });
    expect(targets['apps/api']['docker-service'].metadata?.description).toContain('on the shared base workspace');
  });

  it('options: compileTargetName', () => {
    const targets = targetsByRoot(infer(SEED, { compileTargetName: 'bundle' }));
    expect(targets['apps/api']['docker-service'].dependsOn?.[0]).toBe('bundle');
    expect(targets['apps/web']['docker-service'].dependsOn?.[0]).toBe('bundle');
  });

  it('several bases: each base project builds its own, each service depends on the one its ARG names', () => {
    const targets = targetsByRoot(
      infer({
        'docker/node/project.json': project('node-image'),
        'docker/node/Dockerfile.base': BASE_DOCKERFILE,
        'docker/elixir/project.json': project('elixir-image'),
        'docker/elixir/Dockerfile.base': ['FROM nxdd-test/elixir:1.14', 'COPY mix.exs mix.lock ./', 'RUN mix deps.get', ''].join('\n'),
        'apps/api/project.json': project('api'),
        'apps/api/Dockerfile': SERVICE('ARG BASE_IMAGE=node-base'),
        'apps/umbrella/project.json': project('umbrella'),
        'apps/umbrella/Dockerfile': SERVICE('ARG BASE_IMAGE=elixir'),
      })
    );
    expect(targets['docker/node']['docker-base'].options.bases).toEqual([{ name: 'node', dockerfile: 'docker/node/Dockerfile.base', context: 'docker/node' }]);
    expect(targets['docker/elixir']['docker-base'].options.bases).toEqual([{ name: 'elixir', dockerfile: 'docker/elixir/Dockerfile.base', context: 'docker/elixir' }]);
    expect(targets['docker/elixir']['docker-base'].inputs).toEqual(
      expect.arrayContaining(['{workspaceRoot}/docker/elixir/mix.exs', '{workspaceRoot}/docker/elixir/mix.lock'])
    );
    expect(targets['docker/node']['docker-build'].options).toEqual(dockerBuildCommand('docker-base'));
    const api = targets['apps/api']['docker-service'];
    const umbrella = targets['apps/umbrella']['docker-service'];
    expect(api.metadata?.description).toContain('on the shared base node');
    expect(umbrella.metadata?.description).toContain('on the shared base elixir');
    expect(api.inputs).toContain('{workspaceRoot}/docker/node/Dockerfile.base');
    expect(api.inputs).not.toContain('{workspaceRoot}/docker/elixir/Dockerfile.base');
    expect(umbrella.inputs).toContain('{workspaceRoot}/docker/elixir/mix.exs');
    expect(umbrella.inputs).not.toContain('{workspaceRoot}/docker/node/Dockerfile.base');
    expect(umbrella.dependsOn).toEqual(['build']);
  });

  it('a base may be named by a directive instead of its folder', () => {
    const targets = targetsByRoot(
      infer({
        'docker/js/project.json': project('js'),
        'docker/js/Dockerfile.base': `# nx-docker-delta: name=node\n${BASE_DOCKERFILE}`,
        'apps/api/project.json': project('api'),
        'apps/api/Dockerfile': SERVICE('ARG BASE_IMAGE=node-base'),
      })
    );
    expect(targets['docker/js']['docker-base'].options.bases[0].name).toBe('node');
    expect(targets['apps/api']['docker-service'].metadata?.description).toContain('on the shared base node');
  });

  it('a Dockerfile without ARG BASE_IMAGE builds standalone: no base dependency, no base inputs, says so', () => {
    const targets = targetsByRoot(infer({ ...SEED, 'apps/api/Dockerfile': 'FROM node:20-bookworm-slim\nCOPY dist ./dist\n' }));
    const service = targets['apps/api']['docker-service'];
    expect(service.dependsOn).toEqual(['build']);
    expect(service.inputs).not.toContain('{workspaceRoot}/Dockerfile.base');
    expect(service.metadata?.description).toBe('Build the Dockerfile image standalone (it declares no ARG BASE_IMAGE), only its own layers; writes a receipt');
    expect(targets['apps/api']['docker-build'].dependsOn).toEqual([{ target: 'docker-service', params: 'forward' }]);
  });

  test.each([
    ['names an unknown base', { 'apps/api/Dockerfile': SERVICE('ARG BASE_IMAGE=ruby-base') }],
    ['is ambiguous among several bases', { 'docker/elixir/project.json': project('elixir-image'), 'docker/elixir/Dockerfile.base': 'FROM nxdd-test/elixir:1.14\n' }],
  ])('a Dockerfile whose ARG BASE_IMAGE %s gets targets whose description says how to fix it', (_name, extra) => {
    const service = targetsByRoot(infer({ ...SEED, 'apps/api/Dockerfile': SERVICE('ARG BASE_IMAGE'), ...extra }))['apps/api']['docker-service'];
    expect(service.dependsOn).toEqual(['build']);
    expect(service.metadata?.description).toBe(
      'Build the Dockerfile image on no base yet: its ARG BASE_IMAGE matches no single Dockerfile.base (set ARG BASE_IMAGE=<base name>), only its own layers; writes a receipt'
    );
  });

  it('a Dockerfile in a folder without project.json/package.json belongs to the nearest parent project, built from the project root', () => {
    const targets = targetsByRoot(
      infer({
        ...SEED,
        'apps/worker/project.json': project('worker'),
        'apps/worker/docker/Dockerfile': SERVICE('ARG BASE_IMAGE'),
      })
    );
    expect(targets['apps/worker/docker']).toBeUndefined();
    expect(targets['apps/worker']['docker-service'].options).toEqual({ dockerfile: 'apps/worker/docker/Dockerfile', context: 'apps/worker' });
    expect(targets['apps/worker']['docker-service'].outputs).toEqual(['{workspaceRoot}/dist/nx-docker-delta/apps/worker/docker-service.json']);
  });

  it('a Dockerfile no project owns is ignored', () => {
    const results = infer({
      'Dockerfile.base': BASE_DOCKERFILE,
      'scripts/Dockerfile': SERVICE('ARG BASE_IMAGE'),
      'apps/api/project.json': project('api'),
      'apps/api/Dockerfile': SERVICE('ARG BASE_IMAGE'),
    });
    const targets = targetsByRoot(results);
    expect(Object.keys(targets)).toEqual(['apps/api']);
    expect(results.map(([file]) => file)).toEqual(['apps/api/Dockerfile']);
    // the base nobody owns is not a base: the service has nothing to build on
    expect(targets['apps/api']['docker-service'].dependsOn).toEqual(['build']);
  });

  it('a root Dockerfile that is a template for several apps (COPY apps/${APP_NAME}, no default) infers no root project; mapped on purpose, it does', () => {
    const TEMPLATE = 'FROM node:20 AS development\nARG APP_NAME\nCOPY apps/${APP_NAME}/package.json apps/${APP_NAME}/package.json\nRUN npm ci\n';
    const files = { 'package.json': ROOT_PACKAGE, Dockerfile: TEMPLATE, 'apps/auth/project.json': project('auth'), 'apps/auth/Dockerfile': SERVICE('ARG BASE_IMAGE') };
    expect(Object.keys(targetsByRoot(infer(files)))).toEqual(['apps/auth']);
    // With a default, it builds one app: an image of its own.
    expect(Object.keys(targetsByRoot(infer({ ...files, Dockerfile: TEMPLATE.replace('ARG APP_NAME', 'ARG APP_NAME=auth') }))).sort()).toEqual(['.', 'apps/auth']);
    expect(Object.keys(targetsByRoot(infer(files, { dockerfileMap: { Dockerfile: '.' } }))).sort()).toEqual(['.', 'apps/auth']);
  });

  it('two Dockerfiles in one project: the one that shares a base wins', () => {
    const targets = targetsByRoot(
      infer({
        ...SEED,
        'apps/api/Dockerfile': 'FROM node:20\nCOPY . .\n',
        'apps/api/Dockerfile.prod': SERVICE('ARG BASE_IMAGE=workspace-base'),
      })
    );
    expect(targets['apps/api']['docker-service'].options.dockerfile).toBe('apps/api/Dockerfile.prod');
  });

  it('two Dockerfiles in one project that both share a base: the plain Dockerfile wins', () => {
    const targets = targetsByRoot(infer({ ...SEED, 'apps/api/Dockerfile.dev': SERVICE('ARG BASE_IMAGE') }));
    expect(targets['apps/api']['docker-service'].options.dockerfile).toBe('apps/api/Dockerfile');
  });

  it('# nx-docker-delta: context=pruned → the service builds from a pruned context and watches the root .dockerignore', () => {
    const targets = targetsByRoot(infer({ ...SEED, 'apps/api/Dockerfile': `# nx-docker-delta: context=pruned\n${SERVICE('ARG BASE_IMAGE')}` }));
    const service = targets['apps/api']['docker-service'];
    expect(service.options).toEqual({ dockerfile: 'apps/api/Dockerfile', context: 'pruned' });
    expect(service.inputs).toContain('{workspaceRoot}/.dockerignore');
    expect(targets['apps/web']['docker-service'].options).toEqual({ dockerfile: 'apps/web/Dockerfile' });
  });

  it('a Dockerfile written for the workspace root (copies the lockfile, nx.json, apps/, libs/) builds from the root, watches what it copies, and says why', () => {
    const rootStyle = [
      'FROM node:20-alpine AS build',
      'WORKDIR /app',
      'COPY package.json pnpm-lock.yaml nx.json tsconfig.base.json ./',
      'COPY apps/ apps/',
      'COPY libs/ libs/',
      'RUN npx nx build api',
      'FROM node:20-alpine',
      'COPY --from=build /app/dist/apps/api ./',
      'CMD ["node", "main.js"]',
      '',
    ].join('\n');
    const targets = targetsByRoot(
      infer({ ...SEED, 'pnpm-lock.yaml': '', 'nx.json': '{}', 'tsconfig.base.json': '{}', 'libs/util/project.json': project('util'), 'apps/api/Dockerfile': rootStyle })
    );
    const service = targets['apps/api']['docker-service'];
    expect(service.options).toEqual({ dockerfile: 'apps/api/Dockerfile', context: '.' });
    expect(service.metadata?.context).toEqual({
      path: '.',
      reason: 'its COPY sources (package.json, pnpm-lock.yaml, nx.json) are paths from the workspace root, not from apps/api',
    });
    expect(service.inputs).toEqual(
      expect.arrayContaining(['{workspaceRoot}/.dockerignore', '{workspaceRoot}/pnpm-lock.yaml', '{workspaceRoot}/apps/**/*', '{workspaceRoot}/libs/**/*'])
    );
    // A project-root Dockerfile next to it keeps its project folder.
    expect(targets['apps/web']['docker-service'].options).toEqual({ dockerfile: 'apps/web/Dockerfile' });
    expect(targets['apps/web']['docker-service'].metadata?.context).toEqual({ path: 'apps/web', reason: 'the project folder (default)' });
  });

  it('# nx-docker-delta: context=<path> sets the context explicitly', () => {
    const targets = targetsByRoot(infer({ ...SEED, 'apps/api/Dockerfile': `# nx-docker-delta: context=.\n${SERVICE('ARG BASE_IMAGE')}` }));
    expect(targets['apps/api']['docker-service'].options).toEqual({ dockerfile: 'apps/api/Dockerfile', context: '.' });
    expect(targets['apps/api']['docker-service'].metadata?.context.reason).toBe("the Dockerfile's `# nx-docker-delta: context=.` line");
  });

  it('two Dockerfiles in one project: one target per image, docker-build waits for both', () => {
    const targets = targetsByRoot(infer({ ...SEED, 'apps/api/Dockerfile.worker': SERVICE('ARG BASE_IMAGE') }));
    const api = targets['apps/api'];
    expect(api['docker-service'].options).toMatchObject({ dockerfile: 'apps/api/Dockerfile' });
    expect(api['docker-service-worker'].options).toMatchObject({ dockerfile: 'apps/api/Dockerfile.worker', variant: 'worker' });
    expect(api['docker-service-worker'].outputs).toEqual(['{workspaceRoot}/dist/nx-docker-delta/apps/api/docker-service-worker.json']);
    expect(api['docker-build'].options).toEqual(dockerBuildCommand('docker-service,docker-service-worker'));
    expect(api['docker-build'].dependsOn).toEqual([
      { target: 'docker-service', params: 'forward' },
      { target: 'docker-service-worker', params: 'forward' },
    ]);
  });

  test.each([
    ['root-level <project>.dockerfile', 'api.dockerfile'],
    ['root-level <project>.Dockerfile', 'api.Dockerfile'],
    ['root-level Dockerfile.<project>', 'Dockerfile.api'],
    ['docker/<project>/Dockerfile', 'docker/api/Dockerfile'],
  ])('%s belongs to the project it names, not to the root project', (_name, file) => {
    const targets = targetsByRoot(
      infer({ 'package.json': ROOT_PACKAGE, 'apps/api/project.json': project('api'), 'apps/web/project.json': project('web'), [file]: 'FROM node:20\nCOPY dist/apps/api ./\n' })
    );
    expect(Object.keys(targets)).toEqual(['apps/api']);
    expect(targets['apps/api']['docker-service'].options).toEqual({ dockerfile: file, context: '.' });
  });

  it('root-level Dockerfiles for several projects: each project gets its own, none is dropped', () => {
    const targets = targetsByRoot(
      infer({
        'package.json': ROOT_PACKAGE,
        'apps/api/project.json': project('api'),
        'apps/web/project.json': project('web'),
        'Dockerfile.api': 'FROM node:20\nCOPY dist/apps/api ./\n',
        'web.dockerfile': 'FROM node:20\nCOPY dist/apps/web ./\n',
        Dockerfile: 'FROM node:20\nCOPY package.json ./\n',
      })
    );
    expect(Object.keys(targets).sort()).toEqual(['.', 'apps/api', 'apps/web']);
    expect(targets['apps/api']['docker-service'].options.dockerfile).toBe('Dockerfile.api');
    expect(targets['apps/web']['docker-service'].options.dockerfile).toBe('web.dockerfile');
    expect(targets['.']['docker-service'].options.dockerfile).toBe('Dockerfile');
  });

  it('dockerfileMap attributes any Dockerfile to a project (by root or by name)', () => {
    const targets = targetsByRoot(
      infer(
        {
          ...SEED,
          'deploy/images/gateway.img': 'x',
          'deploy/images/Dockerfile.gw': 'FROM node:20\nCOPY dist/apps/web ./\n',
          'ops/Dockerfile': 'FROM node:20\nCOPY dist/apps/api ./\n',
        },
        { dockerfileMap: { 'deploy/images/Dockerfile.gw': 'apps/web', 'ops/Dockerfile': 'api' } }
      )
    );
    expect(targets['apps/web']['docker-service-gw'].options).toMatchObject({ dockerfile: 'deploy/images/Dockerfile.gw', variant: 'gw' });
    expect(targets['apps/api']['docker-service-ops'].options).toMatchObject({ dockerfile: 'ops/Dockerfile', variant: 'ops' });
  });

  it('a Dockerfile naming a project that does not exist is reported, not dropped silently', () => {
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (line: string) => warnings.push(line);
    try {
      const targets = targetsByRoot(infer({ 'apps/api/project.json': project('api'), 'Dockerfile.billing': 'FROM node:20\n' }));
      expect(Object.keys(targets)).toEqual([]);
    } finally {
      console.warn = warn;
    }
    expect(warnings).toEqual([
      'nx-docker-delta: Dockerfile.billing names project "billing" but no project folder matches it — map it in nx.json: plugins[nx-docker-delta].options.dockerfileMap = { "Dockerfile.billing": "<project root>" }.',
    ]);
  });

  test.each([
    ['production when nx.json defines it', { default: ['{projectRoot}/**/*'], production: ['default', '!{projectRoot}/**/*.spec.ts'] }, ['production', '^production']],
    ['default otherwise', { default: ['{projectRoot}/**/*'] }, ['default', '^default']],
  ])('named inputs: %s', (_name, namedInputs, expected) => {
    const inputs = targetsByRoot(infer(SEED, undefined, namedInputs))['apps/api']['docker-service'].inputs;
    expect(inputs?.slice(0, 2)).toEqual(expected);
  });

  it('an unparsable Dockerfile still gets its targets (the executor reports the error)', () => {
    const targets = targetsByRoot(infer({ ...SEED, 'apps/api/Dockerfile': 'COPY . .\n' }));
    expect(targets['apps/api']).toEqual({
      'docker-service': { executor: 'nx-docker-delta:service', cache: false, options: { dockerfile: 'apps/api/Dockerfile' } },
      'docker-build': expect.objectContaining({ executor: 'nx:run-commands', options: dockerBuildCommand('docker-service') }),
    });
  });

  it('ignores Dockerfile look-alikes: ignore files, templates, fixtures, node_modules', () => {
    const targets = targetsByRoot(
      infer({
        ...SEED,
        'Dockerfile.base.dockerignore': 'dist\n',
        'apps/api/Dockerfile.dockerignore': 'tmp\n',
        'libs/gen/project.json': project('gen'),
        'libs/gen/src/files/Dockerfile': SERVICE('ARG BASE_IMAGE'),
        'libs/gen/__fixtures__/Dockerfile': SERVICE('ARG BASE_IMAGE'),
        'libs/gen/Dockerfile.md': '# notes',
      })
    );
    expect(Object.keys(targets).sort()).toEqual(['.', 'apps/api', 'apps/web']);
    expect(Object.keys(targets['.'])).toEqual(['docker-base', 'docker-build']);
  });

  it('a project owning the base and a service Dockerfile: docker-base plus a service that builds on its own base (ensured by the service, no task edge)', () => {
    const targets = targetsByRoot(infer({ 'package.json': ROOT_PACKAGE, 'Dockerfile.base': BASE_DOCKERFILE, Dockerfile: SERVICE('ARG BASE_IMAGE') }));
    expect(Object.keys(targets['.']).sort()).toEqual(['docker-base', 'docker-build', 'docker-service']);
    expect(targets['.']['docker-service'].dependsOn).toEqual(['build']);
    expect(targets['.']['docker-service'].outputs).toEqual(['{workspaceRoot}/dist/nx-docker-delta/docker-service.json']);
    expect(targets['.']['docker-build'].options).toEqual(dockerBuildCommand('docker-base,docker-service'));
  });

  it('a project owning one base whose service uses another project’s base: no docker-base task edge (the service ensures it)', () => {
    const targets = targetsByRoot(
      infer({
        'docker/node/project.json': project('node-image'),
        'docker/node/Dockerfile.base': BASE_DOCKERFILE,
        'docker/elixir/project.json': project('elixir-image'),
        'docker/elixir/Dockerfile.base': 'FROM nxdd-test/elixir:1.14\n',
        'docker/elixir/Dockerfile': SERVICE('ARG BASE_IMAGE=node'),
      })
    );
    expect(targets['docker/elixir']['docker-service'].dependsOn).toEqual(['build']);
  });
});

describe('createDependencies', () => {
  const hashes = new Map<string, string>();
  let nextHash = 0;

  /** Projects as Nx would hold them after createNodes, plus a file map, for createDependencies. */
  function graphContext(files: Files, names: Record<string, string>, options?: NxDockerDeltaPluginOptions): CreateDependenciesContext {
    const byRoot = targetsByRoot(infer(files, options));
    const projects: Record<string, ProjectConfiguration> = {};
    const projectFileMap: Record<string, Array<{ file: string; hash: string }>> = {};
    for (const [root, name] of Object.entries(names)) {
      projects[name] = { root, name, targets: byRoot[root] ?? {} };
      projectFileMap[name] = Object.keys(files)
        .filter((file) => (root === '.' ? !Object.keys(names).some((r) => r !== '.' && file.startsWith(`${r}/`)) : file.startsWith(`${root}/`)))
        .map((file) => {
          // a unique hash per file and test: createDependencies caches parsed Dockerfiles by hash
          if (!hashes.has(`${workspaceRoot}/${file}`)) hashes.set(`${workspaceRoot}/${file}`, `h${nextHash++}`);
          return { file, hash: hashes.get(`${workspaceRoot}/${file}`) as string };
        });
    }
    return {
      projects,
      fileMap: { projectFileMap, nonProjectFiles: [] },
      filesToProcess: { projectFileMap, nonProjectFiles: [] },
      workspaceRoot,
      nxJsonConfiguration: {},
      externalNodes: {},
    };
  }

  it('adds implicit service → base owner edges (implicit: typescript-sync must not make them TS project references)', async () => {
    const context = graphContext(
      {
        ...SEED,
        'apps/solo/project.json': project('solo'),
        'apps/solo/Dockerfile': 'FROM node:20\n',
        'apps/lost/project.json': project('lost'),
        'apps/lost/Dockerfile': SERVICE('ARG BASE_IMAGE=ruby-base'),
      },
      { '.': 'acme', 'apps/api': 'api', 'apps/web': 'web', 'apps/solo': 'solo', 'apps/lost': 'lost' }
    );
    expect(await createDependencies(undefined, context)).toEqual([
      { source: 'api', target: 'acme', type: DependencyType.implicit },
      { source: 'web', target: 'acme', type: DependencyType.implicit },
    ]);
  });

  it('links each service to the project owning the base it names', async () => {
    const context = graphContext(
      {
        'docker/node/project.json': project('node-image'),
        'docker/node/Dockerfile.base': BASE_DOCKERFILE,
        'docker/elixir/project.json': project('elixir-image'),
        'docker/elixir/Dockerfile.base': 'FROM nxdd-test/elixir:1.14\n',
        'apps/api/project.json': project('api'),
        'apps/api/Dockerfile': SERVICE('ARG BASE_IMAGE=node-base'),
        'apps/umbrella/project.json': project('umbrella'),
        'apps/umbrella/Dockerfile': SERVICE('ARG BASE_IMAGE=elixir'),
        'apps/either/project.json': project('either'),
        'apps/either/Dockerfile': SERVICE('ARG BASE_IMAGE'),
      },
      { 'docker/node': 'node-image', 'docker/elixir': 'elixir-image', 'apps/api': 'api', 'apps/umbrella': 'umbrella', 'apps/either': 'either' }
    );
    expect(await createDependencies(undefined, context)).toEqual([
      { source: 'api', target: 'node-image', type: DependencyType.implicit },
      { source: 'umbrella', target: 'elixir-image', type: DependencyType.implicit },
    ]);
  });

  it('honours a base option set in project.json over the ARG default', async () => {
    const context = graphContext(
      {
        'docker/node/project.json': project('node-image'),
        'docker/node/Dockerfile.base': BASE_DOCKERFILE,
        'docker/elixir/project.json': project('elixir-image'),
        'docker/elixir/Dockerfile.base': 'FROM nxdd-test/elixir:1.14\n',
        'apps/api/project.json': project('api'),
        'apps/api/Dockerfile': SERVICE('ARG BASE_IMAGE=node-base'),
      },
      { 'docker/node': 'node-image', 'docker/elixir': 'elixir-image', 'apps/api': 'api' }
    );
    (context.projects.api.targets?.['docker-service'].options as Record<string, unknown>).base = 'elixir';
    expect(await createDependencies(undefined, context)).toEqual([
      { source: 'api', target: 'elixir-image', type: DependencyType.implicit },
    ]);
    (context.projects.api.targets?.['docker-service'].options as Record<string, unknown>).base = false;
    expect(await createDependencies(undefined, context)).toEqual([]);
  });

  it('never adds a self edge when the project owning the base is also the service', async () => {
    const context = graphContext({ 'package.json': ROOT_PACKAGE, 'Dockerfile.base': BASE_DOCKERFILE, Dockerfile: SERVICE('ARG BASE_IMAGE') }, { '.': 'acme' });
    expect(context.projects.acme.targets?.['docker-service']).toBeDefined();
    expect(await createDependencies(undefined, context)).toEqual([]);
  });

  it('uses the renamed targets', async () => {
    const options = { baseTargetName: 'image-base', serviceTargetName: 'image' };
    const context = graphContext(SEED, { '.': 'acme', 'apps/api': 'api', 'apps/web': 'web' }, options);
    expect((await createDependencies(options, context)).map((d) => `${d.source}->${d.target}`)).toEqual(['api->acme', 'web->acme']);
    expect(await createDependencies(undefined, context)).toEqual([]);
  });
});

import type { DockerfileFacts } from './dockerfile';
import { BaseChoice, BaseSpec, baseInputs, baseNameFor, baseReceiptPath, baseRepository, chooseBase, projectNameInDockerfilePath, serviceReceiptPath, serviceVariants } from './targets';

const WORKSPACE: BaseSpec = { name: 'workspace', dockerfile: 'Dockerfile.base', context: '.' };
const NODE: BaseSpec = { name: 'node', dockerfile: 'docker/node/Dockerfile.base', context: 'docker/node' };
const ELIXIR: BaseSpec = { name: 'elixir', dockerfile: 'docker/elixir/Dockerfile.base', context: 'docker/elixir' };

type Facts = Pick<DockerfileFacts, 'declaresBaseArg' | 'baseArgDefault'>;
const arg = (baseArgDefault?: string): Facts => ({ declaresBaseArg: true, baseArgDefault });
const NO_ARG: Facts = { declaresBaseArg: false };

describe('chooseBase', () => {
  test.each<[string, Facts, BaseSpec[], Parameters<typeof chooseBase>[2], BaseChoice]>([
    ['ARG default = base name', arg('node'), [NODE, ELIXIR], {}, { kind: 'base', base: NODE }],
    ['ARG default = image repository', arg('elixir-base'), [NODE, ELIXIR], {}, { kind: 'base', base: ELIXIR }],
    ['ARG default = workspace-base with a tag', arg('workspace-base:latest'), [WORKSPACE], {}, { kind: 'base', base: WORKSPACE }],
    ['ARG default = registry-qualified ref with a tag', arg('127.0.0.1:5000/node-base:3f9a1c0d'), [NODE, ELIXIR], {}, { kind: 'base', base: NODE }],
    ['ARG default = ref by digest', arg(`localhost:5000/node-base@sha256:${'0'.repeat(64)}`), [NODE, ELIXIR], {}, { kind: 'base', base: NODE }],
    ['ARG default = registry with a namespace', arg('europe-docker.pkg.dev/acme/images/elixir-base:latest'), [NODE, ELIXIR], {}, { kind: 'base', base: ELIXIR }],
    ['ARG default = prefixed repository', arg('acme/node-base'), [NODE, ELIXIR], { imagePrefix: 'acme/' }, { kind: 'base', base: NODE }],
    ['ARG default = unprefixed repository while a prefix is set', arg('node-base'), [NODE, ELIXIR], { imagePrefix: 'acme/' }, { kind: 'base', base: NODE }],
    ['ARG default names no base', arg('node:20-bookworm-slim'), [WORKSPACE], {}, { kind: 'unknown', requested: 'node:20-bookworm-slim' }],
    ['ARG default names a base of another name', arg('ruby-base'), [NODE, ELIXIR], {}, { kind: 'unknown', requested: 'ruby-base' }],
    ['bare ARG, one base', arg(), [WORKSPACE], {}, { kind: 'base', base: WORKSPACE }],
    ['bare ARG, several bases', arg(), [NODE, ELIXIR], {}, { kind: 'ambiguous' }],
    ['bare ARG, no base', arg(), [], {}, { kind: 'unknown', requested: '(none defined)' }],
    ['no ARG, bases exist → standalone', NO_ARG, [WORKSPACE], {}, { kind: 'standalone' }],
    ['no ARG, no bases → standalone', NO_ARG, [], {}, { kind: 'standalone' }],
    ['requested false overrides the ARG', arg('node'), [NODE], { requested: false }, { kind: 'standalone' }],
    ['requested name overrides the ARG default', arg('node'), [NODE, ELIXIR], { requested: 'elixir' }, { kind: 'base', base: ELIXIR }],
    ['requested name picks among several for a bare ARG', arg(), [NODE, ELIXIR], { requested: 'node' }, { kind: 'base', base: NODE }],
    ['requested unknown name', arg(), [NODE], { requested: 'go' }, { kind: 'unknown', requested: 'go' }],
  ])('%s', (_name, facts, bases, options, expected) => {
    expect(chooseBase(facts, bases, options)).toEqual(expected);
  });

  it('does not match a base by a foreign namespace that merely ends in its name', () => {
    expect(chooseBase(arg('bitnami/node'), [NODE], {})).toEqual({ kind: 'unknown', requested: 'bitnami/node' });
  });
});

describe('baseNameFor / baseRepository', () => {
  test.each([
    ['Dockerfile.base', 'workspace'],
    ['docker/node/Dockerfile.base', 'node'],
    ['docker/Elixir 1.14/Dockerfile.base', 'elixir-1.14'],
    ['libs/@acme/base-image/Dockerfile.base', 'base-image'],
  ])('%s → base %s', (file, name) => {
    expect(baseNameFor(file)).toBe(name);
  });

  test.each([
    ['workspace', '', 'workspace-base'],
    ['node', 'acme/', 'acme/node-base'],
    ['node-base', '', 'node-base'],
    ['base', '', 'base'],
    ['database', '', 'database-base'],
    ['firebase', '', 'firebase-base'],
  ])('%s (prefix "%s") → image %s', (name, prefix, repository) => {
    expect(baseRepository(name, prefix)).toBe(repository);
  });
});

describe('baseInputs', () => {
  test.each<[string, BaseSpec, string[], string[]]>([
    ['no COPY', WORKSPACE, [], ['{workspaceRoot}/Dockerfile.base', '{workspaceRoot}/Dockerfile.base.dockerignore', '{workspaceRoot}/.dockerignore']],
    [
      'root base copying files',
      WORKSPACE,
      ['package.json', './package-lock.json', '/tools/'],
      [
        '{workspaceRoot}/Dockerfile.base',
        '{workspaceRoot}/Dockerfile.base.dockerignore',
        '{workspaceRoot}/.dockerignore',
        '{workspaceRoot}/package.json',
        '{workspaceRoot}/package.json/**/*',
        '{workspaceRoot}/package-lock.json',
        '{workspaceRoot}/package-lock.json/**/*',
        '{workspaceRoot}/tools',
        '{workspaceRoot}/tools/**/*',
      ],
    ],
    ['root base copying the whole context', WORKSPACE, ['.'], ['{workspaceRoot}/Dockerfile.base', '{workspaceRoot}/Dockerfile.base.dockerignore', '{workspaceRoot}/.dockerignore', '{workspaceRoot}/**/*']],
    [
      'nested base: paths are relative to its context',
      NODE,
      ['mix.exs', 'config/'],
      [
        '{workspaceRoot}/docker/node/Dockerfile.base',
        '{workspaceRoot}/docker/node/Dockerfile.base.dockerignore',
        '{workspaceRoot}/docker/node/.dockerignore',
        '{workspaceRoot}/docker/node/mix.exs',
        '{workspaceRoot}/docker/node/mix.exs/**/*',
        '{workspaceRoot}/docker/node/config',
        '{workspaceRoot}/docker/node/config/**/*',
      ],
    ],
    ['nested base copying its whole context', NODE, ['./'], ['{workspaceRoot}/docker/node/Dockerfile.base', '{workspaceRoot}/docker/node/Dockerfile.base.dockerignore', '{workspaceRoot}/docker/node/.dockerignore', '{workspaceRoot}/docker/node/**/*']],
    ['a source listed twice appears once', WORKSPACE, ['a', './a'], ['{workspaceRoot}/Dockerfile.base', '{workspaceRoot}/Dockerfile.base.dockerignore', '{workspaceRoot}/.dockerignore', '{workspaceRoot}/a', '{workspaceRoot}/a/**/*']],
  ])('%s', (_name, base, sources, expected) => {
    expect(baseInputs(base, sources)).toEqual(expected);
  });
});

describe('receipt paths', () => {
  test.each([
    ['.', 'dist/nx-docker-delta/docker-service.json'],
    ['apps/api', 'dist/nx-docker-delta/apps/api/docker-service.json'],
  ])('service at %s → %s', (root, path) => {
    expect(serviceReceiptPath(root)).toBe(path);
  });

  it('base receipts are per base name', () => {
    expect(baseReceiptPath('node')).toBe('dist/nx-docker-delta/bases/node.json');
  });
});

describe('Dockerfile names', () => {
  test.each([
    ['api.dockerfile', 'api'],
    ['api.Dockerfile', 'api'],
    ['Dockerfile.api', 'api'],
    ['Containerfile.api', 'api'],
    ['docker/api/Dockerfile', 'api'],
    ['deploy/docker/api/Dockerfile', 'api'],
    ['Dockerfile', undefined],
    ['apps/api/Dockerfile', undefined],
  ])('projectNameInDockerfilePath(%s) → %s', (file, expected) => {
    expect(projectNameInDockerfilePath(file)).toBe(expected);
  });

  it('serviceVariants names each extra image by what its path adds, uniquely', () => {
    expect([...serviceVariants('apps/api', ['apps/api/Dockerfile.worker', 'apps/api/docker/cron/Dockerfile', 'apps/api/Worker.dockerfile', 'ops/Dockerfile'])]).toEqual([
      ['apps/api/Dockerfile.worker', 'worker'],
      ['apps/api/docker/cron/Dockerfile', 'cron'],
      ['apps/api/Worker.dockerfile', 'worker-2'],
      ['ops/Dockerfile', 'ops'],
    ]);
  });
});

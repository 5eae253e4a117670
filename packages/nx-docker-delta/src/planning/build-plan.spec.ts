import { BuildPlan, baseSource, buildArgv, parseBuildxInspect } from './build-plan';

const plan = (overrides: Partial<BuildPlan> = {}): BuildPlan => ({
  mode: 'buildx',
  dockerfile: '/ws/apps/api/Dockerfile',
  context: '/ws/apps/api',
  tags: ['127.0.0.1:5000/api:nx-abc', '127.0.0.1:5000/api:latest'],
  buildArgs: {},
  labels: {},
  cacheFrom: [],
  push: false,
  iidFile: '/tmp/iid',
  ...overrides,
});

/** The argv tail after the fixed head (`--progress=plain --file … --iidfile …`), without the context. */
const flags = (p: BuildPlan) => {
  const { args } = buildArgv(p);
  const head = p.mode === 'buildx' ? 2 : 1;
  return args.slice(head + 5, -1);
};

describe('buildArgv', () => {
  test.each<[string, BuildPlan, string[], Record<string, string>]>([
    [
      'classic BuildKit',
      plan({ mode: 'buildkit' }),
      ['build', '--progress=plain', '--file', '/ws/apps/api/Dockerfile', '--iidfile', '/tmp/iid', '--tag', '127.0.0.1:5000/api:nx-abc', '--tag', '127.0.0.1:5000/api:latest', '--build-arg', 'BUILDKIT_INLINE_CACHE=1', '/ws/apps/api'],
      { DOCKER_BUILDKIT: '1' },
    ],
    [
      'buildx',
      plan({ mode: 'buildx' }),
      ['buildx', 'build', '--progress=plain', '--file', '/ws/apps/api/Dockerfile', '--iidfile', '/tmp/iid', '--tag', '127.0.0.1:5000/api:nx-abc', '--tag', '127.0.0.1:5000/api:latest', '--cache-to', 'type=inline', '--load', '/ws/apps/api'],
      {},
    ],
    [
      'podman (cache sources are not passed: podman reads --cache-from as a per-step cache repository)',
      plan({ mode: 'podman', cacheFrom: ['127.0.0.1:5000/api:latest'], labels: { a: 'b' } }),
      ['build', '--layers', '--file', '/ws/apps/api/Dockerfile', '--iidfile', '/tmp/iid', '--tag', '127.0.0.1:5000/api:nx-abc', '--tag', '127.0.0.1:5000/api:latest', '--label', 'a=b', '/ws/apps/api'],
      {},
    ],
  ])('%s: whole argv and env', (_name, p, args, env) => {
    expect(buildArgv(p)).toEqual({ args, env });
  });

  it('ends with the context and never joins arguments into one string', () => {
    const { args } = buildArgv(plan({ context: '/ws/my apps/api', buildArgs: { A: 'x y' } }));
    expect(args[args.length - 1]).toBe('/ws/my apps/api');
    expect(args).toContain('A=x y');
  });

  test.each<[string, Partial<BuildPlan>, string[]]>([
    ['classic: --cache-from each image ref after inline cache', { mode: 'buildkit', cacheFrom: ['r/api:latest', 'r/api:main'] }, ['--build-arg', 'BUILDKIT_INLINE_CACHE=1', '--cache-from', 'r/api:latest', '--cache-from', 'r/api:main']],
    ['classic: push is done afterwards, not by the build', { mode: 'buildkit', push: true }, ['--build-arg', 'BUILDKIT_INLINE_CACHE=1']],
    ['classic: no registry cache export even when asked', { mode: 'buildkit', cacheTo: 'r/cache/api:buildcache' }, ['--build-arg', 'BUILDKIT_INLINE_CACHE=1']],
    ['classic: metadata file is a buildx flag', { mode: 'buildkit', metadataFile: '/tmp/meta.json' }, ['--build-arg', 'BUILDKIT_INLINE_CACHE=1']],
    ['buildx: --load by default', { mode: 'buildx' }, ['--cache-to', 'type=inline', '--load']],
    ['buildx: --push in push mode', { mode: 'buildx', push: true }, ['--cache-to', 'type=inline', '--push']],
    ['buildx: registry cache-from', { mode: 'buildx', cacheFrom: ['r/api:latest'] }, ['--cache-from', 'type=registry,ref=r/api:latest', '--cache-to', 'type=inline', '--load']],
    [
      'buildx: registry cache-to mode=max replaces inline',
      { mode: 'buildx', cacheFrom: ['r/cache/api:buildcache'], cacheTo: 'r/cache/api:buildcache' },
      ['--cache-from', 'type=registry,ref=r/cache/api:buildcache', '--cache-to', 'type=registry,ref=r/cache/api:buildcache,mode=max', '--load'],
    ],
    ['buildx: metadata file', { mode: 'buildx', metadataFile: '/tmp/meta.json', push: true }, ['--cache-to', 'type=inline', '--metadata-file', '/tmp/meta.json', '--push']],
    ['--target', { mode: 'buildx', target: 'runtime' }, ['--target', 'runtime', '--cache-to', 'type=inline', '--load']],
    ['--platform', { mode: 'buildkit', platform: 'linux/arm64' }, ['--platform', 'linux/arm64', '--build-arg', 'BUILDKIT_INLINE_CACHE=1']],
    ['--no-cache', { mode: 'buildkit', noCache: true }, ['--no-cache', '--build-arg', 'BUILDKIT_INLINE_CACHE=1']],
    ['noCache false adds nothing', { mode: 'buildkit', noCache: false }, ['--build-arg', 'BUILDKIT_INLINE_CACHE=1']],
    [
      'target, platform and no-cache together, in that order',
      { mode: 'buildx', target: 't', platform: 'linux/amd64', noCache: true },
      ['--target', 't', '--platform', 'linux/amd64', '--no-cache', '--cache-to', 'type=inline', '--load'],
    ],
    ['classic: --network', { mode: 'buildkit', network: 'host' }, ['--network', 'host', '--build-arg', 'BUILDKIT_INLINE_CACHE=1']],
    ['buildx: --network', { mode: 'buildx', network: 'host' }, ['--network', 'host', '--cache-to', 'type=inline', '--load']],
    [
      'classic: secrets are files, sorted by id',
      { mode: 'buildkit', secrets: [{ id: 'yarnrc', src: '/tmp/s/1' }, { id: 'npmrc', src: '/tmp/s/0' }] },
      ['--secret', 'id=npmrc,src=/tmp/s/0', '--secret', 'id=yarnrc,src=/tmp/s/1', '--build-arg', 'BUILDKIT_INLINE_CACHE=1'],
    ],
    ['buildx: secrets', { mode: 'buildx', secrets: [{ id: 'npmrc', src: '/tmp/s/0' }] }, ['--secret', 'id=npmrc,src=/tmp/s/0', '--cache-to', 'type=inline', '--load']],
    ['classic: --ssh', { mode: 'buildkit', ssh: ['default'] }, ['--ssh', 'default', '--build-arg', 'BUILDKIT_INLINE_CACHE=1']],
    ['buildx: --ssh each', { mode: 'buildx', ssh: ['default', 'gh=/k'] }, ['--ssh', 'default', '--ssh', 'gh=/k', '--cache-to', 'type=inline', '--load']],
    [
      'network, secrets, ssh after no-cache',
      { mode: 'buildkit', noCache: true, network: 'none', secrets: [{ id: 'a', src: '/a' }], ssh: ['default'] },
      ['--no-cache', '--network', 'none', '--secret', 'id=a,src=/a', '--ssh', 'default', '--build-arg', 'BUILDKIT_INLINE_CACHE=1'],
    ],
  ])('%s', (_name, overrides, expected) => {
    const p = plan({ tags: [], ...overrides });
    expect(flags(p)).toEqual(expected);
  });

  it('sorts build args and labels by name so the same plan always gives the same argv', () => {
    const p = plan({
      mode: 'buildkit',
      tags: [],
      buildArgs: { NODE_VERSION: '20', BASE_IMAGE: 'r/workspace-base:abc', APP: 'api' },
      labels: { 'org.opencontainers.image.version': '1.0.0', 'org.opencontainers.image.revision': 'deadbeef', 'org.opencontainers.image.source': 'https://x.invalid/repo' },
    });
    expect(flags(p)).toEqual([
      '--build-arg', 'APP=api',
      '--build-arg', 'BASE_IMAGE=r/workspace-base:abc',
      '--build-arg', 'NODE_VERSION=20',
      '--label', 'org.opencontainers.image.revision=deadbeef',
      '--label', 'org.opencontainers.image.source=https://x.invalid/repo',
      '--label', 'org.opencontainers.image.version=1.0.0',
      '--build-arg', 'BUILDKIT_INLINE_CACHE=1',
    ]);
    const reordered = plan({ ...p, buildArgs: { APP: 'api', NODE_VERSION: '20', BASE_IMAGE: 'r/workspace-base:abc' } });
    expect(buildArgv(reordered)).toEqual(buildArgv(p));
  });

  it('keeps tags in the given order, the content tag first', () => {
    const { args } = buildArgv(plan({ tags: ['r/api:nx-1', 'r/api:latest', 'r/api:git-abc1234'] }));
    const tags = args.flatMap((a, i) => (args[i - 1] === '--tag' ? [a] : []));
    expect(tags).toEqual(['r/api:nx-1', 'r/api:latest', 'r/api:git-abc1234']);
  });
});

describe('baseSource: where a service build finds its base', () => {
  test.each([
    ['classic BuildKit', { mode: 'buildkit' as const }, false, 'local-store'],
    ['buildx, docker driver', { mode: 'buildx' as const, driver: 'docker' }, false, 'local-store'],
    ['buildx, driver unknown (older buildx)', { mode: 'buildx' as const }, false, 'local-store'],
    ['buildx, docker-container driver, push mode', { mode: 'buildx' as const, driver: 'docker-container' }, true, 'registry'],
    ['buildx, kubernetes driver, push mode', { mode: 'buildx' as const, driver: 'kubernetes' }, true, 'registry'],
    ['buildx, docker-container driver, local mode', { mode: 'buildx' as const, driver: 'docker-container' }, false, 'unreachable'],
  ])('%s → %s', (_what, builder, push, kind) => {
    expect(baseSource(builder, { push }).kind).toBe(kind);
  });

  it('names the fix when a docker-container builder cannot see a local base', () => {
    const source = baseSource({ mode: 'buildx', driver: 'docker-container', builderName: 'builder-1a2b' }, { push: false });
    expect(source).toEqual({
      kind: 'unreachable',
      message:
        'The buildx builder "builder-1a2b" uses the docker-container driver, which cannot see the local image store, so a service cannot build on a base built here — run `docker buildx use default` (the docker driver), or set a registry and push (NX_DOCKER_REGISTRY=<registry> PUSH=true).',
    });
  });
});

describe('parseBuildxInspect', () => {
  test.each([
    ['the docker driver (buildx 0.13 on Docker 20.10)', 'Name:          default\nDriver:        docker\nLast Activity: 2026-12-01 02:41:26 +0000 UTC\n\nNodes:\nName:             default\nEndpoint:         default\n', { builderName: 'default', driver: 'docker' }],
    ['a setup-buildx-action builder', 'Name:   builder-1a2b\nDriver: docker-container\n\nNodes:\nName:      builder-1a2b0\nEndpoint:  unix:///var/run/docker.sock\n', { builderName: 'builder-1a2b', driver: 'docker-container' }],
    ['no answer', '', { builderName: undefined, driver: undefined }],
  ])('%s', (_what, text, facts) => {
    expect(parseBuildxInspect(text)).toEqual(facts);
  });
});

import { renderNodeDockerfile } from '../generators/dockerfile/lib/node-dockerfile';
import { depsRepository, readDepsStage } from './deps';
import { DepsHashInput, depsContentHash } from './hash';

const generated = (projectName: string, extra: Partial<Parameters<typeof renderNodeDockerfile>[0]> = {}) =>
  renderNodeDockerfile({
    projectName,
    projectRoot: `apps/${projectName}`,
    packageManager: 'npm',
    lockfile: 'package-lock.json',
    buildOutputPath: `dist/apps/${projectName}`,
    main: 'main.js',
    compile: 'host',
    runtime: 'debian-slim',
    nodeMajor: '20',
    baseImage: 'workspace-base',
    port: 3000,
    ...extra,
  });

describe('readDepsStage', () => {
  it('reads the deps stage of a generated Dockerfile: its instructions and the files it copies', () => {
    expect(readDepsStage(generated('api'))).toMatchInlineSnapshot(`
{
  "kind": "deps",
  "stage": {
    "argsUsed": [
      "BASE_IMAGE",
    ],
    "contextSources": [
      "package.json",
      "package-lock.json",
      ".nx-docker-delt[a]/workspace-manifest[s]",
    ],
    "globalArgs": [],
    "instructions": [
      "FROM \${BASE_IMAGE} AS deps",
      "WORKDIR /app",
      "COPY package.json package-lock.json .nx-docker-delt[a]/workspace-manifest[s] ./",
      "RUN --mount=type=cache,id=nxdd-npm,target=/root/.npm,sharing=shared --mount=type=secret,id=npmrc,target=/app/.npmrc,required=false --mount=type=ssh,required=false npm ci --omit=dev --no-audit --no-fund && mkdir -p node_modules",
    ],
    "stage": "deps",
  },
}
`);
  });

  it('is the same stage for every service of a workspace (so identical dependency sets share one image)', () => {
    const a = readDepsStage(generated('api', { port: 3000, healthPath: '/health' }));
    const b = readDepsStage(generated('worker', { runtime: 'alpine', buildOutputPath: 'dist/worker' }));
    expect(a).toEqual(b);
  });

  it('changes with the install command (another package manager)', () => {
    const npm = readDepsStage(generated('api'));
    const pnpm = readDepsStage(generated('api', { packageManager: 'pnpm', lockfile: 'pnpm-lock.yaml' }));
    expect(npm).not.toEqual(pnpm);
  });

  it('ignores formatting: continuation lines and spaces', () => {
    const one = 'ARG BASE_IMAGE=b\nARG DEPS_IMAGE=deps\nFROM ${BASE_IMAGE} AS deps\nRUN npm ci && mkdir -p node_modules\nFROM ${DEPS_IMAGE} AS dependencies\n';
    const two = 'ARG BASE_IMAGE=b\nARG DEPS_IMAGE=deps\nFROM ${BASE_IMAGE}   AS deps\nRUN npm ci \\\n    && mkdir -p node_modules\nFROM ${DEPS_IMAGE} AS dependencies\n';
    expect(readDepsStage(one)).toEqual(readDepsStage(two));
  });

  it('records the global ARGs the stage references', () => {
    const text = 'ARG BASE_IMAGE=b\nARG NPM_FLAGS=--omit=dev\nARG DEPS_IMAGE=deps\nFROM ${BASE_IMAGE} AS deps\nRUN npm ci $NPM_FLAGS\nFROM ${DEPS_IMAGE}\n';
    const found = readDepsStage(text);
    expect(found.kind === 'deps' && found.stage.globalArgs).toEqual(['ARG NPM_FLAGS=--omit=dev']);
    expect(found.kind === 'deps' && found.stage.argsUsed).toEqual(['BASE_IMAGE', 'NPM_FLAGS']);
  });

  it.each([
    ['no ARG DEPS_IMAGE (Dockerfiles generated before dependency images)', 'ARG BASE_IMAGE=b\nFROM ${BASE_IMAGE} AS deps\nRUN npm ci\nFROM deps\n', { kind: 'none' }],
    ['ARG DEPS_IMAGE after the first FROM', 'FROM b AS deps\nARG DEPS_IMAGE=deps\nFROM ${DEPS_IMAGE}\n', { kind: 'none' }],
  ])('%s → none', (_, text, expected) => {
    expect(readDepsStage(text)).toEqual(expected);
  });

  it.each([
    ['no default', 'ARG DEPS_IMAGE\nFROM b AS deps\nFROM ${DEPS_IMAGE}\n', 'ARG DEPS_IMAGE has no default naming the dependency stage (write ARG DEPS_IMAGE=deps)'],
    ['no such stage', 'ARG DEPS_IMAGE=deps\nFROM b AS install\nFROM ${DEPS_IMAGE}\n', 'no stage is named "deps", the default of ARG DEPS_IMAGE'],
    ['nobody uses it', 'ARG DEPS_IMAGE=deps\nFROM b AS deps\nFROM deps\n', 'no FROM uses ${DEPS_IMAGE}'],
    ['stage on a stage', 'ARG DEPS_IMAGE=deps\nFROM b AS os\nFROM os AS deps\nFROM ${DEPS_IMAGE}\n', 'stage "deps" builds on stage "os", not on an image'],
    [
      'reads another stage',
      'ARG DEPS_IMAGE=deps\nFROM b AS tools\nFROM b AS deps\nCOPY --from=tools /x /x\nFROM ${DEPS_IMAGE}\n',
      'stage "deps" reads another stage or image (COPY --from=tools /x /x)',
    ],
  ])('unsupported: %s', (_, text, reason) => {
    expect(readDepsStage(text)).toEqual({ kind: 'unsupported', reason });
  });
});

describe('depsContentHash', () => {
  const input: DepsHashInput = {
    instructions: ['FROM ${BASE_IMAGE} AS deps', 'RUN npm ci'],
    globalArgs: [],
    files: [
      { path: 'package.json', sha256: 'a'.repeat(64), executable: false },
      { path: 'package-lock.json', sha256: 'b'.repeat(64), executable: false },
    ],
    baseRef: 'workspace-base:0123456789abcdef',
    buildArgs: {},
  };
  const reference = depsContentHash(input);

  it('is stable and independent of file order', () => {
    expect(depsContentHash({ ...input, files: [...input.files].reverse() })).toBe(reference);
  });

  it.each<[string, Partial<DepsHashInput>]>([
    ['the lockfile', { files: [input.files[0], { ...input.files[1], sha256: 'c'.repeat(64) }] }],
    ['a workspace-module manifest', { files: [...input.files, { path: '.nx-docker-delta/workspace-manifests/x/package.json', sha256: 'd'.repeat(64), executable: false }] }],
    ['the install command', { instructions: ['FROM ${BASE_IMAGE} AS deps', 'RUN npm ci --omit=dev'] }],
    ['the base', { baseRef: 'workspace-base:fedcba9876543210' }],
    ['a build arg the stage uses', { buildArgs: { NPM_FLAGS: '--omit=dev' } }],
    ['the platform', { platform: 'linux/arm64' }],
  ])('moves with %s', (_, change) => {
    expect(depsContentHash({ ...input, ...change })).not.toBe(reference);
  });
});

describe('depsRepository', () => {
  it('names one repository per base', () => {
    expect(depsRepository('workspace', 'acme/')).toBe('acme/workspace-deps');
    expect(depsRepository('node-base')).toBe('node-deps');
    expect(depsRepository('@acme/api')).toBe('acme-api-deps');
  });
});

import { BaseHashInput, HashedFile, baseContentHash, contentTag, serviceContentTag } from './hash';

const sha = (c: string) => c.repeat(64);
const DOCKERFILE = 'FROM nxdd-test/node:20\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci\n';
const FILES: HashedFile[] = [
  { path: 'package.json', sha256: sha('1'), executable: false },
  { path: 'package-lock.json', sha256: sha('2'), executable: false },
  { path: 'tools/entrypoint.sh', sha256: sha('3'), executable: true },
];
const INPUT: BaseHashInput = {
  dockerfileText: DOCKERFILE,
  files: FILES,
  buildArgs: { NODE_VERSION: '20', NPM_FLAGS: '--omit=dev' },
  target: 'deps',
  platform: 'linux/amd64',
};
const REFERENCE = baseContentHash(INPUT);

describe('baseContentHash: stability', () => {
  it('is a sha256 hex digest', () => {
    expect(REFERENCE).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same for the same inputs, every time', () => {
    expect(baseContentHash(structuredClone(INPUT))).toBe(REFERENCE);
  });

  it('does not depend on the order files were found in', () => {
    expect(baseContentHash({ ...INPUT, files: [...FILES].reverse() })).toBe(REFERENCE);
    expect(baseContentHash({ ...INPUT, files: [FILES[1], FILES[2], FILES[0]] })).toBe(REFERENCE);
  });

  it('does not depend on the order build args were given in', () => {
    expect(baseContentHash({ ...INPUT, buildArgs: { NPM_FLAGS: '--omit=dev', NODE_VERSION: '20' } })).toBe(REFERENCE);
  });

  it('treats CRLF and LF Dockerfiles alike (a Windows checkout builds the same image)', () => {
    expect(baseContentHash({ ...INPUT, dockerfileText: DOCKERFILE.replace(/\n/g, '\r\n') })).toBe(REFERENCE);
  });

  it('does not mutate its input', () => {
    const input = structuredClone(INPUT);
    input.files = [...FILES].reverse();
    const before = JSON.stringify(input);
    baseContentHash(input);
    expect(JSON.stringify(input)).toBe(before);
  });
});

describe('baseContentHash: sensitivity', () => {
  it('changes when any single character of the Dockerfile changes', () => {
    const seen = new Set([REFERENCE]);
    for (let i = 0; i < DOCKERFILE.length; i++) {
      const replacement = DOCKERFILE[i] === 'x' ? 'y' : 'x';
      const text = DOCKERFILE.slice(0, i) + replacement + DOCKERFILE.slice(i + 1);
      seen.add(baseContentHash({ ...INPUT, dockerfileText: text }));
    }
    expect(seen.size).toBe(DOCKERFILE.length + 1);
  });

  it('changes when a character is added or removed from the Dockerfile', () => {
    expect(baseContentHash({ ...INPUT, dockerfileText: DOCKERFILE + ' ' })).not.toBe(REFERENCE);
    expect(baseContentHash({ ...INPUT, dockerfileText: DOCKERFILE.slice(0, -1) })).not.toBe(REFERENCE);
  });

  const variants: Array<[string, Partial<BaseHashInput>]> = [
    ['a file content', { files: [{ ...FILES[0], sha256: sha('9') }, FILES[1], FILES[2]] }],
    ['a file executable bit (set)', { files: [{ ...FILES[0], executable: true }, FILES[1], FILES[2]] }],
    ['a file executable bit (cleared)', { files: [FILES[0], FILES[1], { ...FILES[2], executable: false }] }],
    ['a file path', { files: [{ ...FILES[0], path: 'apps/package.json' }, FILES[1], FILES[2]] }],
    ['two files swapping contents', { files: [{ ...FILES[0], sha256: FILES[1].sha256 }, { ...FILES[1], sha256: FILES[0].sha256 }, FILES[2]] }],
    ['an added file', { files: [...FILES, { path: '.npmrc', sha256: sha('4'), executable: false }] }],
    ['a removed file', { files: FILES.slice(1) }],
    ['a build arg value', { buildArgs: { NODE_VERSION: '22', NPM_FLAGS: '--omit=dev' } }],
    ['a build arg name', { buildArgs: { NODE_VER: '20', NPM_FLAGS: '--omit=dev' } }],
    ['an added build arg', { buildArgs: { ...INPUT.buildArgs, EXTRA: '' } }],
    ['a removed build arg', { buildArgs: { NODE_VERSION: '20' } }],
    ['the target stage', { target: 'runtime' }],
    ['no target stage', { target: undefined }],
    ['the platform', { platform: 'linux/arm64' }],
    ['no platform', { platform: undefined }],
  ];

  test.each(variants)('changes with %s', (_name, change) => {
    expect(baseContentHash({ ...INPUT, ...change })).not.toBe(REFERENCE);
  });

  it('gives every variant its own hash', () => {
    const hashes = variants.map(([, change]) => baseContentHash({ ...INPUT, ...change }));
    expect(new Set([REFERENCE, ...hashes]).size).toBe(variants.length + 1);
  });

  it('does not confuse a file path with the next field (length-prefixed fields)', () => {
    const a = baseContentHash({ ...INPUT, files: [{ path: 'ab', sha256: sha('1'), executable: false }], buildArgs: {} });
    const b = baseContentHash({ ...INPUT, files: [{ path: 'a', sha256: sha('1'), executable: false }], buildArgs: { b: '' } });
    expect(a).not.toBe(b);
  });
});

describe('contentTag', () => {
  it('is the first 16 hex characters, with an optional prefix', () => {
    expect(contentTag(REFERENCE)).toBe(REFERENCE.slice(0, 16));
    expect(contentTag(REFERENCE, 'h-')).toBe(`h-${REFERENCE.slice(0, 16)}`);
  });
});

describe('serviceContentTag', () => {
  const TASK = '13302309593297570777';
  it('is a valid tag of the inputs and the platform, the same every time', () => {
    expect(serviceContentTag(TASK, 'linux/amd64')).toMatch(/^nx-[0-9a-f]{32}$/);
    expect(serviceContentTag(TASK, 'linux/amd64')).toBe(serviceContentTag(TASK, 'linux/amd64'));
  });

  test.each([
    ['another platform', TASK, 'linux/arm64'],
    ['no platform', TASK, undefined],
    ['other inputs', '98765', 'linux/amd64'],
  ])('changes with %s: an arm64 and an amd64 machine never share a tag', (_what, hash, platform) => {
    expect(serviceContentTag(hash, platform)).not.toBe(serviceContentTag(TASK, 'linux/amd64'));
  });
});

describe('baseContentHash: what Docker records about a file', () => {
  it('permission bits change the hash (0644 → 0600 is a different image)', () => {
    const withMode = (mode: number) => baseContentHash({ ...INPUT, files: [{ ...FILES[0], mode }, FILES[1], FILES[2]] });
    expect(withMode(0o644)).not.toBe(withMode(0o600));
    expect(withMode(0o644)).toBe(withMode(0o644));
  });

  it('a symbolic link differs from a file holding its target text', () => {
    const file = { path: 'link', sha256: sha('4'), executable: false, mode: 0o777 };
    expect(baseContentHash({ ...INPUT, files: [file] })).not.toBe(baseContentHash({ ...INPUT, files: [{ ...file, symlink: true }] }));
  });
});

import {
  ImageRef,
  ImageRefError,
  assertImageName,
  assertTag,
  formatImageRef,
  parseImageRef,
  qualify,
  sanitizeRepository,
  sanitizeTag,
  serviceImageRef,
} from './image-ref';

const DIGEST = 'sha256:' + 'a'.repeat(64);

describe('parseImageRef / formatImageRef', () => {
  test.each<[string, ImageRef]>([
    ['node', { registry: undefined, repository: 'node', tag: undefined, digest: undefined }],
    ['node:20-bookworm-slim', { registry: undefined, repository: 'node', tag: '20-bookworm-slim', digest: undefined }],
    ['nxdd-test/busybox:1', { registry: undefined, repository: 'nxdd-test/busybox', tag: '1', digest: undefined }],
    ['127.0.0.1:5000/workspace-base', { registry: '127.0.0.1:5000', repository: 'workspace-base', tag: undefined, digest: undefined }],
    ['127.0.0.1:5000/team/api:nx-1a2b', { registry: '127.0.0.1:5000', repository: 'team/api', tag: 'nx-1a2b', digest: undefined }],
    ['localhost/api:latest', { registry: 'localhost', repository: 'api', tag: 'latest', digest: undefined }],
    ['localhost:5000/a/b/c:v1', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'v1', digest: undefined }],
    ['docker.io/library/node:20', { registry: 'docker.io', repository: 'library/node', tag: '20', digest: undefined }],
    ['europe-docker.pkg.dev/acme/images/api', { registry: 'europe-docker.pkg.dev', repository: 'acme/images/api', tag: undefined, digest: undefined }],
    [`node@${DIGEST}`, { registry: undefined, repository: 'node', tag: undefined, digest: DIGEST }],
    [`127.0.0.1:5000/api:latest@${DIGEST}`, { registry: '127.0.0.1:5000', repository: 'api', tag: 'latest', digest: DIGEST }],
    [`127.0.0.1:5000/api@${DIGEST}`, { registry: '127.0.0.1:5000', repository: 'api', tag: undefined, digest: DIGEST }],
  ])('%s', (ref, parts) => {
    expect(parseImageRef(ref)).toEqual(parts);
    expect(formatImageRef(parseImageRef(ref))).toBe(ref);
  });

  it('a first component without a dot, colon or "localhost" is a namespace, not a registry', () => {
    expect(parseImageRef('acme/api:1').registry).toBeUndefined();
    expect(parseImageRef('acme/api:1').repository).toBe('acme/api');
  });
});

describe('assertImageName', () => {
  test.each([
    'api',
    'workspace-base',
    'acme/api',
    'a.b_c__d---e',
    '127.0.0.1:5000/api',
    '127.0.0.1:5000/team/api',
    'localhost/api',
    'localhost:5000/api',
    'europe-docker.pkg.dev/acme/images/node-base',
    'Registry.Example.com/api',
  ])('accepts %s', (name) => {
    expect(() => assertImageName(name)).not.toThrow();
  });

  test.each([
    ['uppercase repository', 'Api', '"Api" must be lowercase', 'e.g. "api"'],
    ['uppercase namespace', '127.0.0.1:5000/Team/api', '"Team" must be lowercase', 'e.g. "team"'],
    ['scoped npm name', '@acme/api', '"@" is only for digests', 'e.g. "acme-api"'],
    ['a digest', `api@${DIGEST}`, '"@" is only for digests', 'e.g. "api"'],
    ['empty component', 'acme//api', '"" must be lowercase', 'e.g. "app"'],
    ['leading separator', '-api', '"-api" must be lowercase', 'e.g. "api"'],
    ['trailing separator', 'api_', '"api_" must be lowercase', 'e.g. "api"'],
    ['three underscores', 'a___b', '"a___b" must be lowercase', ''],
    ['space', 'my api', '"my api" must be lowercase', 'e.g. "my-api"'],
    ['a tag', 'api:latest', 'without a tag', 'tags" option'],
    ['a registry with a tag-like port', '127.0.0.1:5000/api:1', 'without a tag', ''],
    ['a registry with an underscore', 'my_registry:5000/api', 'registry "my_registry:5000" is not a host[:port]', 'NX_DOCKER_REGISTRY'],
    ['a registry with a bad port', 'localhost:50a0/api', 'registry "localhost:50a0" is not a host[:port]', ''],
  ])('rejects %s', (_name, name, message, fix) => {
    expect(() => assertImageName(name)).toThrow(ImageRefError);
    expect(() => assertImageName(name)).toThrow(`Invalid image name "${name}": `);
    expect(() => assertImageName(name)).toThrow(message);
    expect(() => assertImageName(name)).toThrow(fix);
  });

  it('names what it checked', () => {
    expect(() => assertImageName('Api', 'image name of @acme/api')).toThrow('Invalid image name of @acme/api "Api"');
  });
});

describe('assertTag', () => {
  test.each(['latest', 'v1.2.0', '1', 'nx-0123abcd', 'feature_x', '_private', 'A-Z.z', 'x'.repeat(128)])('accepts %s', (tag) => {
    expect(() => assertTag(tag)).not.toThrow();
  });

  test.each([
    ['empty', '', 'e.g. "latest"'],
    ['leading dot', '.hidden', 'e.g. "hidden"'],
    ['leading dash', '-rc', 'e.g. "rc"'],
    ['slash', 'feature/x', 'e.g. "feature-x"'],
    ['colon', 'a:b', 'e.g. "a-b"'],
    ['plus', '1.0.0+build', 'e.g. "1.0.0-build"'],
    ['129 characters', 'x'.repeat(129), `e.g. "${'x'.repeat(128)}"`],
  ])('rejects %s, suggesting a fixed tag', (_name, tag, suggestion) => {
    expect(() => assertTag(tag)).toThrow(ImageRefError);
    expect(() => assertTag(tag)).toThrow(`Invalid image tag "${tag}"`);
    expect(() => assertTag(tag)).toThrow(suggestion);
  });
});

describe('sanitizeRepository', () => {
  test.each([
    ['api', 'api'],
    ['@acme/api', 'acme-api'],
    ['My App', 'my-app'],
    ['api__v2', 'api_v2'],
    ['a.-_b', 'a_b'],
    ['--api--', 'api'],
    ['café', 'caf'],
    ['...', ''],
  ])('%s → %s', (name, expected) => {
    expect(sanitizeRepository(name)).toBe(expected);
  });

  test.each(['@acme/api', 'My App!!', 'a__b--c..d', '_x_', 'UPPER_case', 'svc.v2', 'a-_-b', 'ü-ber'])(
    'the result of %s is a valid image name',
    (name) => {
      expect(() => assertImageName(sanitizeRepository(name))).not.toThrow();
    }
  );
});

describe('sanitizeTag', () => {
  test.each([
    ['feature/login', 'feature-login'],
    ['.x', 'x'],
    ['-x', 'x'],
    ['1.0.0+build.7', '1.0.0-build.7'],
    ['x'.repeat(200), 'x'.repeat(128)],
  ])('%s → a valid tag', (tag, expected) => {
    expect(sanitizeTag(tag)).toBe(expected);
    expect(() => assertTag(sanitizeTag(tag))).not.toThrow();
  });
});

describe('qualify', () => {
  test.each([
    ['api', undefined, 'api'],
    ['api', '', 'api'],
    ['api', '127.0.0.1:5000', '127.0.0.1:5000/api'],
    ['api', '127.0.0.1:5000/team/', '127.0.0.1:5000/team/api'],
    ['acme/node-base', 'europe-docker.pkg.dev/acme/images', 'europe-docker.pkg.dev/acme/images/acme/node-base'],
  ])('%s on %s → %s', (repository, registry, expected) => {
    expect(qualify(repository, registry)).toBe(expected);
  });
});

describe('serviceImageRef', () => {
  test.each([
    ['the project name, sanitized', { project: '@acme/api', imagePrefix: '' }, 'acme-api:nx-1'],
    ['with a prefix and a registry path', { project: 'api', imagePrefix: 'team/', registry: '127.0.0.1:5000/ns' }, '127.0.0.1:5000/ns/team/api:nx-1'],
    ['the image option instead of the project name', { project: 'api', image: 'custom/img', imagePrefix: 'team/', registry: 'r.example:443' }, 'r.example:443/custom/img:nx-1'],
  ])('%s', (_what, input, ref) => {
    expect(serviceImageRef({ ...input, contentTag: 'nx-1' }).ref).toBe(ref);
  });
});

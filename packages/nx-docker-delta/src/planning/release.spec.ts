import { publishSteps, releaseTags, releaseVersion } from './release';

describe('releaseVersion', () => {
  const base = { packageJsonPath: 'apps/api/package.json', project: 'api' };

  it('prefers the version option over package.json', () => {
    expect(releaseVersion({ ...base, option: '2.0.0', packageJson: '{"version":"1.2.0"}' })).toEqual({ version: '2.0.0', source: 'the "version" option' });
  });

  it('takes the version nx release computed in this run over package.json', () => {
    expect(releaseVersion({ ...base, computed: '1.3.0', packageJson: '{"version":"1.2.0"}' })).toEqual({ version: '1.3.0', source: 'nx release' });
    expect(releaseVersion({ ...base, computed: null, packageJson: '{"version":"1.2.0"}' }).version).toBe('1.2.0');
  });

  it('reads what nx release version wrote into package.json', () => {
    expect(releaseVersion({ ...base, packageJson: '{"name":"@acme/api","version":"1.2.0"}' })).toEqual({ version: '1.2.0', source: 'apps/api/package.json' });
  });

  test.each([
    [undefined, 'No release version for api: apps/api/package.json does not exist — run nx release version first, or give nx-release-publish a "version" option.'],
    ['{"name":"x"}', 'No release version for api: apps/api/package.json has no "version" — run nx release version first, or give nx-release-publish a "version" option.'],
    ['{', 'apps/api/package.json is not valid JSON — fix it, or give nx-release-publish of api a "version" option.'],
  ])('package.json %p → one sentence', (packageJson, message) => {
    expect(() => releaseVersion({ ...base, packageJson })).toThrow(message);
  });
});

describe('releaseTags', () => {
  test.each([
    ['1.2.0', undefined, ['1.2.0']],
    ['1.2.0', ['{version}', '{minor}', '{major}', 'latest'], ['1.2.0', '1.2', '1', 'latest']],
    ['1.2.0-rc.1', ['{version}', '{patch}'], ['1.2.0-rc.1', '1.2.0']],
    ['1.2.0+build.7', ['{version}'], ['1.2.0-build.7']],
    ['1.2.0', ['{version}', '{patch}'], ['1.2.0']],
    ['2026.12.1', ['v{version}'], ['v2026.12.1']],
  ])('%s with %p → %p', (version, templates, tags) => {
    expect(releaseTags(version, templates)).toEqual(tags);
  });

  test.each([
    ['1.2.0', ['{sha}'], 'Release tag "{sha}" uses unknown placeholder {sha} — use {version}, {major}, {minor} or {patch}.'],
    ['nightly', ['{major}'], 'Release tag "{major}" needs a semver version but the release version is "nightly" — use {version} only.'],
    ['1.2.0', ['-{version}'], 'Invalid image tag "-1.2.0"'],
  ])('%s with %p fails: %s', (version, templates, message) => {
    expect(() => releaseTags(version, templates)).toThrow(message);
  });
});

describe('publishSteps', () => {
  const receipt = { project: 'api', image: '127.0.0.1:5000/acme/api', digest: 'sha256:abc', pushed: true };

  it('points every release tag at the receipt digest', () => {
    expect(publishSteps(receipt, ['1.2.0', '1.2'], 'dist/nx-docker-delta/apps/api/docker-service.json')).toEqual([
      { source: '127.0.0.1:5000/acme/api@sha256:abc', target: '127.0.0.1:5000/acme/api:1.2.0', tag: '1.2.0' },
      { source: '127.0.0.1:5000/acme/api@sha256:abc', target: '127.0.0.1:5000/acme/api:1.2', tag: '1.2' },
    ]);
  });

  it('refuses a receipt of an image that was never pushed', () => {
    expect(() => publishSteps({ ...receipt, pushed: false, digest: undefined }, ['1.2.0'], 'r.json')).toThrow(
      'The receipt of api (r.json) records no pushed image — build and push it first (nx run api:docker-build --push with a registry), then run nx release publish.'
    );
  });

  it('refuses an image without a registry', () => {
    expect(() => publishSteps({ ...receipt, image: 'acme/api' }, ['1.2.0'], 'r.json')).toThrow(
      'The image of api (acme/api) names no registry — set the registry option or NX_DOCKER_REGISTRY, push it, then release.'
    );
  });
});

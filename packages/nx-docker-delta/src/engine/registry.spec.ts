import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  imageIdOfManifest,
  DOCKER_HUB,
  credentialHost,
  credentialSource,
  daemonInsecureRegistries,
  decodeAuth,
  isInsecure,
  locate,
  parseChallenge,
  proxyFor,
  sha256,
} from './registry';

describe('locate: Docker Hub naming as the docker client resolves it', () => {
  const hub = { registry: 'docker.io', apiHost: 'registry-1.docker.io', credentialKey: 'https://index.docker.io/v1/' };
  test.each([
    ['node', { ...hub, repository: 'library/node', reference: 'latest' }],
    ['node:20', { ...hub, repository: 'library/node', reference: '20' }],
    ['acme/api:1.0', { ...hub, repository: 'acme/api', reference: '1.0' }],
    ['docker.io/node', { ...hub, repository: 'library/node', reference: 'latest' }],
    ['docker.io/acme/api:v1', { ...hub, repository: 'acme/api', reference: 'v1' }],
    ['index.docker.io/library/node:20', { ...hub, repository: 'library/node', reference: '20' }],
    ['index.docker.io/acme/api', { ...hub, repository: 'acme/api', reference: 'latest' }],
    [`acme/api@sha256:${'a'.repeat(64)}`, { ...hub, repository: 'acme/api', reference: `sha256:${'a'.repeat(64)}` }],
    ['ghcr.io/acme/api:main', { registry: 'ghcr.io', apiHost: 'ghcr.io', credentialKey: 'ghcr.io', repository: 'acme/api', reference: 'main' }],
    ['127.0.0.1:5000/team/api:nx-1', { registry: '127.0.0.1:5000', apiHost: '127.0.0.1:5000', credentialKey: '127.0.0.1:5000', repository: 'team/api', reference: 'nx-1' }],
    ['localhost/api', { registry: 'localhost', apiHost: 'localhost', credentialKey: 'localhost', repository: 'api', reference: 'latest' }],
    // Only docker.io and index.docker.io are Docker Hub's names; its API host is just another registry.
    ['registry-1.docker.io/node', { registry: 'registry-1.docker.io', apiHost: 'registry-1.docker.io', credentialKey: 'registry-1.docker.io', repository: 'node', reference: 'latest' }],
  ])('%s', (ref, expected) => {
    expect(locate(ref)).toEqual(expected);
  });
});

describe('credentials: which source docker would ask', () => {
  test.each([
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['http://registry.lan:5000', 'registry.lan:5000'],
    ['registry.lan:5000/v2/', 'registry.lan:5000'],
    ['ghcr.io', 'ghcr.io'],
  ])('credentialHost(%s) = %s', (key, host) => {
    expect(credentialHost(key)).toBe(host);
  });

  const auth = { auth: Buffer.from('ci:s3cret').toString('base64') };
  test.each<[string, Parameters<typeof credentialSource>[0], string, ReturnType<typeof credentialSource>]>([
    ['auths by exact key', { auths: { 'ghcr.io': auth } }, 'ghcr.io', { auth, key: 'ghcr.io' }],
    ['auths keyed with a scheme', { auths: { 'https://ghcr.io': auth } }, 'ghcr.io', { auth, key: 'https://ghcr.io' }],
    ['Docker Hub key', { auths: { [DOCKER_HUB.credentialKey]: auth } }, DOCKER_HUB.credentialKey, { auth, key: DOCKER_HUB.credentialKey }],
    ['credHelpers beat credsStore and auths', { credHelpers: { 'gcr.io': 'gcloud' }, credsStore: 'desktop', auths: { 'gcr.io': auth } }, 'gcr.io', { helper: 'gcloud' }],
    ['credHelpers keyed by Hub host', { credHelpers: { 'index.docker.io': 'pass' } }, DOCKER_HUB.credentialKey, { helper: 'pass' }],
    ['credsStore beats auths', { credsStore: 'desktop', auths: { 'ghcr.io': auth } }, 'ghcr.io', { helper: 'desktop' }],
    ['nothing for another host', { auths: { 'ghcr.io': auth } }, 'quay.io', undefined],
    ['empty config', {}, 'quay.io', undefined],
  ])('%s', (_name, config, key, expected) => {
    expect(credentialSource(config, key)).toEqual(expected);
  });

  test.each([
    ['base64 user:password', { auth: Buffer.from('ci:pa:ss').toString('base64') }, { username: 'ci', password: 'pa:ss', source: 's' }],
    ['explicit fields', { username: 'ci', password: 'x' }, { username: 'ci', password: 'x', source: 's' }],
    ['identity token', { auth: Buffer.from('ci:').toString('base64'), identitytoken: 'refresh' }, { username: 'ci', password: undefined, identityToken: 'refresh', source: 's' }],
    ['empty entry', {}, undefined],
  ])('decodeAuth: %s', (_name, entry, expected) => {
    const decoded = decodeAuth(entry, 's');
    expect(decoded && Object.fromEntries(Object.entries(decoded).filter(([, v]) => v !== undefined))).toEqual(
      expected && Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined))
    );
  });
});

describe('isInsecure: plain HTTP / unverified TLS allowed', () => {
  test.each<[string, string[], boolean]>([
    ['127.0.0.1:5000', [], true],
    ['localhost:5000', [], true],
    ['localhost', [], true],
    ['[::1]:5000', [], true],
    ['registry.lan:5000', [], false],
    ['registry.lan:5000', ['registry.lan:5000'], true],
    ['registry.lan:5000', ['registry.lan'], true],
    ['registry.lan:5001', ['registry.lan:5000'], false],
    ['registry.lan:5000', ['http://registry.lan:5000/'], true],
    ['10.1.2.3:5000', ['10.0.0.0/8'], true],
    ['11.1.2.3:5000', ['10.0.0.0/8'], false],
    ['192.168.1.7', ['192.168.1.0/24'], true],
    ['ghcr.io', ['10.0.0.0/8'], false],
  ])('%s with %j → %s', (host, entries, expected) => {
    expect(isInsecure(host, entries)).toBe(expected);
  });

  it("reads the daemon's insecure-registries when the file is readable, else none", () => {
    const dir = mkdtempSync(join(tmpdir(), 'nxdd-daemon-'));
    writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ 'insecure-registries': ['registry.lan:5000', 7], debug: true }));
    writeFileSync(join(dir, 'broken.json'), '{');
    expect(daemonInsecureRegistries(join(dir, 'daemon.json'))).toEqual(['registry.lan:5000']);
    expect(daemonInsecureRegistries(join(dir, 'broken.json'))).toEqual([]);
    expect(daemonInsecureRegistries(join(dir, 'missing.json'))).toEqual([]);
  });
});

describe('parseChallenge', () => {
  test.each([
    ['Bearer realm="https://auth.docker.io/token",service="registry.docker.io"', { scheme: 'bearer', realm: 'https://auth.docker.io/token', service: 'registry.docker.io' }],
    ['Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull"', { scheme: 'bearer', realm: 'https://ghcr.io/token', service: 'ghcr.io' }],
    ['bearer Realm="http://127.0.0.1:5137/token"', { scheme: 'bearer', realm: 'http://127.0.0.1:5137/token', service: undefined }],
    ['Basic realm="Registry Realm"', { scheme: 'basic' }],
    ['Bearer service="x"', undefined],
    ['Negotiate', undefined],
    ['', undefined],
  ])('%s', (header, expected) => {
    expect(parseChallenge(header)).toEqual(expected);
  });
});

it('sha256 is the digest form registries use', () => {
  expect(sha256(Buffer.from(''))).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

describe('proxyFor: HTTP(S)_PROXY and NO_PROXY as curl reads them', () => {
  const P = 'http://proxy.lan:3128';
  test.each<[string, NodeJS.ProcessEnv, string | undefined]>([
    ['https://ghcr.io', { HTTPS_PROXY: P }, P],
    ['https://ghcr.io', { https_proxy: P }, P],
    ['https://ghcr.io', { HTTP_PROXY: P }, undefined],
    ['http://registry.lan:5000', { HTTP_PROXY: P }, P],
    ['https://ghcr.io', { HTTPS_PROXY: P, NO_PROXY: '*' }, undefined],
    ['https://ghcr.io', { HTTPS_PROXY: P, NO_PROXY: 'ghcr.io' }, undefined],
    ['https://pkg.ghcr.io', { HTTPS_PROXY: P, NO_PROXY: 'ghcr.io' }, undefined],
    ['https://pkg.ghcr.io', { HTTPS_PROXY: P, no_proxy: '.ghcr.io' }, undefined],
    ['https://pkg.ghcr.io', { HTTPS_PROXY: P, NO_PROXY: '*.ghcr.io' }, undefined],
    ['https://notghcr.io', { HTTPS_PROXY: P, NO_PROXY: 'ghcr.io' }, P],
    ['https://registry.lan:5000', { HTTPS_PROXY: P, NO_PROXY: 'registry.lan:5000' }, undefined],
    ['https://registry.lan:5001', { HTTPS_PROXY: P, NO_PROXY: 'registry.lan:5000' }, P],
    ['https://ghcr.io', { HTTPS_PROXY: P, NO_PROXY: 'ghcr.io:443' }, undefined],
    ['http://127.0.0.1:5000', { HTTP_PROXY: P, NO_PROXY: 'localhost, 127.0.0.1' }, undefined],
    // Like curl (and unlike Go programs), loopback goes through the proxy unless NO_PROXY lists it.
    ['http://127.0.0.1:5000', { HTTP_PROXY: P }, P],
  ])('%s with %j → %s', (origin, env, expected) => {
    expect(proxyFor(origin, env)).toBe(expected);
  });
});

describe('imageIdOfManifest: the image ID a pull would give', () => {
  const config = `sha256:${'c'.repeat(64)}`;
  it.each([
    ['a docker v2 manifest', { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { digest: config } }, undefined, config],
    ['an OCI manifest (media type from the header)', { schemaVersion: 2, config: { digest: config } }, 'application/vnd.oci.image.manifest.v1+json', config],
    ['an OCI index', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }, undefined, undefined],
    ['a manifest list (media type from the header)', { schemaVersion: 2, manifests: [{ digest: config }] }, 'application/vnd.docker.distribution.manifest.list.v2+json', undefined],
    ['a config digest that is not sha256', { schemaVersion: 2, config: { digest: 'md5:abc' } }, undefined, undefined],
  ])('%s', (_name, manifest, mediaType, expected) => {
    expect(imageIdOfManifest(Buffer.from(JSON.stringify(manifest)), mediaType)).toBe(expected);
  });
  it('is undefined for bytes that are not JSON', () => {
    expect(imageIdOfManifest('not json')).toBeUndefined();
  });
});

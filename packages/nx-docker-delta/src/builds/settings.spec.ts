import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageRefError } from '../planning/image-ref';
import { BuildInputOptions, ImageOptions, SettingsError, resolveSettings } from './settings';

const REGISTRY = '127.0.0.1:5000';

describe('resolveSettings', () => {
  it('defaults: no registry, no push, tag latest, no prefix', () => {
    expect(resolveSettings({}, {})).toEqual({
      registry: undefined,
      push: false,
      platform: undefined,
      tags: ['latest'],
      cacheRegistry: undefined,
      dockerBin: undefined,
      imagePrefix: '',
      assemble: true,
      insecureRegistries: [],
      secrets: [],
      ssh: [],
      network: undefined,
    });
  });

  it('reads every setting from the environment', () => {
    expect(
      resolveSettings(
        {},
        {
          NX_DOCKER_REGISTRY: `${REGISTRY}/team/`,
          PUSH: 'true',
          NX_DOCKER_PLATFORM: 'linux/arm64',
          NX_DOCKER_TAGS: 'main, v1.2.0',
          NX_DOCKER_CACHE_REGISTRY: `${REGISTRY}/cache`,
          NX_DOCKER_BIN: '/usr/bin/docker',
          NX_DOCKER_INSECURE_REGISTRIES: 'registry.lan:5000, 10.0.0.0/8',
          NX_DOCKER_ASSEMBLE: '0',
        }
      )
    ).toEqual({
      registry: `${REGISTRY}/team`,
      push: true,
      platform: 'linux/arm64',
      tags: ['latest', 'main', 'v1.2.0'],
      cacheRegistry: `${REGISTRY}/cache`,
      dockerBin: '/usr/bin/docker',
      imagePrefix: '',
      assemble: false,
      insecureRegistries: ['registry.lan:5000', '10.0.0.0/8'],
      secrets: [],
      ssh: [],
      network: undefined,
    });
  });

  test.each<[string, ImageOptions, NodeJS.ProcessEnv, Partial<ReturnType<typeof resolveSettings>>]>([
    ['registry', { registry: 'localhost:5001' }, { NX_DOCKER_REGISTRY: REGISTRY }, { registry: 'localhost:5001' }],
    ['an empty registry option turns the env one off', { registry: '' }, { NX_DOCKER_REGISTRY: REGISTRY }, { registry: undefined }],
    ['push false beats PUSH=true', { push: false }, { PUSH: 'true', NX_DOCKER_REGISTRY: REGISTRY }, { push: false }],
    ['push true without any env', { push: true, registry: REGISTRY }, {}, { push: true }],
    ['assemble false beats the default', { assemble: false }, {}, { assemble: false }],
    ['assemble true beats NX_DOCKER_ASSEMBLE=off', { assemble: true }, { NX_DOCKER_ASSEMBLE: 'off' }, { assemble: true }],
    ['NX_DOCKER_ASSEMBLE=1 keeps it on', {}, { NX_DOCKER_ASSEMBLE: '1' }, { assemble: true }],
    ['platform', { platform: 'linux/amd64' }, { NX_DOCKER_PLATFORM: 'linux/arm64' }, { platform: 'linux/amd64' }],
    ['cacheRegistry', { cacheRegistry: 'a.io/cache' }, { NX_DOCKER_CACHE_REGISTRY: 'b.io/cache' }, { cacheRegistry: 'a.io/cache' }],
    ['dockerBin', { dockerBin: '/opt/docker' }, { NX_DOCKER_BIN: '/usr/bin/docker' }, { dockerBin: '/opt/docker' }],
    ['insecureRegistries add to the env ones', { insecureRegistries: ['a.lan:5000'] }, { NX_DOCKER_INSECURE_REGISTRIES: 'b.lan,a.lan:5000' }, { insecureRegistries: ['a.lan:5000', 'b.lan'] }],
    ['empty env values count as unset', {}, { NX_DOCKER_PLATFORM: '', NX_DOCKER_BIN: '', NX_DOCKER_REGISTRY: '  ' }, { platform: undefined, dockerBin: undefined, registry: undefined }],
  ])('option wins over env: %s', (_name, options, env, expected) => {
    expect(resolveSettings(options, env)).toMatchObject(expected);
  });

  test.each([
    ['PUSH', 'true', true],
    ['PUSH', 'TRUE', true],
    ['PUSH', '1', true],
    ['PUSH', 'yes', true],
    ['PUSH', 'on', true],
    ['PUSH', ' true ', true],
    ['NX_DOCKER_PUSH', 'true', true],
    ['PUSH', 'false', false],
    ['PUSH', '0', false],
    ['PUSH', '', false],
    ['PUSH', 'no', false],
    ['PUSH', 'truthy', false],
  ])('%s=%j → push %s', (name, value, push) => {
    expect(resolveSettings({}, { [name]: value, NX_DOCKER_REGISTRY: REGISTRY }).push).toBe(push);
  });

  test.each<[string, ImageOptions, NodeJS.ProcessEnv]>([
    ['PUSH=true', {}, { PUSH: 'true' }],
    ['NX_DOCKER_PUSH=1', {}, { NX_DOCKER_PUSH: '1' }],
    ['push option', { push: true }, {}],
    ['push option with an empty registry option', { push: true, registry: '' }, { NX_DOCKER_REGISTRY: REGISTRY }],
  ])('push without a registry is one sentence naming the fix (%s)', (_name, options, env) => {
    expect(() => resolveSettings(options, env)).toThrow(SettingsError);
    expect(() => resolveSettings(options, env)).toThrow(
      'Push mode needs a registry — set the registry option or NX_DOCKER_REGISTRY (e.g. 127.0.0.1:5000).'
    );
  });

  describe('tags', () => {
    test.each<[string, string[] | undefined, string | undefined, string[]]>([
      ['default', undefined, undefined, ['latest']],
      ['NX_DOCKER_TAGS adds to the default', undefined, 'git-abc1234,main', ['latest', 'git-abc1234', 'main']],
      ['NX_DOCKER_TAGS adds to the option', ['v1'], 'main', ['v1', 'main']],
      ['an empty option means only env tags', [], 'main', ['main']],
      ['duplicates appear once', ['latest', 'main'], 'main,latest', ['latest', 'main']],
      ['blank entries and spaces are ignored', undefined, ' , main ,, ', ['latest', 'main']],
    ])('%s', (_name, tags, envTags, expected) => {
      expect(resolveSettings({ tags }, envTags === undefined ? {} : { NX_DOCKER_TAGS: envTags }).tags).toEqual(expected);
    });

    test.each<[string, ImageOptions, NodeJS.ProcessEnv, string]>([
      ['an invalid env tag', {}, { NX_DOCKER_TAGS: 'feature/login' }, 'Invalid image tag "feature/login"'],
      ['an invalid option tag', { tags: ['-rc'] }, {}, 'Invalid image tag "-rc"'],
    ])('rejects %s', (_name, options, env, message) => {
      expect(() => resolveSettings(options, env)).toThrow(ImageRefError);
      expect(() => resolveSettings(options, env)).toThrow(message);
    });
  });

  test.each<[string, ImageOptions, NodeJS.ProcessEnv, string]>([
    ['a registry with an underscore host', {}, { NX_DOCKER_REGISTRY: 'my_registry:5000' }, 'Invalid registry "my_registry:5000": write host[:port]'],
    ['an uppercase registry namespace', { registry: `${REGISTRY}/Team` }, {}, `Invalid registry "${REGISTRY}/Team"`],
    ['an uppercase imagePrefix', { imagePrefix: 'Acme/' }, {}, 'Invalid imagePrefix "Acme/": use lowercase'],
  ])('rejects %s', (_name, options, env, message) => {
    expect(() => resolveSettings(options, env)).toThrow(SettingsError);
    expect(() => resolveSettings(options, env)).toThrow(message);
  });

  it('accepts an image prefix with a namespace', () => {
    expect(resolveSettings({ imagePrefix: 'acme/' }, {}).imagePrefix).toBe('acme/');
  });

  it('never writes to the environment it was given', () => {
    const env = Object.freeze({ PUSH: 'true', NX_DOCKER_REGISTRY: REGISTRY });
    expect(() => resolveSettings({ tags: ['v1'] }, env)).not.toThrow();
    expect(env).toEqual({ PUSH: 'true', NX_DOCKER_REGISTRY: REGISTRY });
  });

  describe('secrets, ssh, network', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'nxdd-settings-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('options and NX_DOCKER_SECRETS together; env= values are read now, files stay files', () => {
      const file = join(dir, 'gcp.json');
      writeFileSync(file, '{}');
      const settings = resolveSettings({ secrets: [`id=gcp,src=${file}`] }, { NX_DOCKER_SECRETS: 'id=npm,env=TOKEN_X', TOKEN_X: 's3cr3t' }, {}, dir);
      expect(settings.secrets).toEqual([{ id: 'gcp', src: file }, { id: 'npm', text: 's3cr3t' }]);
    });

    it('ssh and network from the environment; the option wins for network', () => {
      expect(resolveSettings({}, { NX_DOCKER_SSH: 'default;gh=/k', NX_DOCKER_NETWORK: 'host' }, {}, dir)).toMatchObject({ ssh: ['default', 'gh=/k'], network: 'host' });
      expect(resolveSettings({ network: 'none' }, { NX_DOCKER_NETWORK: 'host' }, {}, dir).network).toBe('none');
    });

    test.each<[string, ImageOptions & BuildInputOptions, NodeJS.ProcessEnv, RegExp]>([
      ['a bad spec', { secrets: ['npm'] }, {}, /^Invalid secret "npm": .* — fix the secrets option or NX_DOCKER_SECRETS\.$/],
      ['an unset variable', { secrets: ['id=npm,env=NOPE'] }, {}, /^Secret "npm" reads \$NOPE, which is not set — export NOPE/],
      ['a missing file', { secrets: ['id=npm,src=/nonexistent/x'] }, {}, /^Secret "npm" reads \/nonexistent\/x, which does not exist/],
      ['a bad network', {}, { NX_DOCKER_NETWORK: 'mynet' }, /^Invalid network "mynet"/],
    ])('%s is one sentence', (_name, options, env, message) => {
      expect(() => resolveSettings(options, env, {}, dir)).toThrow(message);
    });

    it('without a workspace root (checking, not building) no secret is read', () => {
      expect(resolveSettings({ secrets: ['id=npm,env=NOPE'] }, { NX_DOCKER_NETWORK: 'host' })).toMatchObject({ secrets: [], ssh: [], network: undefined });
    });

    it("passes the workspace's .npmrc and .yarnrc.yml as secrets, ${VAR} resolved, unless told not to", () => {
      writeFileSync(join(dir, '.npmrc'), '//127.0.0.1:5142/:_authToken=${NPM_TOKEN}\n');
      writeFileSync(join(dir, '.yarnrc.yml'), 'npmAuthToken: "${NPM_TOKEN}"\n');
      writeFileSync(join(dir, '.yarnrc'), 'ignored "because .yarnrc.yml wins"\n');
      const env = { NPM_TOKEN: 'tok' };
      expect(resolveSettings({}, env, {}, dir).secrets).toEqual([
        { id: 'npmrc', text: '//127.0.0.1:5142/:_authToken=tok\n' },
        { id: 'yarnrc', text: 'npmAuthToken: "tok"\n' },
      ]);
      expect(resolveSettings({ packageManagerSecrets: false }, env, {}, dir).secrets).toEqual([]);
      expect(resolveSettings({ secrets: ['id=npmrc,env=NPM_TOKEN'] }, env, {}, dir).secrets[0]).toEqual({ id: 'npmrc', text: 'tok' });
      expect(() => resolveSettings({}, {}, {}, dir)).toThrow(/^\.npmrc uses \$\{NPM_TOKEN\}, which is not set in this build's environment — export NPM_TOKEN/);
    });
  });
});

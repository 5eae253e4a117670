import { BuildInputSpecError, EnvReferenceError, expandEnvReferences, parseNetwork, parseSecretSpec, parseSshSpec, splitSpecList } from './build-inputs';

describe('parseSecretSpec', () => {
  test.each([
    ['id=npm,src=/run/secrets/npm', { id: 'npm', src: '/run/secrets/npm' }],
    ['id=npm,source=/run/secrets/npm', { id: 'npm', src: '/run/secrets/npm' }],
    ['type=file,id=npm,src=/s', { id: 'npm', src: '/s' }],
    ['id=token,env=NPM_TOKEN', { id: 'token', env: 'NPM_TOKEN' }],
    [' id = gcp.json , src = /a b/c ', { id: 'gcp.json', src: '/a b/c' }],
  ])('%s', (spec, expected) => {
    expect(parseSecretSpec(spec)).toEqual(expected);
  });

  test.each(['npm', 'id=npm', 'src=/x', 'id=npm,src=/x,env=Y', 'id=,src=/x', 'id=a b,src=/x', 'id=npm,src=', 'id=npm,required=true,src=/x'])(
    'rejects %s with one sentence naming the fix',
    (spec) => {
      expect(() => parseSecretSpec(spec)).toThrow(BuildInputSpecError);
      expect(() => parseSecretSpec(spec)).toThrow(/write id=<name>,src=<file> or id=<name>,env=<VARIABLE> — fix the secrets option or NX_DOCKER_SECRETS\.$/);
    }
  );
});

describe('parseSshSpec / parseNetwork / splitSpecList', () => {
  test.each([['default'], ['github=/home/ci/.ssh/id_ed25519'], ['default=/run/agent.sock,/k']])('ssh %s', (spec) => {
    expect(parseSshSpec(spec)).toBe(spec);
  });
  it('rejects an ssh spec with spaces', () => expect(() => parseSshSpec('a b')).toThrow(/fix the ssh option or NX_DOCKER_SSH\.$/));
  test.each(['host', 'none', 'default'])('network %s', (n) => expect(parseNetwork(n)).toBe(n));
  it('rejects a named network: builds cannot join one', () => expect(() => parseNetwork('bridge0')).toThrow(/a build runs on default, host or none/));
  it('splits on ; and new lines, keeping commas inside a spec', () => {
    expect(splitSpecList('id=a,src=/a; id=b,env=B\nid=c,src=/c;')).toEqual(['id=a,src=/a', 'id=b,env=B', 'id=c,src=/c']);
    expect(splitSpecList(undefined)).toEqual([]);
  });
});

describe('expandEnvReferences', () => {
  const env = { NPM_TOKEN: 'tok-123', EMPTY: '' };
  test.each([
    ['//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n', '//127.0.0.1:4873/:_authToken=tok-123\n'],
    ['a=${EMPTY}', 'a='],
    ['a=${MISSING:-fallback}', 'a=fallback'],
    ['a=${EMPTY:-fallback}', 'a=fallback'],
    ['a=${EMPTY-fallback}', 'a='],
    ['a=${MISSING-fallback}', 'a=fallback'],
    ['a=$NPM_TOKEN', 'a=$NPM_TOKEN'],
    ['registry=https://r.example/\nalways-auth=true', 'registry=https://r.example/\nalways-auth=true'],
  ])('%j', (text, expected) => {
    expect(expandEnvReferences(text, env, '.npmrc')).toBe(expected);
  });

  it('an unset variable is one sentence naming the file, the variable and the fix', () => {
    expect(() => expandEnvReferences('x=${GH_TOKEN}', env, '.npmrc')).toThrow(EnvReferenceError);
    expect(() => expandEnvReferences('x=${GH_TOKEN}', env, '.npmrc')).toThrow(
      ".npmrc uses ${GH_TOKEN}, which is not set in this build's environment — export GH_TOKEN (in CI, from a secret) or remove that line."
    );
  });
});

import { checkNpmLock, chooseNpmLock, NpmLock, NpmLockEntry, pruneNpmLock, resolveInLock } from './npm-lock';

const pkg = (version: string, deps?: Record<string, string>, extra: Partial<NpmLockEntry> = {}): NpmLockEntry => ({
  version,
  resolved: `https://registry.example/${version}.tgz`,
  integrity: `sha512-${version}`,
  ...(deps ? { dependencies: deps } : {}),
  ...extra,
});

/**
 * The shape that broke Nx 21's npm pruning in a real workspace: two majors of domhandler under
 * web-resource-inliner, the older one hoisted to its node_modules (htmlparser2@5 needs it), the
 * newer one nested under the two packages that need ^4.
 */
function rootLock(): NpmLock {
  return {
    name: 'shop',
    version: '0.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'shop', version: '0.0.0', dependencies: { 'web-resource-inliner': '^5.0.0', express: '^4.21.0' }, devDependencies: { jest: '^30.0.0' } },
      'node_modules/web-resource-inliner': pkg('5.0.0', { htmlparser2: '^5.0.0', 'dom-serializer': '^1.0.0', domutils: '^2.0.0' }),
      'node_modules/web-resource-inliner/node_modules/htmlparser2': pkg('5.0.1', { domhandler: '^3.3.0', domelementtype: '^2.0.1' }),
      'node_modules/web-resource-inliner/node_modules/domhandler': pkg('3.3.0', { domelementtype: '^2.0.1' }),
      'node_modules/web-resource-inliner/node_modules/dom-serializer': pkg('1.4.1', { domhandler: '^4.2.0', domelementtype: '^2.0.1' }),
      'node_modules/web-resource-inliner/node_modules/dom-serializer/node_modules/domhandler': pkg('4.3.1', { domelementtype: '^2.2.0' }),
      'node_modules/web-resource-inliner/node_modules/domutils': pkg('2.8.0', { domhandler: '^4.2.0', 'dom-serializer': '^1.0.1' }),
      'node_modules/web-resource-inliner/node_modules/domutils/node_modules/domhandler': pkg('4.3.1', { domelementtype: '^2.2.0' }),
      'node_modules/domelementtype': pkg('2.3.0'),
      'node_modules/domhandler': pkg('5.0.3', { domelementtype: '^2.3.0' }),
      'node_modules/express': pkg('4.21.2', { 'fsevents-ish': '^1.0.0' }, { optionalDependencies: { 'fsevents-ish': '^1.0.0' } }),
      'node_modules/fsevents-ish': pkg('1.0.0', undefined, { optional: true, os: ['darwin'] }),
      'node_modules/jest': pkg('30.0.0', { 'jest-cli': '^30.0.0' }, { dev: true }),
      'node_modules/jest-cli': pkg('30.0.0', undefined, { dev: true }),
      'node_modules/@scope/thing': pkg('1.0.0', undefined, { dev: true }),
    },
  };
}

describe('resolveInLock', () => {
  const packages = rootLock().packages as Record<string, NpmLockEntry>;

  it('finds the nearest node_modules first, then each enclosing one up to the root', () => {
    expect(resolveInLock(packages, 'node_modules/web-resource-inliner/node_modules/dom-serializer', 'domhandler')).toBe(
      'node_modules/web-resource-inliner/node_modules/dom-serializer/node_modules/domhandler'
    );
    expect(resolveInLock(packages, 'node_modules/web-resource-inliner/node_modules/htmlparser2', 'domhandler')).toBe('node_modules/web-resource-inliner/node_modules/domhandler');
    expect(resolveInLock(packages, 'node_modules/web-resource-inliner/node_modules/htmlparser2', 'domelementtype')).toBe('node_modules/domelementtype');
    expect(resolveInLock(packages, '', 'domhandler')).toBe('node_modules/domhandler');
    expect(resolveInLock(packages, '', '@scope/thing')).toBe('node_modules/@scope/thing');
    expect(resolveInLock(packages, 'node_modules/express', 'nothing')).toBeUndefined();
  });
});

describe('checkNpmLock', () => {
  it('accepts a consistent tree', () => {
    expect(checkNpmLock(rootLock())).toBeUndefined();
  });

  it('names the dependency npm would refuse: the re-hoisted duplicate Nx 21 wrote', () => {
    const lock = rootLock();
    const p = lock.packages as Record<string, NpmLockEntry>;
    // What Nx 21 produced: 4.3.1 moved under htmlparser2, the nested copies dropped.
    p['node_modules/web-resource-inliner/node_modules/htmlparser2/node_modules/domhandler'] = pkg('4.3.1');
    delete p['node_modules/web-resource-inliner/node_modules/dom-serializer/node_modules/domhandler'];
    delete p['node_modules/web-resource-inliner/node_modules/domutils/node_modules/domhandler'];
    expect(checkNpmLock(lock)).toMatch(/needs domhandler@\^(3\.3\.0|4\.2\.0), but node_modules\/web-resource-inliner\/node_modules\/(htmlparser2\/node_modules\/)?domhandler holds (4\.3\.1|3\.3\.0)/);
  });

  it('names a required dependency that resolves to nothing, and lets a missing optional one go', () => {
    const lock = rootLock();
    delete (lock.packages as Record<string, NpmLockEntry>)['node_modules/jest-cli'];
    expect(checkNpmLock(lock)).toBe('jest@30.0.0 needs jest-cli@^30.0.0, which the lockfile does not hold where Node looks for it');
    // express lists fsevents-ish in dependencies and optionalDependencies: optional, as in package.json.
    const optional = rootLock();
    delete (optional.packages as Record<string, NpmLockEntry>)['node_modules/fsevents-ish'];
    expect(checkNpmLock(optional)).toBeUndefined();
  });

  it('reads npm: aliases and leaves non-registry specs unchecked', () => {
    const lock: NpmLock = {
      lockfileVersion: 3,
      packages: {
        '': { dependencies: { old: 'npm:domhandler@^3.0.0', git: 'github:me/thing', tag: 'latest' } },
        'node_modules/old': pkg('4.0.0', undefined, { name: 'domhandler' }),
        'node_modules/git': pkg('0.0.1'),
        'node_modules/tag': pkg('9.9.9'),
      },
    };
    expect(checkNpmLock(lock)).toBe('the root manifest needs old@npm:domhandler@^3.0.0, but node_modules/old holds 4.0.0');
    (lock.packages as Record<string, NpmLockEntry>)['node_modules/old'].version = '3.1.0';
    expect(checkNpmLock(lock)).toBeUndefined();
  });

  it('says so for a v1 lockfile (no packages map)', () => {
    expect(checkNpmLock({ lockfileVersion: 1, dependencies: {} })).toMatch(/no "packages" root entry/);
  });
});

describe('pruneNpmLock', () => {
  it('keeps what the manifest reaches, at the paths the root lockfile has, and nothing else', () => {
    const pruned = pruneNpmLock(rootLock(), { name: 'nx-docker-delta-service', version: '0.0.1', dependencies: { 'web-resource-inliner': '5.0.0' } });
    if (!pruned.ok) throw new Error(pruned.reason);
    expect(Object.keys(pruned.lock.packages ?? {})).toEqual([
      '',
      'node_modules/web-resource-inliner',
      'node_modules/web-resource-inliner/node_modules/htmlparser2',
      'node_modules/web-resource-inliner/node_modules/domhandler',
      'node_modules/web-resource-inliner/node_modules/dom-serializer',
      'node_modules/web-resource-inliner/node_modules/dom-serializer/node_modules/domhandler',
      'node_modules/web-resource-inliner/node_modules/domutils',
      'node_modules/web-resource-inliner/node_modules/domutils/node_modules/domhandler',
      'node_modules/domelementtype',
    ]);
    expect(pruned.lock.packages?.['']).toEqual({ name: 'nx-docker-delta-service', version: '0.0.1', dependencies: { 'web-resource-inliner': '5.0.0' } });
    expect(pruned.lock).toMatchObject({ name: 'nx-docker-delta-service', version: '0.0.1', lockfileVersion: 3, requires: true });
    expect(pruned.lock.packages?.['node_modules/web-resource-inliner']).toEqual(rootLock().packages?.['node_modules/web-resource-inliner']);
    expect(checkNpmLock(pruned.lock)).toBeUndefined();
  });

  it('recomputes the flags for the new root: optional for what only optional edges reach, no dev in a production manifest', () => {
    const pruned = pruneNpmLock(rootLock(), { dependencies: { express: '^4.21.0', '@scope/thing': '1.0.0' } });
    if (!pruned.ok) throw new Error(pruned.reason);
    const p = pruned.lock.packages ?? {};
    expect(p['node_modules/fsevents-ish']).toMatchObject({ optional: true, os: ['darwin'] });
    expect(p['node_modules/express'].optional).toBeUndefined();
    expect(p['node_modules/@scope/thing'].dev).toBeUndefined();
    expect(p['node_modules/jest']).toBeUndefined();
  });

  it('marks dev what only devDependencies reach when the manifest has them (the build manifest)', () => {
    const pruned = pruneNpmLock(rootLock(), { dependencies: { express: '^4.21.0' }, devDependencies: { jest: '^30.0.0' } });
    if (!pruned.ok) throw new Error(pruned.reason);
    const p = pruned.lock.packages ?? {};
    expect(p['node_modules/jest']).toMatchObject({ dev: true });
    expect(p['node_modules/jest-cli']).toMatchObject({ dev: true });
    expect(p['node_modules/express'].dev).toBeUndefined();
  });

  it('drops the legacy v1 section of a v2 lockfile', () => {
    const lock = { ...rootLock(), lockfileVersion: 2, dependencies: { express: { version: '4.21.2' } } };
    const pruned = pruneNpmLock(lock, { dependencies: { express: '^4.21.0' } });
    if (!pruned.ok) throw new Error(pruned.reason);
    expect(pruned.lock.dependencies).toBeUndefined();
    expect(pruned.lock.lockfileVersion).toBe(2);
  });

  it('refuses what it cannot prune: a missing dependency, a workspace link, a v1 lockfile', () => {
    expect(pruneNpmLock(rootLock(), { dependencies: { nope: '^1.0.0' } })).toEqual({
      ok: false,
      reason: 'the manifest needs nope@^1.0.0, which the root lockfile does not hold where Node looks for it',
    });
    const linked = rootLock();
    (linked.packages as Record<string, NpmLockEntry>)['node_modules/@acme/lib'] = { resolved: 'libs/lib', link: true };
    expect(pruneNpmLock(linked, { dependencies: { '@acme/lib': '*' } })).toEqual({ ok: false, reason: 'node_modules/@acme/lib is a workspace link' });
    expect(pruneNpmLock({ lockfileVersion: 1, dependencies: {} }, { dependencies: {} })).toMatchObject({ ok: false });
  });
});

describe('chooseNpmLock', () => {
  const manifest = { name: 'mail', version: '0.0.1', dependencies: { 'web-resource-inliner': '^5.0.0' } };
  /** Nx 21's output for the workspace above: the re-hoisted domhandler npm refuses. */
  const refusedByNpm = () => {
    const lock = pruneNpmLock(rootLock(), manifest);
    if (!lock.ok) throw new Error(lock.reason);
    const p = lock.lock.packages as Record<string, NpmLockEntry>;
    p['node_modules/web-resource-inliner/node_modules/htmlparser2/node_modules/domhandler'] = pkg('4.3.1');
    delete p['node_modules/web-resource-inliner/node_modules/dom-serializer/node_modules/domhandler'];
    delete p['node_modules/web-resource-inliner/node_modules/domutils/node_modules/domhandler'];
    return JSON.stringify(lock.lock);
  };
  const text = (lock: NpmLock) => JSON.stringify(lock, null, 2) + '\n';

  it("keeps Nx's lockfile when npm would accept it", () => {
    const good = pruneNpmLock(rootLock(), manifest);
    expect(good.ok && chooseNpmLock({ project: 'mail', nxLock: text(good.lock), rootLock: text(rootLock()), manifest })).toBeUndefined();
  });

  it("prunes the root lockfile itself when npm would refuse Nx's, and says why", () => {
    const chosen = chooseNpmLock({ project: 'mail', nxLock: refusedByNpm(), rootLock: text(rootLock()), manifest });
    expect(chosen?.why).toMatch(/^Nx's pruned lockfile is one npm would refuse: .*domhandler/);
    expect(checkNpmLock(JSON.parse(chosen?.lock as string))).toBeUndefined();
  });

  it("fails before Docker, in one sentence naming the fix, when neither Nx's lockfile nor the root one can be used", () => {
    const root = rootLock();
    delete (root.packages as Record<string, NpmLockEntry>)['node_modules/domelementtype'];
    expect(() => chooseNpmLock({ project: 'mail', nxLock: refusedByNpm(), rootLock: text(root), manifest })).toThrow(
      /^Cannot stage an npm lockfile for "mail": Nx's pruned lockfile is one npm would refuse: .*, and pruning the root package-lock\.json here failed too \(.*domelementtype.*\) — run `npm install` at the workspace root so package-lock\.json matches every package\.json, then rebuild\.$/
    );
  });

  it('leaves the whole-root-lockfile fallback to the caller when the root lockfile cannot be pruned here either', () => {
    const v1 = text({ lockfileVersion: 1, dependencies: {} } as NpmLock);
    expect(chooseNpmLock({ project: 'mail', nxLock: v1, rootLock: v1, manifest })).toBeUndefined();
  });
});

import { nativeBuildNeeds } from './native-deps';

const npmLock = (packages: Record<string, object>) => JSON.stringify({ lockfileVersion: 3, packages: { '': { name: 'ws' }, ...packages } });

describe('nativeBuildNeeds', () => {
  it('npm: no install scripts → no compilers', () => {
    expect(nativeBuildNeeds('npm', npmLock({ 'node_modules/ms': { version: '2.1.3' }, 'node_modules/express': { version: '4.21.2' } }))).toEqual({ needed: false, packages: [] });
  });

  it('npm: hasInstallScript (nested too) → compilers, naming the packages', () => {
    const lock = npmLock({
      'node_modules/bcrypt': { version: '5.1.1', hasInstallScript: true },
      'node_modules/a/node_modules/@scope/addon': { version: '1.0.0', hasInstallScript: true },
    });
    expect(nativeBuildNeeds('npm', lock)).toEqual({ needed: true, packages: ['@scope/addon', 'bcrypt'] });
  });

  it('npm: install scripts that only download or print (esbuild, nx, @nestjs/core, protobufjs) need no compilers', () => {
    const lock = npmLock(
      Object.fromEntries(['esbuild', 'nx', '@nestjs/core', 'protobufjs', 'core-js'].map((n) => [`node_modules/${n}`, { version: '1.0.0', hasInstallScript: true }]))
    );
    expect(nativeBuildNeeds('npm', lock)).toEqual({ needed: false, packages: [] });
  });

  it('npm: dev-only addons (nx → @parcel/watcher → node-addon-api) and analytics postinstalls (@scarf/scarf) need no compilers in the base', () => {
    const lock = npmLock({
      'node_modules/@parcel/watcher': { version: '2.5.1', hasInstallScript: true, dev: true },
      'node_modules/node-addon-api': { version: '7.1.1', dev: true },
      'node_modules/@scarf/scarf': { version: '1.4.0', hasInstallScript: true },
      'node_modules/@nestjs/core': { version: '11.0.0', hasInstallScript: true },
    });
    expect(nativeBuildNeeds('npm', lock)).toEqual({ needed: false, packages: [], devOnly: ['node-addon-api'] });
    const prod = npmLock({ 'node_modules/node-addon-api': { version: '7.1.1', dev: true }, 'node_modules/bcrypt': { version: '5.1.1', hasInstallScript: true } });
    expect(nativeBuildNeeds('npm', prod)).toEqual({ needed: true, packages: ['bcrypt'], devOnly: ['node-addon-api'] });
  });

  it('npm: a lockfile v1 cannot tell → undefined (keep the compilers)', () => {
    expect(nativeBuildNeeds('npm', JSON.stringify({ lockfileVersion: 1, dependencies: {} })).needed).toBeUndefined();
    expect(nativeBuildNeeds('npm', null).needed).toBeUndefined();
  });

  it('pnpm 8: requiresBuild: true', () => {
    const lock = ["lockfileVersion: '6.0'", '', 'packages:', '', '  /ms@2.1.3:', '    resolution: {integrity: sha512-x}', '', '  /@scope/addon@1.0.0:', '    resolution: {integrity: sha512-y}', '    requiresBuild: true', ''].join('\n');
    expect(nativeBuildNeeds('pnpm', lock)).toEqual({ needed: true, packages: ['@scope/addon'] });
  });

  it('pnpm 9: a native-addon package in the lockfile', () => {
    const none = ["lockfileVersion: '9.0'", '', 'packages:', '', '  ms@2.1.3:', '    resolution: {integrity: sha512-x}', ''].join('\n');
    expect(nativeBuildNeeds('pnpm', none)).toEqual({ needed: false, packages: [] });
    const native = none + "\n  node-addon-api@8.0.0:\n    resolution: {integrity: sha512-z}\n\n  'better-sqlite3@11.0.0':\n    resolution: {integrity: sha512-w}\n";
    expect(nativeBuildNeeds('pnpm', native)).toEqual({ needed: true, packages: ['better-sqlite3', 'node-addon-api'] });
  });

  it('yarn classic and berry: a native-addon package in the lockfile', () => {
    const classic = '# yarn lockfile v1\n\n\nms@2.1.3:\n  version "2.1.3"\n';
    expect(nativeBuildNeeds('yarn', classic)).toEqual({ needed: false, packages: [] });
    expect(nativeBuildNeeds('yarn', `${classic}\n"@mapbox/node-pre-gyp@^1.0.11":\n  version "1.0.11"\n`)).toEqual({ needed: true, packages: ['@mapbox/node-pre-gyp'] });
    const berry = '__metadata:\n  version: 8\n\n"sqlite3@npm:^5.1.7":\n  version: 5.1.7\n';
    expect(nativeBuildNeeds('yarn-berry', berry)).toEqual({ needed: true, packages: ['sqlite3'] });
  });
});

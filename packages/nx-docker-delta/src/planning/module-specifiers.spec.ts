import { builtinModules } from 'node:module';
import { importAnalysisGap, isShippedScript, moduleSpecifiers, packageOfSpecifier, packageRequests, planMissingPackages, planProvidedPeers } from './module-specifiers';

const builtins = new Set(builtinModules);

describe('moduleSpecifiers', () => {
  test.each([
    ['require', `const ms = require('ms');`, ['ms']],
    ['require with double quotes and spaces', `require ( "debug" )`, ['debug']],
    ['import from', `import express from "express";\nimport { a, b } from '@s/p/sub';`, ['express', '@s/p/sub']],
    ['side-effect import', `import 'reflect-metadata';`, ['reflect-metadata']],
    ['export from', `export * from 'lib-a';\nexport { x } from "lib-b";`, ['lib-a', 'lib-b']],
    ['dynamic import', `const m = await import('chalk');`, ['chalk']],
    ['webpack commonjs external', `/***/ ((module) => {\nmodule.exports = require("tslib");\n/***/ })`, ['tslib']],
    ['import with options', `await import('./data.json', { with: { type: 'json' } })`, ['./data.json']],
  ])('%s', (_name, text, expected) => {
    expect(moduleSpecifiers(text)).toEqual(expected);
  });

  test.each([
    ['a line comment', `// const x = require('nope');\nrequire('yes')`, ['yes']],
    ['a block comment', `/* import x from 'nope' */ require('yes')`, ['yes']],
    ['a string', `const s = "require('nope')"; require('yes')`, ['yes']],
    ['a template literal', "const s = `require('nope') ${require('skipped-inside-template')}`; require('yes')", ['yes']],
    ['a regex literal', `const r = /require\\('nope'\\)/g; require('yes')`, ['yes']],
    ['a property named require', `module.require('nope'); obj.import('nope2'); require('yes')`, ['yes']],
    ['a computed require', `require(name); require('a' + b); require('yes')`, ['yes']],
    ['Array.from', `Array.from('abc'); require('yes')`, ['yes']],
    ['division, not a regex', `const half = a / 2; const q = b / 3; require('yes')`, ['yes']],
  ])('ignores %s', (_name, text, expected) => {
    expect(moduleSpecifiers(text)).toEqual(expected);
  });
});

describe('packageOfSpecifier', () => {
  test.each([
    ['ms', 'ms'],
    ['lodash/fp', 'lodash'],
    ['@s/p', '@s/p'],
    ['@s/p/sub/deep', '@s/p'],
    ['./local', undefined],
    ['../up', undefined],
    ['/abs/path', undefined],
    ['node:fs', undefined],
    ['node:fs/promises', undefined],
    ['fs', undefined],
    ['fs/promises', undefined],
    ['child_process', undefined],
    ['#internal', undefined],
    ['data:text/javascript,1', undefined],
    ['@scope-only', undefined],
    ['!!raw-loader!./x', undefined],
  ])('%s → %s', (spec, expected) => {
    expect(packageOfSpecifier(spec, builtins)).toBe(expected);
  });
});

it('packageRequests lists each package once, built-ins and relative paths left out', () => {
  const text = `const fs = require('fs'); const p = require('node:path'); const a = require('./a');\nconst ms = require('ms'); const x = require('ms/package.json'); import y from '@s/p/sub';`;
  expect(packageRequests(text, builtins)).toEqual([
    { specifier: 'ms', packageName: 'ms' },
    { specifier: '@s/p/sub', packageName: '@s/p' },
  ]);
});

test.each([
  ['dist/apps/api/main.js', true],
  ['dist/apps/api/chunk.mjs', true],
  ['dist/apps/api/main.cjs', true],
  ['dist/apps/api/main.js.map', false],
  ['dist/apps/api/main.spec.js', false],
  ['dist/apps/api/node_modules/x/index.js', false],
  ['apps/api/assets/data.json', false],
  ['apps/api/webpack.config.js', false],
  ['apps/api/.eslintrc.js', false],
])('isShippedScript(%s) → %s', (path, expected) => {
  expect(isShippedScript(path)).toBe(expected);
});

describe('planMissingPackages', () => {
  it('adds what is locked, reports what is not, names the first file needing each', () => {
    expect(
      planMissingPackages({
        requests: [
          { file: 'dist/b.js', packages: ['ms', 'not-locked', 'express'] },
          { file: 'dist/a.js', packages: ['tslib', 'ms'] },
        ],
        present: new Set(['express']),
        locked: new Map([
          ['ms', '2.1.3'],
          ['tslib', '2.8.1'],
        ]),
      })
    ).toEqual([
      { kind: 'add', packageName: 'ms', version: '2.1.3', file: 'dist/a.js' },
      { kind: 'unlocked', packageName: 'not-locked', file: 'dist/b.js' },
      { kind: 'add', packageName: 'tslib', version: '2.8.1', file: 'dist/a.js' },
    ]);
  });

  it('is empty when the manifest already holds everything (the lockfile then stays as it was)', () => {
    expect(
      planMissingPackages({
        requests: [{ file: 'dist/main.js', packages: ['ms', '@fx/lib', 'svc'] }],
        present: new Set(['ms', '@fx/lib']),
        locked: new Map([['ms', '2.1.3']]),
        ignore: new Set(['svc']),
      })
    ).toEqual([]);
  });
});

describe('importAnalysisGap', () => {
  const base = { rootDependencies: new Set(['@nx/js']), typescriptInstalled: true };
  it('is undefined when Nx analyses source files', () => {
    expect(importAnalysisGap(base)).toBeUndefined();
    expect(importAnalysisGap({ ...base, rootDependencies: new Set(), jsPluginConfig: { analyzeSourceFiles: true } })).toBeUndefined();
  });
  it('names typescript when it is missing', () => {
    expect(importAnalysisGap({ ...base, typescriptInstalled: false })).toMatch(/^typescript is not installed in the workspace.*install it/);
  });
  it('names analyzeSourceFiles: false', () => {
    expect(importAnalysisGap({ ...base, jsPluginConfig: { analyzeSourceFiles: false } })).toMatch(/analyzeSourceFiles to false.*remove that setting/);
  });
  it('names the missing @nx/js when nothing turns analysis on', () => {
    expect(importAnalysisGap({ ...base, rootDependencies: new Set(['nx']) })).toMatch(/no @nx\/js is installed/);
  });
});

describe('planProvidedPeers', () => {
  // What a NestJS microservice installs, as the real packages declare their peers.
  const manifests: Record<string, { peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }> }> = {
    '@nestjs/core': {
      peerDependencies: { '@nestjs/common': '^10.0.0', '@nestjs/platform-express': '^10.0.0', '@nestjs/websockets': '^10.0.0', rxjs: '^7.1.0' },
      peerDependenciesMeta: { '@nestjs/platform-express': { optional: true }, '@nestjs/websockets': { optional: true } },
    },
    '@nestjs/microservices': {
      peerDependencies: { amqplib: '*', 'amqp-connection-manager': '*', kafkajs: '*', '@nestjs/common': '^10.0.0' },
      peerDependenciesMeta: { amqplib: { optional: true }, 'amqp-connection-manager': { optional: true }, kafkajs: { optional: true } },
    },
    '@nestjs/platform-express': { peerDependencies: { '@nestjs/common': '^10.0.0', 'multer-extra': '*' }, peerDependenciesMeta: { 'multer-extra': { optional: true } } },
    rxjs: {},
    // debug declares supports-color in peerDependenciesMeta only.
    debug: { peerDependenciesMeta: { 'supports-color': { optional: true } } },
  };
  const input = {
    installs: ['@nestjs/core', '@nestjs/microservices', '@nestjs/common', 'rxjs'],
    manifestOf: (name: string) => (manifests[name] ? { name, ...manifests[name] } : undefined),
    rootDependencies: new Set(['@nestjs/core', '@nestjs/common', '@nestjs/microservices', '@nestjs/platform-express', 'amqplib', 'amqp-connection-manager', 'multer-extra', 'rxjs']),
    present: new Set(['@nestjs/core', '@nestjs/microservices', '@nestjs/common', 'rxjs']),
    locked: new Map([
      ['@nestjs/platform-express', '10.4.17'],
      ['amqplib', '0.10.8'],
      ['amqp-connection-manager', '4.1.14'],
      ['kafkajs', '2.2.4'],
      ['multer-extra', '1.0.0'],
    ]),
  };

  it('adds the optional peers the workspace installs as dependencies, and theirs in turn, naming who declares each', () => {
    expect(planProvidedPeers(input)).toEqual([
      { packageName: '@nestjs/platform-express', version: '10.4.17', of: '@nestjs/core' },
      { packageName: 'amqp-connection-manager', version: '4.1.14', of: '@nestjs/microservices' },
      { packageName: 'amqplib', version: '0.10.8', of: '@nestjs/microservices' },
      { packageName: 'multer-extra', version: '1.0.0', of: '@nestjs/platform-express' },
    ]);
  });

  it('leaves out peers the workspace does not install (kafkajs), holds already, only has as devDependencies, or has not locked', () => {
    const out = planProvidedPeers({
      ...input,
      rootDependencies: new Set(['@nestjs/platform-express', 'kafkajs-dev-only-elsewhere']),
      present: new Set([...input.present]),
      locked: new Map([['amqplib', '0.10.8']]),
    });
    expect(out).toEqual([]);
    expect(planProvidedPeers({ ...input, present: new Set([...input.present, '@nestjs/platform-express', 'amqplib', 'amqp-connection-manager']) })).toEqual([]);
  });

  it('reads an optional peer declared in peerDependenciesMeta alone', () => {
    expect(
      planProvidedPeers({ ...input, installs: ['debug'], rootDependencies: new Set(['supports-color']), present: new Set(['debug']), locked: new Map([['supports-color', '7.2.0']]) })
    ).toEqual([{ packageName: 'supports-color', version: '7.2.0', of: 'debug' }]);
  });

  it('adds nothing for required peers (the package manager installs those) or packages not installed', () => {
    expect(planProvidedPeers({ ...input, installs: ['rxjs', 'not-installed'] })).toEqual([]);
  });
});

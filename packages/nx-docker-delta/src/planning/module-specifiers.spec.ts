import { builtinModules } from 'node:module';
import { importAnalysisGap, isShippedScript, moduleSpecifiers, packageOfSpecifier, packageRequests, planMissingPackages } from './module-specifiers';

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

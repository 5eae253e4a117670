import { findDeclaredOutput, outputFromBundlerConfig, outputFromTsconfig } from './build-output';

describe('outputFromBundlerConfig', () => {
  test.each([
    [
      'Nx webpack plugin with join(__dirname)',
      'apps/api/webpack.config.js',
      "const { NxAppWebpackPlugin } = require('@nx/webpack/app-plugin');\nconst { join } = require('path');\nmodule.exports = {\n  output: {\n    path: join(__dirname, '../../dist/apps/api'),\n  },\n  plugins: [new NxAppWebpackPlugin({ target: 'node', outputPath: join(__dirname, '../../dist/apps/api') })],\n};\n",
      { path: 'dist/apps/api', file: 'apps/api/webpack.config.js', setting: 'NxAppWebpackPlugin outputPath' },
    ],
    [
      'plain webpack output.path with path.resolve',
      'apps/api/webpack.config.js',
      "const path = require('path');\nmodule.exports = { target: 'node', output: { filename: 'main.js', path: path.resolve(__dirname, 'dist') } };\n",
      { path: 'apps/api/dist', file: 'apps/api/webpack.config.js', setting: 'output.path' },
    ],
    [
      'NxAppWebpackPlugin outputPath from the workspace root',
      'apps/api/webpack.config.js',
      "module.exports = { plugins: [new NxAppWebpackPlugin({ outputPath: 'dist/apps/api' })] };\n",
      { path: 'dist/apps/api', file: 'apps/api/webpack.config.js', setting: 'NxAppWebpackPlugin outputPath' },
    ],
    [
      'vite build.outDir from the config folder',
      'apps/web/vite.config.ts',
      "export default defineConfig({\n  root: __dirname,\n  build: {\n    outDir: '../../dist/apps/web',\n    emptyOutDir: true,\n  },\n});\n",
      { path: 'dist/apps/web', file: 'apps/web/vite.config.ts', setting: 'build.outDir' },
    ],
  ])('%s', (_name, file, text, expected) => {
    expect(outputFromBundlerConfig(file, text)).toEqual(expected);
  });

  it('ignores commented-out settings and computed paths', () => {
    expect(outputFromBundlerConfig('apps/a/webpack.config.js', "// output: { path: join(__dirname, 'x') }\nmodule.exports = { output: { path: process.env.OUT } };\n")).toBeUndefined();
  });
});

it('outputFromTsconfig reads outDir relative to the tsconfig', () => {
  expect(outputFromTsconfig('apps/api/tsconfig.app.json', '{ /* c */ "compilerOptions": { "outDir": "../../dist/out-tsc" } }')).toEqual({
    path: 'dist/out-tsc',
    file: 'apps/api/tsconfig.app.json',
    setting: 'compilerOptions.outDir',
  });
});

describe('findDeclaredOutput', () => {
  const files: Record<string, string> = {
    'apps/api/webpack.config.js': "module.exports = { output: { path: require('path').join(__dirname, '../../dist/apps/api') } };",
    'apps/tool/tsconfig.build.json': '{ "compilerOptions": { "outDir": "./out" } }',
  };
  const read = (p: string) => files[p];
  it('reads the bundler config of a webpack run-commands build', () => {
    expect(findDeclaredOutput({ projectRoot: 'apps/api', buildCommand: 'webpack-cli build', read })).toEqual({
      path: 'dist/apps/api',
      file: 'apps/api/webpack.config.js',
      setting: 'output.path',
    });
  });
  it('reads tsconfig outDir only when the build runs tsc', () => {
    expect(findDeclaredOutput({ projectRoot: 'apps/tool', buildCommand: 'tsc -p apps/tool/tsconfig.build.json', read })?.path).toBe('apps/tool/out');
    expect(findDeclaredOutput({ projectRoot: 'apps/tool', buildCommand: 'node build.js', read })).toBeUndefined();
  });
});

import { contextCopySources, logicalInstructions, readDirectives } from './dockerfile-copies';

describe('readDirectives', () => {
  it('reads key=value pairs before the first FROM only', () => {
    const df = [
      '# nx-docker-delta: context=pruned',
      '# nx-docker-delta: compile=docker',
      'ARG BASE_IMAGE=workspace-base',
      'FROM ${BASE_IMAGE} AS deps',
      '# nx-docker-delta: late=ignored',
    ].join('\n');
    expect(readDirectives(df)).toEqual({ context: 'pruned', compile: 'docker' });
  });
});

describe('contextCopySources', () => {
  test.each([
    ['plain COPY', 'COPY package.json package-lock.json ./', ['package-lock.json', 'package.json']],
    ['flags and ./', 'COPY --chown=node:node ./dist/apps/a/ ./', ['dist/apps/a']],
    ['--from is not the context', 'COPY --from=deps /app/node_modules ./node_modules', []],
    ['JSON form', 'COPY ["apps/a/public", "/app/public"]', ['apps/a/public']],
    ['ADD url skipped', 'ADD https://example.invalid/x.tgz /x.tgz', []],
    ['continuation', 'COPY mix.exs \\\n  mix.lock ./', ['mix.exs', 'mix.lock']],
    ['whole context', 'COPY . .', ['.']],
  ])('%s', (_name, df, expected) => {
    expect(contextCopySources(`FROM x\n${df}\n`)).toEqual(expected);
  });

  it('ignores comments inside continued instructions', () => {
    expect(logicalInstructions('RUN a \\\n# note\n  && b\nCMD ["x"]')).toEqual(['RUN a && b', 'CMD ["x"]']);
  });
});

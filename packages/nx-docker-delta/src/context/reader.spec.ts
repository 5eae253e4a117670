import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { hashContextSources } from '../utils/fs';
import { ContextError, globRegExp, ignoreRules, MissingSourceError, readContextSources, readIgnoreRules, walk } from './reader';

function tree(root: string, files: Record<string, string>) {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

const FILES = {
  'app/main.js': '1',
  'app/secrets/key.pem': 'k',
  'app/secrets/public.pem': 'p',
  'app/coverage/lcov.info': 'c',
  'app/src/deep/coverage/x.txt': 'x',
  'app/README.md': 'r',
  'app/docs/a.md': 'a',
  'app/.env': 'E',
  'app/.env.example': 'e',
  'Dockerfile': 'FROM scratch',
};

describe('the context reader (Docker .dockerignore semantics)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'nxdd-reader-'));
    tree(root, FILES);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const listed = (ignore: string, sources = ['app']) =>
    [...readContextSources({ contextDir: root, sources, ignore: ignoreRules(ignore) }).values()].flat().map((e) => e.path);

  test.each<[string, string, string[]]>([
    ['nothing ignored', '', ['app/.env', 'app/.env.example', 'app/README.md', 'app/coverage/lcov.info', 'app/docs/a.md', 'app/main.js', 'app/secrets/key.pem', 'app/secrets/public.pem', 'app/src/deep/coverage/x.txt']],
    ['ignored folder with a ! exception inside it', 'app/secrets\n!app/secrets/public.pem', ['app/.env', 'app/.env.example', 'app/README.md', 'app/coverage/lcov.info', 'app/docs/a.md', 'app/main.js', 'app/secrets/public.pem', 'app/src/deep/coverage/x.txt']],
    ['** matches at any depth', '**/coverage', ['app/.env', 'app/.env.example', 'app/README.md', 'app/docs/a.md', 'app/main.js', 'app/secrets/key.pem', 'app/secrets/public.pem']],
    ['a pattern without ** is anchored at the context root', 'coverage', ['app/.env', 'app/.env.example', 'app/README.md', 'app/coverage/lcov.info', 'app/docs/a.md', 'app/main.js', 'app/secrets/key.pem', 'app/secrets/public.pem', 'app/src/deep/coverage/x.txt']],
    ['later lines win: exception then re-ignore', '**/*.md\n!app/README.md\napp/*.md', ['app/.env', 'app/.env.example', 'app/coverage/lcov.info', 'app/main.js', 'app/secrets/key.pem', 'app/secrets/public.pem', 'app/src/deep/coverage/x.txt']],
    ['.env* with an example kept', '**/.env*\n!**/.env.example', ['app/.env.example', 'app/README.md', 'app/coverage/lcov.info', 'app/docs/a.md', 'app/main.js', 'app/secrets/key.pem', 'app/secrets/public.pem', 'app/src/deep/coverage/x.txt']],
    ['leading / and ./ are the root; # lines are comments', '# comment\n/app/docs\n./app/.env', ['app/.env.example', 'app/README.md', 'app/coverage/lcov.info', 'app/main.js', 'app/secrets/key.pem', 'app/secrets/public.pem', 'app/src/deep/coverage/x.txt']],
    ['matching is case-sensitive, as on Linux', 'APP/MAIN.JS', ['app/.env', 'app/.env.example', 'app/README.md', 'app/coverage/lcov.info', 'app/docs/a.md', 'app/main.js', 'app/secrets/key.pem', 'app/secrets/public.pem', 'app/src/deep/coverage/x.txt']],
  ])('%s', (_name, ignore, expected) => {
    expect(listed(ignore)).toEqual(expected);
  });

  test.each<[string, string[], string[]]>([
    ['a file', ['app/main.js'], ['app/main.js']],
    ['a glob per segment', ['app/*/*.pem'], ['app/secrets/key.pem', 'app/secrets/public.pem']],
    ['a glob matching a folder takes all of it', ['app/s*'], ['app/secrets/key.pem', 'app/secrets/public.pem', 'app/src/deep/coverage/x.txt']],
    ['a [x] class that matches nothing is valid', ['app/nothin[g]'], []],
    ['./ and trailing / are the same source', ['./app/docs/'], ['app/docs/a.md']],
  ])('COPY source: %s', (_name, sources, expected) => {
    expect(listed('', sources)).toEqual(expected);
  });

  it('a source that is missing, or wholly ignored, is MissingSourceError', () => {
    expect(() => listed('', ['app/nope.js'])).toThrow(MissingSourceError);
    expect(() => listed('app/main.js', ['app/main.js'])).toThrow(MissingSourceError);
  });

  it('<Dockerfile>.dockerignore beside the Dockerfile replaces the context one', () => {
    writeFileSync(join(root, '.dockerignore'), 'app/docs\n');
    mkdirSync(join(root, 'build'));
    writeFileSync(join(root, 'build/api.Dockerfile'), 'FROM scratch');
    writeFileSync(join(root, 'build/api.Dockerfile.dockerignore'), 'app/secrets\n');
    expect(readIgnoreRules(root, join(root, 'Dockerfile'))).toMatchObject({ file: '.dockerignore', patterns: ['app/docs'] });
    expect(readIgnoreRules(root, join(root, 'build/api.Dockerfile'))).toMatchObject({ file: 'build/api.Dockerfile.dockerignore', patterns: ['app/secrets'] });
  });

  it('hashing reads through the same ignore file as staging: an ignored file never changes the hash', () => {
    writeFileSync(join(root, '.dockerignore'), 'app/secrets\n!app/secrets/public.pem\n');
    const before = hashContextSources(root, ['app']);
    writeFileSync(join(root, 'app/secrets/key.pem'), 'rotated');
    expect(hashContextSources(root, ['app'])).toEqual(before);
    writeFileSync(join(root, 'app/secrets/public.pem'), 'changed');
    expect(hashContextSources(root, ['app'])).not.toEqual(before);
  });

  it('records the permission bits Docker records', () => {
    chmodSync(join(root, 'app/main.js'), 0o755);
    chmodSync(join(root, 'app/README.md'), 0o600);
    const byPath = Object.fromEntries(hashContextSources(root, ['app']).map((f) => [f.path, f]));
    expect(byPath['app/main.js']).toMatchObject({ mode: 0o755, executable: true });
    expect(byPath['app/README.md']).toMatchObject({ mode: 0o600, executable: false });
  });

  describe('symbolic links', () => {
    it('inside the workspace: kept as a link (a link to a folder is not followed)', () => {
      symlinkSync('main.js', join(root, 'app/alias.js'));
      symlinkSync('docs', join(root, 'app/manual'));
      const entries = walk({ contextDir: root, sources: [], ignore: ignoreRules('') }, 'app');
      expect(entries.filter((e) => e.kind === 'symlink').map((e) => [e.path, e.linkTarget])).toEqual([
        ['app/alias.js', 'main.js'],
        ['app/manual', 'docs'],
      ]);
      expect(entries.map((e) => e.path)).not.toContain('app/manual/a.md');
    });

    it('leaving the workspace: one sentence naming the link and the fix', () => {
      symlinkSync('/etc/hostname', join(root, 'app/host'));
      expect(() => listed('')).toThrow(ContextError);
      expect(() => listed('')).toThrow(
        'app/host is a symbolic link to /etc/hostname, outside the workspace — Docker would copy a dangling link: replace it with the file itself, point it inside the workspace, or add it to .dockerignore.'
      );
      symlinkSync('../../..', join(root, 'app/docs/up'));
      expect(() => listed('app/host', ['app/docs'])).toThrow(/^app\/docs\/up is a symbolic link to \.\.\/\.\.\/\.\., outside the workspace/);
    });

    it('broken: one sentence; ignoring it is a fix', () => {
      symlinkSync('gone.js', join(root, 'app/broken.js'));
      expect(() => listed('')).toThrow('app/broken.js is a broken symbolic link (to gone.js) — fix or delete it, or add it to .dockerignore.');
      expect(listed('app/broken.js')).not.toContain('app/broken.js');
    });
  });
});

describe('globRegExp (Go filepath.Match, one segment)', () => {
  test.each<[string, string, boolean]>([
    ['*.json', 'package.json', true],
    ['*.json', '.json', true],
    ['pnpm-workspace.yam[l]', 'pnpm-workspace.yaml', true],
    ['pnpm-workspace.yam[l]', 'pnpm-workspace.yam', false],
    ['file?.txt', 'file1.txt', true],
    ['[!a]bc', 'abc', false],
    ['[^a]bc', 'xbc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['a.b', 'axb', false],
  ])('%s ~ %s: %s', (pattern, name, expected) => {
    expect(globRegExp(pattern).test(name)).toBe(expected);
  });
});

import { DockerfileError, DockerfileParser, readDirectives, readDockerfileFacts, readDockerfilePreamble } from './dockerfile';

const df = (...lines: string[]) => lines.join('\n') + '\n';

describe('readDockerfileFacts: ARG BASE_IMAGE', () => {
  test.each([
    ['ARG with a default before FROM', df('ARG BASE_IMAGE=workspace-base', 'FROM ${BASE_IMAGE}'), true, 'workspace-base'],
    ['bare ARG before FROM', df('ARG BASE_IMAGE', 'FROM ${BASE_IMAGE}'), true, undefined],
    ['empty default counts as none', df('ARG BASE_IMAGE=', 'FROM ${BASE_IMAGE}'), true, undefined],
    ['double-quoted default', df('ARG BASE_IMAGE="node-base"', 'FROM ${BASE_IMAGE}'), true, 'node-base'],
    ['single-quoted default', df("ARG BASE_IMAGE='node-base'", 'FROM $BASE_IMAGE'), true, 'node-base'],
    ['registry-qualified default', df('ARG BASE_IMAGE=127.0.0.1:5000/workspace-base:abc', 'FROM ${BASE_IMAGE}'), true, '127.0.0.1:5000/workspace-base:abc'],
    ['other ARGs before it', df('ARG NODE=20', 'ARG BASE_IMAGE=x-base', 'FROM ${BASE_IMAGE}'), true, 'x-base'],
    ['ARG only after the first FROM (stage-scoped)', df('FROM node:20', 'ARG BASE_IMAGE=workspace-base'), false, undefined],
    ['no ARG at all', df('FROM node:20-bookworm-slim', 'RUN true'), false, undefined],
    ['lowercase keywords', df('arg BASE_IMAGE=w-base', 'from ${BASE_IMAGE}'), true, 'w-base'],
    ['a similarly named ARG is not it', df('ARG BASE_IMAGE_TAG=1', 'FROM node:${BASE_IMAGE_TAG}'), false, undefined],
  ])('%s', (_name, text, declares, defaultValue) => {
    const facts = readDockerfileFacts(text);
    expect(facts.declaresBaseArg).toBe(declares);
    expect(facts.baseArgDefault).toBe(defaultValue);
  });

  test.each([
    ['${BASE_IMAGE}', df('ARG BASE_IMAGE', 'FROM ${BASE_IMAGE}'), true],
    ['$BASE_IMAGE', df('ARG BASE_IMAGE', 'FROM $BASE_IMAGE'), true],
    ['${BASE_IMAGE} AS deps', df('ARG BASE_IMAGE', 'FROM ${BASE_IMAGE} AS deps'), true],
    ['${BASE_IMAGE:-default}', df('ARG BASE_IMAGE', 'FROM ${BASE_IMAGE:-node:20}'), true],
    ['only a later stage uses it', df('ARG BASE_IMAGE', 'FROM node:20 AS build', 'FROM ${BASE_IMAGE}'), true],
    ['declared but FROM a literal image', df('ARG BASE_IMAGE', 'FROM node:20'), false],
    ['a longer variable name', df('ARG BASE_IMAGE_X', 'FROM ${BASE_IMAGE_X}'), false],
  ])('usesBaseArg: FROM %s', (_name, text, uses) => {
    expect(readDockerfileFacts(text).usesBaseArg).toBe(uses);
  });

  it('lists every ARG as an accepted build arg, before and after FROM', () => {
    expect(readDockerfileFacts(df('ARG BASE_IMAGE', 'FROM ${BASE_IMAGE}', 'ARG APP_VERSION=0.0.0', 'ARG PORT')).args).toEqual([
      'BASE_IMAGE',
      'APP_VERSION',
      'PORT',
    ]);
  });
});

describe('readDockerfileFacts: FROM', () => {
  it('records every stage with its image, name and 1-based line', () => {
    const facts = readDockerfileFacts(
      df('ARG BASE_IMAGE=workspace-base', 'FROM ${BASE_IMAGE} AS deps', 'RUN true', 'FROM --platform=$BUILDPLATFORM node:20 AS build', 'FROM deps')
    );
    expect(facts.froms).toEqual([
      { image: '${BASE_IMAGE}', stage: 'deps', line: 2 },
      { image: 'node:20', stage: 'build', line: 4 },
      { image: 'deps', stage: undefined, line: 5 },
    ]);
  });
});

describe('readDockerfileFacts: COPY/ADD context sources', () => {
  const sources = (...lines: string[]) => readDockerfileFacts(df('FROM scratch', ...lines)).contextSources.map((s) => s.source);

  test.each([
    ['one source', ['COPY package.json ./'], ['package.json']],
    ['several sources, the last argument is the destination', ['COPY package.json package-lock.json /app/'], ['package.json', 'package-lock.json']],
    ['flags before the sources', ['COPY --chown=node:node --chmod=755 --link bin/start.sh /usr/local/bin/'], ['bin/start.sh']],
    ['--from= is another stage, not the context', ['COPY --from=deps /app/node_modules ./node_modules'], []],
    ['--from=<image> is not the context either', ['COPY --from=nginx:1 /etc/nginx/nginx.conf /etc/nginx/'], []],
    ['JSON form', ['COPY ["apps/a/dist", "/app/dist"]'], ['apps/a/dist']],
    ['JSON form with flags', ['COPY --chown=1:1 ["a", "b", "/dst/"]'], ['a', 'b']],
    ['JSON form keeps spaces in file names', ['COPY ["my file.txt", "other dir", "/dst/"]'], ['my file.txt', 'other dir']],
    ['line continuation', ['COPY mix.exs \\', '  mix.lock ./'], ['mix.exs', 'mix.lock']],
    ['whole context', ['COPY . .'], ['.']],
    ['globs are kept as written', ['COPY packages/*/package.json ./'], ['packages/*/package.json']],
    ['ADD of a local file', ['ADD vendor.tar.gz /opt/'], ['vendor.tar.gz']],
    ['ADD of an https URL is not the context', ['ADD https://example.invalid/tool.tgz /opt/'], []],
    ['ADD of an http URL is not the context', ['ADD http://example.invalid/tool.tgz /opt/'], []],
    ['ADD of a git:// URL is not the context', ['ADD git://example.invalid/repo.git /src'], []],
    ['ADD of a git@ SSH URL is not the context', ['ADD git@github.com:moby/buildkit.git /bk'], []],
    ['ADD --checksum of a URL', ['ADD --checksum=sha256:0000 https://example.invalid/a /a'], []],
    ['COPY heredoc is inline content', ['COPY <<EOF /etc/motd', 'hello', 'EOF'], []],
    ['COPY heredoc next to a real source', ['COPY start.sh <<EOF /app/', 'echo hi', 'EOF'], ['start.sh']],
    ['ADD heredoc is inline content', ['ADD <<EOT /y', 'z', 'EOT'], []],
    ['RUN/WORKDIR/ENV are not sources', ['WORKDIR /app', 'ENV A=b', 'RUN cp a b'], []],
  ])('%s', (_name, lines, expected) => {
    expect(sources(...lines)).toEqual(expected);
  });

  it('keeps the line of each source so errors can point at it', () => {
    const facts = readDockerfileFacts(df('FROM scratch', 'COPY a ./', 'RUN true', 'COPY b c ./'));
    expect(facts.contextSources).toEqual([
      { source: 'a', line: 2 },
      { source: 'b', line: 4 },
      { source: 'c', line: 4 },
    ]);
  });
});

describe('readDockerfileFacts: errors name the file and line', () => {
  test.each([
    ['no FROM at all', df('# just a comment', 'RUN true'), 'apps/a/Dockerfile has no FROM instruction'],
    ['empty file', '', 'apps/a/Dockerfile has no FROM instruction'],
    ['COPY before FROM', df('ARG BASE_IMAGE', 'COPY package.json ./', 'FROM ${BASE_IMAGE}'), 'apps/a/Dockerfile:2: COPY before the first FROM'],
    ['ADD before FROM', df('ADD x /x', 'FROM scratch'), 'apps/a/Dockerfile:1: ADD before the first FROM'],
    ['FROM without an image', df('FROM', 'RUN true'), 'apps/a/Dockerfile:1: FROM has no image'],
  ])('%s', (_name, text, message) => {
    expect(() => readDockerfileFacts(text, 'apps/a/Dockerfile')).toThrow(DockerfileError);
    expect(() => readDockerfileFacts(text, 'apps/a/Dockerfile')).toThrow(message);
  });
});

describe('readDirectives', () => {
  test.each([
    ['one pair', '# nx-docker-delta: context=pruned', { context: 'pruned' }],
    ['several pairs', '# nx-docker-delta: context=pruned name=node', { context: 'pruned', name: 'node' }],
    ['no space after #', '#nx-docker-delta: name=elixir', { name: 'elixir' }],
    ['value containing =', '# nx-docker-delta: label=a=b', { label: 'a=b' }],
    ['a key without value is ignored', '# nx-docker-delta: context', {}],
    ['other comments are ignored', '# syntax=docker/dockerfile:1\n# nx-docker-deltas: x=y', {}],
    ['not a comment', 'RUN echo "# nx-docker-delta: context=pruned"', {}],
    ['only before the first FROM', '# nx-docker-delta: context=pruned\nFROM x\n# nx-docker-delta: late=ignored', { context: 'pruned' }],
  ])('%s', (_name, text, expected) => {
    expect(readDirectives(text)).toEqual(expected);
  });

  it('are part of the facts', () => {
    expect(readDockerfileFacts(df('# nx-docker-delta: context=pruned', 'FROM scratch')).directives).toEqual({ context: 'pruned' });
  });
});

describe('readDockerfilePreamble', () => {
  const full = [
    '# nx-docker-delta: context=pruned',
    'ARG BASE_IMAGE=workspace-base',
    'FROM ${BASE_IMAGE} \\',
    '  AS deps',
    'COPY package.json ./',
    'RUN npm ci',
  ].join('\n');

  it('reads the ARGs, the first FROM (with its continuation) and the directives, not the rest', () => {
    const facts = readDockerfilePreamble(full, 'apps/api/Dockerfile');
    expect(facts).toMatchObject({
      declaresBaseArg: true,
      baseArgDefault: 'workspace-base',
      usesBaseArg: true,
      froms: [{ image: '${BASE_IMAGE}', stage: 'deps', line: 3 }],
      contextSources: [],
      directives: { context: 'pruned' },
    });
  });

  it('agrees with the full parse on everything inference uses', () => {
    const preamble = readDockerfilePreamble(full);
    const whole = readDockerfileFacts(full);
    expect([preamble.declaresBaseArg, preamble.baseArgDefault, preamble.usesBaseArg, preamble.directives]).toEqual([
      whole.declaresBaseArg,
      whole.baseArgDefault,
      whole.usesBaseArg,
      whole.directives,
    ]);
  });

  it('does not take a FROM inside a continued RUN for the first FROM', () => {
    const text = ['ARG X=1', 'ARG Y=a \\', '  FROM nothing', 'FROM scratch'].join('\n');
    expect(readDockerfilePreamble(text).froms).toEqual([{ image: 'scratch', stage: undefined, line: 4 }]);
  });

  it('honours the backtick escape directive', () => {
    const text = ['# escape=`', 'ARG BASE_IMAGE', 'FROM ${BASE_IMAGE} `', '  AS app', 'COPY a b'].join('\n');
    expect(readDockerfilePreamble(text).froms).toEqual([{ image: '${BASE_IMAGE}', stage: 'app', line: 3 }]);
  });
});

describe('DockerfileParser', () => {
  it('parses a text once per process (facts, dependency stage and assembly plan read one tree)', () => {
    const text = 'FROM scratch\nCOPY a /a\n';
    const tree = DockerfileParser.parse(text);
    expect(DockerfileParser.parse(text)).toBe(tree);
    expect(DockerfileParser.parse(`${text}COPY b /b\n`)).not.toBe(tree);
    expect(tree.getInstructions().map((i) => i.getKeyword())).toEqual(['FROM', 'COPY']);
  });
});

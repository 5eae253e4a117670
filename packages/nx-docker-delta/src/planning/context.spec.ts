import { inferContext, quickCopySources, templateArgs } from './context';

describe('quickCopySources', () => {
  it('reads COPY/ADD sources, not --from copies, heredocs or URLs', () => {
    const text = [
      'FROM node:20 AS build',
      'COPY package.json pnpm-lock.yaml ./',
      'COPY --chown=node:node nx.json \\',
      '     tsconfig.base.json ./',
      'COPY ["apps/api", "apps/api/"]',
      'COPY --from=build /app/dist ./dist',
      'ADD https://example.invalid/x.tgz /tmp/',
      'COPY <<EOF /etc/motd',
      'hello',
      'EOF',
      'RUN echo COPY nope',
    ].join('\n');
    expect(quickCopySources(text)).toEqual(['package.json', 'pnpm-lock.yaml', 'nx.json', 'tsconfig.base.json', 'apps/api']);
  });
});

describe('inferContext', () => {
  const tree = (paths: string[]) => (p: string) => paths.includes(p);
  it('workspace root for a Dockerfile that copies root files and apps/, libs/', () => {
    expect(
      inferContext({
        projectRoot: 'apps/api',
        sources: ['package.json', 'pnpm-lock.yaml', 'nx.json', 'apps/', 'libs/'],
        exists: tree(['package.json', 'pnpm-lock.yaml', 'nx.json', 'apps', 'libs', 'apps/api']),
      })
    ).toEqual({ context: '.', reason: 'its COPY sources (package.json, pnpm-lock.yaml, nx.json) are paths from the workspace root, not from apps/api' });
  });
  it("the Dockerfile's own folder when its sources are there: gateway/Dockerfile beside its nginx.conf, in the root project", () => {
    expect(inferContext({ projectRoot: '.', dockerfileDir: 'gateway', sources: ['nginx.conf'], exists: tree(['gateway/nginx.conf', 'package.json']) })).toEqual({
      context: 'gateway',
      reason: "its COPY sources (nginx.conf) are in gateway, the Dockerfile's folder",
    });
    expect(
      inferContext({ projectRoot: 'apps/api', dockerfileDir: 'apps/api/docker', sources: ['conf/app.conf'], exists: tree(['apps/api/docker/conf/app.conf']) }).context
    ).toBe('apps/api/docker');
    // Sources found at the root (or in the project folder) as often keep the old choice.
    expect(inferContext({ projectRoot: '.', dockerfileDir: 'gateway', sources: ['package.json'], exists: tree(['package.json']) }).context).toBe('.');
    expect(
      inferContext({ projectRoot: 'apps/api', dockerfileDir: 'apps/api/docker', sources: ['src'], exists: tree(['apps/api/src', 'apps/api/docker/src']) }).context
    ).toBe('apps/api');
  });
  it('workspace root for build output copied by its workspace path, even before it is built', () => {
    expect(inferContext({ projectRoot: 'apps/api', sources: ['dist/apps/api'], exists: tree([]) }).context).toBe('.');
  });
  it('the project folder when a source exists there', () => {
    expect(
      inferContext({ projectRoot: 'apps/api', sources: ['package.json', 'src'], exists: tree(['package.json', 'apps/api/package.json', 'apps/api/src']) })
    ).toEqual({ context: 'apps/api', reason: 'its COPY sources (package.json, src) are in apps/api' });
  });
  it('workspace root when most sources are there, though the project has its own package.json (TS-solution)', () => {
    expect(
      inferContext({
        projectRoot: 'apps/api',
        sources: ['package.json', 'package-lock.json', 'nx.json', 'apps', 'libs'],
        exists: tree(['package.json', 'package-lock.json', 'nx.json', 'apps', 'libs', 'apps/api/package.json']),
      }).context
    ).toBe('.');
  });
  it("the project folder for a project-local dist that is not built yet (TS-solution layout)", () => {
    expect(inferContext({ projectRoot: 'packages/api', sources: ['dist/main.js', 'package.json'], exists: tree(['package.json', 'packages/api/package.json']) }).context).toBe(
      'packages/api'
    );
  });

  it('the project folder when nothing tells (nothing copied, or only wildcards)', () => {
    expect(inferContext({ projectRoot: 'apps/api', sources: [], exists: tree([]) }).context).toBe('apps/api');
    expect(inferContext({ projectRoot: 'apps/api', sources: ['*.json', '$DIR'], exists: () => true }).context).toBe('apps/api');
    expect(inferContext({ projectRoot: 'apps/api', sources: ['main.txt'], exists: tree([]) }).context).toBe('apps/api');
  });
  it('the directive wins', () => {
    expect(inferContext({ projectRoot: 'apps/api', directive: '.', sources: ['src'], exists: () => true })).toEqual({
      context: '.',
      reason: "the Dockerfile's `# nx-docker-delta: context=.` line",
    });
    expect(inferContext({ projectRoot: 'apps/api', directive: 'pruned', sources: [], exists: () => true }).context).toBe('pruned');
    expect(inferContext({ projectRoot: 'apps/api', directive: './apps/', sources: [], exists: () => true }).context).toBe('apps');
  });
  it('probes at most 8 sources', () => {
    const probes: string[] = [];
    inferContext({ projectRoot: 'a', sources: Array.from({ length: 30 }, (_, i) => `f${i}`), exists: (p) => (probes.push(p), false) });
    expect(probes.length).toBeLessThanOrEqual(16);
  });
});

describe('templateArgs', () => {
  it('names build args a COPY source needs and nothing gives a default', () => {
    expect(templateArgs('FROM node\nARG APP_NAME\nCOPY apps/${APP_NAME}/package.json ./\nCOPY apps/$APP_NAME ./app\n')).toEqual(['APP_NAME']);
    expect(templateArgs('ARG APP_NAME\nFROM node\nARG APP_NAME=api\nCOPY apps/${APP_NAME} ./\n')).toEqual([]);
    expect(templateArgs('FROM node\nARG NODE_ENV\nENV NODE_ENV=$NODE_ENV\nCOPY dist ./\n')).toEqual([]);
    expect(templateArgs('FROM node\nARG APP\nCOPY --from=build /out/${APP} ./\n')).toEqual([]);
    expect(templateArgs('FROM node\nARG APP\nCOPY ${APPLICATION}/x ./\n')).toEqual([]);
  });
});

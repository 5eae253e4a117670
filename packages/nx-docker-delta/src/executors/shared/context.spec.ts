import type { ExecutorContext } from '@nx/devkit';
import { peerServices } from './context';

/** An executor context of a run-many over docker-service of a, b, c (and a build task). */
function contextOf(own: string): ExecutorContext {
  const service = (dockerfile: string, extra: Record<string, unknown> = {}) => ({ executor: 'nx-docker-delta:service', options: { dockerfile, ...extra } });
  const task = (project: string, target: string, overrides: Record<string, unknown> = {}) => ({
    id: `${project}:${target}`,
    target: { project, target },
    overrides,
    outputs: [],
    parallelism: true,
  });
  return {
    root: '/ws',
    cwd: '/ws',
    isVerbose: false,
    projectName: own,
    targetName: 'docker-service',
    projectsConfigurations: {
      version: 2,
      projects: {
        a: { root: 'apps/a', targets: { 'docker-service': service('apps/a/Dockerfile'), build: { executor: 'nx:run-commands' } } },
        b: { root: 'apps/b', targets: { 'docker-service': service('apps/b/Dockerfile', { tags: ['bad tag!'] }) } },
        c: { root: 'apps/c', targets: { 'docker-service': service('apps/c/Dockerfile') } },
        d: { root: 'apps/d', targets: { 'docker-service': service('apps/d/Dockerfile') } },
      },
    },
    taskGraph: {
      roots: [],
      dependencies: {},
      continuousDependencies: {},
      tasks: Object.fromEntries(
        [task('a', 'build'), task('a', 'docker-service', { push: false, __overrides_unparsed__: ['--push=false'] }), task('b', 'docker-service'), task('c', 'docker-service'), task('d', 'docker-service')].map((t) => [t.id, t])
      ),
    },
  } as unknown as ExecutorContext;
}

describe('peerServices', () => {
  it('lists the other docker-service tasks of the run, later ones first, with their own options', () => {
    const peers = peerServices(contextOf('c'), {});
    // b's options do not resolve (an invalid tag): its own task reports that, it is no peer.
    expect(peers.map((p) => p.project)).toEqual(['d', 'a']);
    expect(peers[1]).toMatchObject({ projectRoot: 'apps/a', options: { dockerfile: 'apps/a/Dockerfile', push: false } });
    expect(peers[1].options).not.toHaveProperty('__overrides_unparsed__');
    expect(peers[1].settings.push).toBe(false);
  });
});

import type { ProjectGraph } from '@nx/devkit';
import { PruneCacheInputs, pruneCacheKey, reachable } from './prune-cache';

/** a → shared → npm:ms; b → npm:debug; shared's file imports ms. */
function graph(): ProjectGraph {
  const project = (name: string, root: string) => ({ name, type: 'lib' as const, data: { root, targets: {} } });
  return {
    nodes: { a: project('a', 'apps/a'), b: project('b', 'apps/b'), shared: project('shared', 'libs/shared') },
    externalNodes: {
      'npm:ms': { name: 'npm:ms', type: 'npm', data: { packageName: 'ms', version: '2.1.3', hash: 'h-ms' } },
      'npm:debug': { name: 'npm:debug', type: 'npm', data: { packageName: 'debug', version: '4.3.7', hash: 'h-debug' } },
    },
    dependencies: {
      a: [{ source: 'a', target: 'shared', type: 'static' }],
      shared: [{ source: 'shared', target: 'npm:ms', type: 'static' }],
      b: [{ source: 'b', target: 'npm:debug', type: 'static' }],
      'npm:ms': [],
      'npm:debug': [],
    },
  } as ProjectGraph;
}

function inputs(change: (i: PruneCacheInputs) => void = () => undefined): PruneCacheInputs {
  const i: PruneCacheInputs = {
    code: '1.0.0|100|1',
    nxVersion: '{"version":"23.2.1"}',
    options: { loadedPackages: [] },
    rootFiles: { 'package.json': 'p1', 'package-lock.json': 'l1', 'nx.json': 'n1', 'pnpm-lock.yaml': undefined },
    graph: graph(),
    projectName: 'a',
    projectFileMap: {
      a: [{ file: 'apps/a/src/main.ts', deps: ['shared'] }],
      shared: [{ file: 'libs/shared/src/index.ts', deps: ['npm:ms'] }],
      b: [{ file: 'apps/b/src/main.ts', deps: ['npm:debug'] }],
    },
    manifestOf: (root) => (root === 'apps/a' ? '{"name":"a"}' : undefined),
  };
  change(i);
  return i;
}

describe('pruneCacheKey', () => {
  const key = pruneCacheKey(inputs());

  it('follows the graph from the service: its libraries and their packages, nothing else', () => {
    expect(reachable(graph(), 'a')).toEqual(['a', 'npm:ms', 'shared']);
  });

  it('stays the same for what pruning does not read: file hashes, projects the service does not reach', () => {
    expect(pruneCacheKey(inputs())).toBe(key);
    expect(pruneCacheKey(inputs((i) => (i.projectFileMap!.b = [{ file: 'apps/b/src/main.ts', deps: ['npm:debug', 'npm:ms'] }])))).toBe(key);
    expect(pruneCacheKey(inputs((i) => (i.graph.nodes.b.data.tags = ['x'])))).toBe(key);
    expect(pruneCacheKey(inputs((i) => (i.projectFileMap!.a = [{ file: 'apps/a/src/main.ts', deps: ['shared'], hash: 'edited' } as never])))).toBe(key);
  });

  it.each<[string, (i: PruneCacheInputs) => void]>([
    ['the root lockfile', (i) => (i.rootFiles['package-lock.json'] = 'l2')],
    ['the root package.json', (i) => (i.rootFiles['package.json'] = 'p2')],
    ['nx.json (cli.packageManager, named inputs)', (i) => (i.rootFiles['nx.json'] = 'n2')],
    ['a lockfile appearing', (i) => (i.rootFiles['pnpm-lock.yaml'] = 'y1')],
    ['the Nx version', (i) => (i.nxVersion = '{"version":"23.3.0"}')],
    ["the plugin's code", (i) => (i.code = '1.0.1|100|1')],
    ['the options (what the build output loads)', (i) => (i.options = { loadedPackages: [{ file: 'main.js', packages: ['debug'] }] })],
    ['a file of a reached library importing another package', (i) => (i.projectFileMap!.shared = [{ file: 'libs/shared/src/index.ts', deps: ['npm:ms', 'npm:debug'] }])],
    ['a new file in the service', (i) => i.projectFileMap!.a.push({ file: 'apps/a/src/extra.ts', deps: [] })],
    ['an edge of the graph', (i) => i.graph.dependencies.a.push({ source: 'a', target: 'npm:debug', type: 'static' })],
    ['the version of a reached package', (i) => (i.graph.externalNodes!['npm:ms'].data.version = '2.1.2')],
    ["a reached project's configuration", (i) => (i.graph.nodes.shared.data.targets = { build: { executor: 'x' } })],
    ["a reached project's package.json", (i) => (i.manifestOf = (root) => (root === 'apps/a' ? '{"name":"a","version":"2"}' : undefined))],
    ['the file map missing', (i) => (i.projectFileMap = undefined)],
  ])('changes with %s', (_, change) => {
    expect(pruneCacheKey(inputs(change))).not.toBe(key);
  });
});

import type { CreateNodesContextV2, CreateNodesResult } from '@nx/devkit';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cachedDependencies, cachedInference, hashArray, inferenceKey, workspaceDataDirectory } from './inference-cache';
import { createNodesV2 } from './plugin';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nxdd-inference-cache-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function write(files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

const SERVICE = ['ARG BASE_IMAGE=workspace-base', 'FROM ${BASE_IMAGE}', 'COPY dist ./dist', ''].join('\n');
const BASE = ['FROM nxdd-test/node:20', 'WORKDIR /app', 'COPY package.json ./', ''].join('\n');

/** Calls `cachedInference` the way the plugin does and counts how often the real work ran. */
function counted(files: string[], options: unknown = {}) {
  let calls = 0;
  const value = cachedInference(
    () => {
      calls += 1;
      return files.map((f) => [f, { projects: { [dirname(f)]: { targets: { t: { command: `echo ${calls}` } } } } }] as const);
    },
    { files, workspaceRoot: root, options }
  );
  return { calls, value };
}

describe('workspaceDataDirectory', () => {
  it.each([
    [{}, '.nx/workspace-data'],
    [{ NX_WORKSPACE_DATA_DIRECTORY: 'custom/data' }, 'custom/data'],
    [{ NX_PROJECT_GRAPH_CACHE_DIRECTORY: 'old-name' }, 'old-name'],
    [{ NX_WORKSPACE_DATA_DIRECTORY: '/abs/data' }, '/abs/data'],
  ])('%j → %s (as Nx resolves it)', (env, expected) => {
    const dir = workspaceDataDirectory('/ws', env as NodeJS.ProcessEnv);
    expect(dir).toBe(expected.startsWith('/') ? expected : join('/ws', expected));
  });
});

describe('cachedInference', () => {
  it('infers once, then answers from .nx/workspace-data until an input changes', () => {
    write({ 'a/project.json': '{}', 'a/Dockerfile': SERVICE });
    expect(counted(['a/Dockerfile']).calls).toBe(1);
    expect(readdirSync(join(root, '.nx/workspace-data')).filter((f) => f.startsWith('nx-docker-delta-nodes-'))).toHaveLength(1);
    const second = counted(['a/Dockerfile']);
    expect(second.calls).toBe(0);
    expect(second.value).toEqual([['a/Dockerfile', { projects: { a: { targets: { t: { command: 'echo 1' } } } } }]]);
  });

  it.each([
    ['a Dockerfile changes', () => write({ 'a/Dockerfile': SERVICE + 'CMD ["node"]\n' }), ['a/Dockerfile']],
    ['a Dockerfile is added', () => write({ 'b/project.json': '{}', 'b/Dockerfile': SERVICE }), ['a/Dockerfile', 'b/Dockerfile']],
    ['a folder becomes a project (project.json appears)', () => write({ 'a/sub/project.json': '{}' }), ['a/sub/Dockerfile']],
  ])('infers again when %s', (_what, change, filesAfter) => {
    write({ 'a/project.json': '{}', 'a/Dockerfile': SERVICE, 'a/sub/Dockerfile': SERVICE });
    counted(filesAfter[0] === 'a/sub/Dockerfile' ? ['a/sub/Dockerfile'] : ['a/Dockerfile']);
    change();
    expect(counted(filesAfter).calls).toBe(1);
  });

  it('keeps one cache file per plugin configuration (options), as Nx plugins do', () => {
    write({ 'a/project.json': '{}', 'a/Dockerfile': SERVICE });
    counted(['a/Dockerfile'], { imagePrefix: 'x/' });
    counted(['a/Dockerfile'], { imagePrefix: 'y/' });
    expect(counted(['a/Dockerfile'], { imagePrefix: 'x/' }).calls).toBe(0);
    expect(readdirSync(join(root, '.nx/workspace-data')).filter((f) => f.startsWith('nx-docker-delta-nodes-'))).toHaveLength(2);
  });

  it('a corrupt cache file is a miss, then rewritten', () => {
    write({ 'a/project.json': '{}', 'a/Dockerfile': SERVICE });
    counted(['a/Dockerfile']);
    const [file] = readdirSync(join(root, '.nx/workspace-data'));
    writeFileSync(join(root, '.nx/workspace-data', file), '{ not json');
    expect(counted(['a/Dockerfile']).calls).toBe(1);
    expect(counted(['a/Dockerfile']).calls).toBe(0);
  });

  it('follows NX_WORKSPACE_DATA_DIRECTORY', () => {
    const before = process.env.NX_WORKSPACE_DATA_DIRECTORY;
    process.env.NX_WORKSPACE_DATA_DIRECTORY = 'elsewhere';
    try {
      write({ 'a/project.json': '{}', 'a/Dockerfile': SERVICE });
      counted(['a/Dockerfile']);
      expect(existsSync(join(root, 'elsewhere'))).toBe(true);
      expect(existsSync(join(root, '.nx/workspace-data'))).toBe(false);
    } finally {
      if (before === undefined) delete process.env.NX_WORKSPACE_DATA_DIRECTORY;
      else process.env.NX_WORKSPACE_DATA_DIRECTORY = before;
    }
  });
});

describe('createNodes through the cache', () => {
  const context = (): CreateNodesContextV2 => ({ workspaceRoot: root, nxJsonConfiguration: { namedInputs: { default: ['{projectRoot}/**/*'] } } });
  const files = ['base/Dockerfile.base', 'svc/Dockerfile'];
  const infer = () => createNodesV2[1](files, {}, context()) as Array<readonly [string, CreateNodesResult]>;

  it('a cached answer equals a fresh one, and a changed service Dockerfile is seen', () => {
    write({ 'package.json': '{"name":"ws"}', 'base/project.json': '{}', 'base/Dockerfile.base': BASE, 'svc/project.json': '{}', 'svc/Dockerfile': SERVICE });
    const fresh = infer();
    const cached = infer();
    expect(JSON.parse(JSON.stringify(cached))).toEqual(JSON.parse(JSON.stringify(fresh)));
    rmSync(join(root, '.nx'), { recursive: true });
    // Standalone now (no ARG BASE_IMAGE): the service no longer depends on the base.
    write({ 'svc/Dockerfile': 'FROM nxdd-test/node:20\nCOPY dist ./dist\n' });
    const standaloneFresh = JSON.stringify(infer());
    write({ 'svc/Dockerfile': SERVICE });
    expect(JSON.stringify(infer())).toBe(JSON.stringify(fresh));
    write({ 'svc/Dockerfile': 'FROM nxdd-test/node:20\nCOPY dist ./dist\n' });
    expect(JSON.stringify(infer())).toBe(standaloneFresh);
    expect(standaloneFresh).not.toBe(JSON.stringify(fresh));
  });

  it('a cached answer is not used once a path inference probed appears (the inferred context moves)', () => {
    // Written for the workspace root: its COPY sources exist there, not in the project folder.
    const rootContext = 'FROM nxdd-test/node:20\nCOPY package-lock.json ./\nCOPY apps/api/src ./\n';
    write({ 'package.json': '{"name":"ws"}', 'package-lock.json': '{}', 'apps/api/project.json': '{}', 'apps/api/src/main.js': '', 'apps/api/Dockerfile': rootContext });
    const run = () => createNodesV2[1](['apps/api/Dockerfile'], {}, context()) as Array<readonly [string, CreateNodesResult]>;
    const contextOf = (result: Array<readonly [string, CreateNodesResult]>) =>
      (result[0][1].projects?.['apps/api']?.targets?.['docker-service']?.options as { context?: string }).context;
    expect(contextOf(run())).toBe('.');
    expect(contextOf(run())).toBe('.');
    // The same Dockerfile, but now the project folder holds what it copies: no stale answer.
    rmSync(join(root, 'package-lock.json'));
    write({ 'apps/api/package-lock.json': '{}', 'apps/api/apps/api/src/main.js': '' });
    const cachedAfter = contextOf(run());
    const fresh = contextOf(createNodesUncached());
    expect(fresh).not.toBe('.');
    expect(cachedAfter).toBe(fresh);
  });
});

/** What inference answers with the cache file removed. */
function createNodesUncached() {
  rmSync(join(root, '.nx'), { recursive: true, force: true });
  return createNodesV2[1](['apps/api/Dockerfile'], {}, { workspaceRoot: root, nxJsonConfiguration: {} }) as Array<readonly [string, CreateNodesResult]>;
}

describe('cachedDependencies', () => {
  const ctx = (hash: string) => ({
    workspaceRoot: root,
    projects: { svc: { targets: { 'docker-service': { executor: 'nx-docker-delta:service', options: { dockerfile: 'svc/Dockerfile' } }, build: { executor: 'other' } } } },
    fileMap: { projectFileMap: { svc: [{ file: 'svc/Dockerfile', hash }] } },
  });
  const run = (hash: string) => {
    let calls = 0;
    const value = cachedDependencies(() => [{ source: 'svc', target: `base-${++calls}` }], { options: {}, context: ctx(hash), executors: ['nx-docker-delta:service'] });
    return { calls, value };
  };

  it('reuses the edges while the Dockerfile hashes Nx hands over stay the same', () => {
    expect(run('h1')).toEqual({ calls: 1, value: [{ source: 'svc', target: 'base-1' }] });
    expect(run('h1')).toEqual({ calls: 0, value: [{ source: 'svc', target: 'base-1' }] });
    expect(run('h2').calls).toBe(1);
  });
});

describe('hashArray', () => {
  it('separates its elements (["ab","c"] ≠ ["a","bc"])', () => {
    expect(hashArray(['ab', 'c'])).not.toBe(hashArray(['a', 'bc']));
    expect(hashArray(['a', 'b'])).toBe(hashArray(['a', 'b']));
  });
});

describe('inferenceKey', () => {
  const key = (files: Record<string, string>) => {
    write(files);
    return inferenceKey({ files: Object.keys(files), workspaceRoot: root, extra: [] });
  };

  it('tells contents apart even when a separator moves from one file to the next', () => {
    const first = key({ 'a/Dockerfile': 'x\0', 'b/Dockerfile': 'y' });
    expect(key({ 'a/Dockerfile': 'x', 'b/Dockerfile': '\0y' })).not.toBe(first);
    expect(key({ 'a/Dockerfile': 'x\0', 'b/Dockerfile': 'y' })).toBe(first);
  });

  it('changes when a project marker appears in a folder above a Dockerfile', () => {
    const before = key({ 'apps/api/Dockerfile': 'FROM scratch\n' });
    write({ 'apps/api/project.json': '{}' });
    expect(key({ 'apps/api/Dockerfile': 'FROM scratch\n' })).not.toBe(before);
  });
});

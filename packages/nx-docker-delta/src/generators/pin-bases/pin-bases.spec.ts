import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import type { UpstreamPin } from '../../planning/upstream-pins';
import { pinDockerfiles, workspaceDockerfiles } from './pin-bases';

const D1 = `sha256:${'a'.repeat(64)}`;

describe('pin-bases generator', () => {
  it('finds Dockerfiles outside node_modules and generator templates, and pins each name once', async () => {
    const tree = createTreeWithEmptyWorkspace();
    tree.write('docker/workspace-base/Dockerfile.base', 'ARG NODE_IMAGE=node:20-alpine\nFROM ${NODE_IMAGE}\n');
    tree.write('apps/api/Dockerfile', 'ARG BASE_IMAGE=workspace-base\nARG RUNTIME_IMAGE=node:20-alpine\nFROM ${BASE_IMAGE} AS build\nFROM ${RUNTIME_IMAGE}\n');
    tree.write('apps/api/Dockerfile.dockerignore', 'node_modules\n');
    tree.write('node_modules/x/Dockerfile', 'FROM node:18\n');
    tree.write('tools/gen/files/Dockerfile', 'FROM node:18\n');
    const files = workspaceDockerfiles(tree);
    expect(files).toEqual(['apps/api/Dockerfile', 'docker/workspace-base/Dockerfile.base']);

    const asked: string[] = [];
    const resolve = async (name: string): Promise<UpstreamPin> => (asked.push(name), { source: 'registry', digest: D1 });
    const moved = await pinDockerfiles(tree, files, resolve);
    expect(asked).toEqual(['node:20-alpine']);
    expect(moved.map((m) => m.file)).toEqual(files);
    expect(tree.read('docker/workspace-base/Dockerfile.base', 'utf-8')).toBe(`ARG NODE_IMAGE=node:20-alpine@${D1}\nFROM \${NODE_IMAGE}\n`);
    expect(await pinDockerfiles(tree, files, resolve)).toEqual([]);
  });
});

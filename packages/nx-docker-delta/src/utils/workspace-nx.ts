import { readFileSync } from 'node:fs';

const nxVersions = new Map<string, string | undefined>();

/** The workspace's own nx (not one nested under this plugin), read once per process. */
export function workspaceNxVersion(workspaceRoot: string): string | undefined {
  if (!nxVersions.has(workspaceRoot)) {
    let version: string | undefined;
    try {
      const manifest = require.resolve('nx/package.json', { paths: [workspaceRoot] });
      version = JSON.parse(readFileSync(manifest, 'utf8')).version;
    } catch {
      version = undefined;
    }
    nxVersions.set(workspaceRoot, version);
  }
  return nxVersions.get(workspaceRoot);
}

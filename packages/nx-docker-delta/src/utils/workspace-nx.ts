import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const nxVersions = new Map<string, string | undefined>();

/** The workspace's own nx (not one nested under this plugin), read once per process. */
export function workspaceNxVersion(workspaceRoot: string): string | undefined {
  if (!nxVersions.has(workspaceRoot)) {
    const versionIn = (manifest: string): string | undefined => JSON.parse(readFileSync(manifest, 'utf8')).version;
    let version: string | undefined;
    try {
      // The usual place first: resolving through Node's lookup paths costs a plugin worker ~10 ms.
      version = versionIn(join(workspaceRoot, 'node_modules', 'nx', 'package.json'));
    } catch {
      try {
        version = versionIn(require.resolve('nx/package.json', { paths: [workspaceRoot] }));
      } catch {
        version = undefined;
      }
    }
    nxVersions.set(workspaceRoot, version);
  }
  return nxVersions.get(workspaceRoot);
}

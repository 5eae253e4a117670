import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const nxVersions = new Map<string, string | undefined>();

/** The workspace's own nx (not one nested under this plugin), read once per process. */
export function workspaceNxVersion(workspaceRoot: string): string | undefined {
  if (!nxVersions.has(workspaceRoot)) {
    let version: string | undefined;
    // The usual place first: resolving through Node's lookup paths costs a plugin worker ~10 ms.
    for (const manifest of [join(workspaceRoot, 'node_modules', 'nx', 'package.json'), () => require.resolve('nx/package.json', { paths: [workspaceRoot] })]) {
      try {
        version = JSON.parse(readFileSync(typeof manifest === 'string' ? manifest : manifest(), 'utf8')).version;
        break;
      } catch {
        version = undefined;
      }
    }
    nxVersions.set(workspaceRoot, version);
  }
  return nxVersions.get(workspaceRoot);
}

import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/**
 * Where Nx keeps per-workspace data (its project graph cache, its plugins' caches), resolved the
 * way Nx 21–24 do: `NX_WORKSPACE_DATA_DIRECTORY`, the older `NX_PROJECT_GRAPH_CACHE_DIRECTORY`,
 * else `.nx/workspace-data` (lerna-only workspaces: `node_modules/.cache/nx-workspace-data`).
 * Here, not from `nx`: inference must not load Nx modules (see plugins/plugin.ts).
 */
export function workspaceDataDirectory(workspaceRoot: string, env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.NX_WORKSPACE_DATA_DIRECTORY || env.NX_PROJECT_GRAPH_CACHE_DIRECTORY;
  if (configured) return isAbsolute(configured) ? configured : join(workspaceRoot, configured);
  if (existsSync(join(workspaceRoot, 'lerna.json')) && !existsSync(join(workspaceRoot, 'nx.json'))) {
    return join(workspaceRoot, 'node_modules', '.cache', 'nx-workspace-data');
  }
  return join(workspaceRoot, '.nx', 'workspace-data');
}

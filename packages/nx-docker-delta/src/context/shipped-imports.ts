/**
 * The I/O side of "never a silently broken image": what decides whether Nx's graph saw the
 * project's imports, and which packages the staged build output loads. The decisions are pure,
 * in planning/module-specifiers.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { importAnalysisGap, isShippedScript, packageRequests } from '../planning/module-specifiers';

const BUILTINS: ReadonlySet<string> = new Set(builtinModules);

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Why Nx's graph holds no source imports in this workspace (one clause with the fix), or undefined. */
export function readImportAnalysisGap(workspaceRoot: string): string | undefined {
  const nxJson = readJson(join(workspaceRoot, 'nx.json')) as { pluginsConfig?: Record<string, unknown> } | undefined;
  const rootManifest = readJson(join(workspaceRoot, 'package.json')) ?? {};
  return importAnalysisGap({
    jsPluginConfig: nxJson?.pluginsConfig?.['@nx/js'] as { analyzeSourceFiles?: boolean } | undefined,
    rootDependencies: new Set(
      Object.keys({ ...((rootManifest.dependencies as object) ?? {}), ...((rootManifest.devDependencies as object) ?? {}) })
    ),
    typescriptInstalled: typescriptVisibleToNx(workspaceRoot),
  });
}

/** Whether `typescript` resolves from where the workspace's `nx` lives — the place Nx itself looks. */
function typescriptVisibleToNx(workspaceRoot: string): boolean {
  let from: string[] | undefined;
  try {
    from = [dirname(require.resolve('nx/package.json', { paths: [workspaceRoot] }))];
  } catch {
    // No nx under the workspace root: the Nx running this executor is the one loaded beside the plugin.
    from = undefined;
  }
  try {
    require.resolve('typescript', from ? { paths: from } : undefined);
    return true;
  } catch {
    return false;
  }
}

/** The packages each shipped script among `files` (context-relative path → bytes) loads. */
export function loadedPackages(files: ReadonlyMap<string, { content: Buffer }>): Array<{ file: string; packages: string[] }> {
  const out: Array<{ file: string; packages: string[] }> = [];
  for (const [file, entry] of files) {
    if (!isShippedScript(file)) continue;
    const packages = packageRequests(entry.content.toString('utf8'), BUILTINS).map((r) => r.packageName);
    if (packages.length) out.push({ file, packages });
  }
  return out;
}

import { run } from './process';

export interface GitInfo {
  sha?: string;
  remote?: string;
}

const cache = new Map<string, Promise<GitInfo>>();

/** HEAD commit and origin URL of the workspace (for OCI labels and `{sha}` tags); empty outside git. */
export function readGitInfo(workspaceRoot: string): Promise<GitInfo> {
  let info = cache.get(workspaceRoot);
  if (!info) {
    info = (async () => {
      // Both at once: each is a git start-up on the critical path of every task process.
      const [sha, remote] = await Promise.all([
        run('git', ['rev-parse', 'HEAD'], { cwd: workspaceRoot }).catch(() => undefined),
        run('git', ['config', '--get', 'remote.origin.url'], { cwd: workspaceRoot }).catch(() => undefined),
      ]);
      return {
        sha: sha?.code === 0 ? sha.stdout.trim() || undefined : undefined,
        remote: remote?.code === 0 ? remote.stdout.trim() || undefined : undefined,
      };
    })();
    cache.set(workspaceRoot, info);
  }
  return info;
}

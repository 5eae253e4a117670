import { spawnSync } from 'node:child_process';
import { posix } from 'node:path';
import { logger, type Tree } from '@nx/devkit';

/**
 * Which of `paths` the workspace's git ignore rules exclude, with the rule (`source:line:pattern`
 * from `git check-ignore -v`). Nx never sees an ignored file, so a Dockerfile.base or Dockerfile
 * written there infers nothing. Outside a git repository (or without git) nothing is reported.
 */
export function gitIgnored(root: string, paths: readonly string[]): Array<{ path: string; rule: string }> {
  if (!paths.length) return [];
  const r = spawnSync('git', ['check-ignore', '-v', '--no-index', '--', ...paths], { cwd: root, encoding: 'utf8' });
  if (r.error || (r.status !== 0 && r.status !== 1)) return [];
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      const tab = line.indexOf('\t');
      return tab > 0 ? [{ rule: line.slice(0, tab), path: line.slice(tab + 1) }] : [];
    });
}

/** One warning per written file the workspace's git ignore rules hide from Nx, naming the rule and the fix. */
export function warnIfGitIgnored(tree: Tree, paths: readonly string[]): void {
  for (const { path, rule } of gitIgnored(tree.root, paths)) {
    // `<source>:<line>:<pattern>`; the source may hold a colon itself (C:/… on Windows).
    const [, source, line, pattern] = /^(.*):(\d+):(.*)$/.exec(rule) ?? [rule, rule, '?', '?'];
    logger.warn(
      `nx-docker-delta: ${path} is ignored by ${source}:${line} (\`${pattern}\`), so Nx does not see it and infers no target from it — add \`!${posix.basename(path)}\` on a line after that one (or narrow the pattern).`
    );
  }
}

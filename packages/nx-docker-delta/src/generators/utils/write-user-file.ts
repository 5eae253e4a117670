import { logger, type Tree } from '@nx/devkit';
import { warnIfGitIgnored } from './git-ignored';

/**
 * Writes a file the user will own afterwards: creates it, leaves an identical
 * one alone, and replaces a different one only with `force` (otherwise says
 * how to). Returns what happened.
 */
export function writeUserFile(
  tree: Tree,
  path: string,
  content: string,
  o: { force?: boolean }
): 'created' | 'unchanged' | 'kept' | 'overwritten' {
  if (!tree.exists(path)) {
    tree.write(path, content);
    warnIfGitIgnored(tree, [path]);
    return 'created';
  }
  if (tree.read(path, 'utf-8') === content) return 'unchanged';
  if (!o.force) {
    logger.warn(`nx-docker-delta: kept your ${path} — rerun with --force to replace it with the generated one.`);
    return 'kept';
  }
  tree.write(path, content);
  warnIfGitIgnored(tree, [path]);
  return 'overwritten';
}

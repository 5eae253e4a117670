import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const identities = new Map<string, string>();

/**
 * What identifies a compiled module of this plugin: the package version and the module's stat,
 * so a rebuilt plugin (a local plugin, or a new version installed over the old one) never reads
 * what an older build cached. Read once per module and process: the code does not change while
 * the process lives.
 */
export function codeIdentity(moduleFile: string): string {
  let identity = identities.get(moduleFile);
  if (identity === undefined) {
    let version = '';
    try {
      version = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).version ?? '';
    } catch {
      /* not installed as a package (tests): the module stat below still tells builds apart */
    }
    const stat = statSync(moduleFile, { throwIfNoEntry: false });
    identity = `${version}|${stat?.size ?? 0}|${stat?.mtimeMs ?? 0}`;
    identities.set(moduleFile, identity);
  }
  return identity;
}

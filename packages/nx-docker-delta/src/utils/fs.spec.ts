import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileDigestMemo, hashContextSources } from './fs';

/** A context folder with files old enough to be remembered (not "racy": written over 2 s ago). */
function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nxdd-digests-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

describe('hashContextSources with a digest memo', () => {
  it('gives the same digests as without one, and remembers them for the next process', () => {
    const dir = context({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const memoFile = join(dir, '..', `${dir.split('/').pop()}-memo.json`);
    const plain = hashContextSources(dir, ['a.txt', 'b.txt']);
    const first = fileDigestMemo(memoFile);
    expect(hashContextSources(dir, ['a.txt', 'b.txt'], { digests: first })).toEqual(plain);
    first.save();
    // Files written just now are "racy": hashed, never remembered.
    expect(fileDigestMemo(memoFile).get(join(dir, 'a.txt'), 'x')).toBeUndefined();
  });

  it('never returns a stale digest: a rewrite changes the stat identity', async () => {
    const dir = context({ 'a.txt': 'one\n' });
    const memoFile = join(dir, 'memo.json');
    // Settled: ctime cannot be set back, so wait past the racy window once.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const memo = fileDigestMemo(memoFile);
    const before = hashContextSources(dir, ['a.txt'], { digests: memo });
    memo.save();
    const reread = fileDigestMemo(memoFile);
    let reads = 0;
    const counting = { get: (abs: string, stat: string) => reread.get(abs, stat), set: (abs: string, stat: string, sha: string) => (reads++, reread.set(abs, stat, sha)) };
    expect(hashContextSources(dir, ['a.txt'], { digests: counting })).toEqual(before);
    expect(reads).toBe(0);
    // Same size, same mtime forced back: ctime still moves, so the memo misses and the new bytes count.
    writeFileSync(join(dir, 'a.txt'), 'two\n');
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'a.txt'), old, old);
    const after = hashContextSources(dir, ['a.txt'], { digests: reread });
    expect(after[0].sha256).not.toBe(before[0].sha256);
    expect(after).toEqual(hashContextSources(dir, ['a.txt']));
  });
});

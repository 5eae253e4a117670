import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Cross-process lock (a directory, created atomically) so that parallel Nx tasks that all need
 * the same missing base build it once: the first builds, the others wait and then find it.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 60 * 60_000): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const started = Date.now();
  let polls = 0;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (isStale(path)) {
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started > timeoutMs) {
        throw new Error(`Waited ${Math.round(timeoutMs / 60000)} min for lock ${path} — delete it if no build is running.`);
      }
      // Short waits first (an image inspect or a receipt write), then every 250 ms (a build).
      await new Promise((r) => setTimeout(r, Math.min(250, 20 * 2 ** Math.min(polls++, 4))));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}

function isStale(path: string): boolean {
  try {
    const pid = Number(readFileSync(join(path, 'pid'), 'utf8'));
    if (!pid) return false;
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // ESRCH: the holder is gone. ENOENT: the pid file is not written yet — not stale.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';

/** Who holds a lock: enough to tell a live holder from a dead one whose pid was reused. */
interface Owner {
  pid: number;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22); '' where unknown. */
  start: string;
  /** Boot id: a pid and start time from before a reboot mean nothing. */
  boot: string;
  host: string;
  token: string;
}

export interface LockOptions {
  /** Give up after this long. Default one hour. */
  timeoutMs?: number;
  /** A holder that has not renewed its lease for this long is gone (other hosts, unknown pids). Default 60 s. */
  leaseMs?: number;
  /** Called once when the lock is busy, e.g. to say who is waiting for what. */
  onWait?: () => void;
  /**
   * Other work to do instead of sleeping while the lock is busy: called (and awaited) before each
   * wait until it returns false (nothing left to do); the lock is tried again after every call.
   */
  whileWaiting?: () => Promise<boolean>;
}

/**
 * Cross-process lock (a directory renamed into place, so it appears with its owner file or not
 * at all) so that parallel Nx tasks — also of other checkouts on the same machine — that all need
 * the same missing base build it once: the first builds, the others wait and then find it.
 *
 * A holder that died (kill -9, OOM, a closed CI runner) is detected without waiting for a
 * timeout: its pid is gone, or the pid now belongs to another process (different start time or
 * boot), or — where the pid cannot be checked (another host sharing the folder) — it stopped
 * renewing its lease (the owner file's mtime, touched every leaseMs/4).
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const { timeoutMs = 60 * 60_000, leaseMs = 60_000 } = options;
  mkdirSync(dirname(path), { recursive: true });
  const me = { ...currentOwner(), token: randomBytes(8).toString('hex') };
  const started = Date.now();
  let told = false;
  let polls = 0;
  let busyWork = options.whileWaiting;
  for (;;) {
    if (tryAcquire(path, me)) break;
    const holder = readOwner(path);
    if (isStale(path, holder, leaseMs)) {
      breakLock(path, holder);
      continue;
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `Waited ${Math.round(timeoutMs / 60000)} min for lock ${path} (held by pid ${holder?.pid ?? '?'} on ${holder?.host ?? '?'}) — stop that build, or delete the folder if none is running.`
      );
    }
    if (!told) options.onWait?.();
    told = true;
    if (busyWork && (await busyWork())) continue;
    busyWork = undefined;
    // Short waits first (an image inspect or a receipt write), then every 250 ms (a build).
    await new Promise((r) => setTimeout(r, Math.min(250, 20 * 2 ** Math.min(polls++, 4))));
  }
  return holding(path, me, leaseMs, fn);
}

/** Runs `fn` while holding the lock (its lease renewed), then releases it if it is still ours. */
async function holding<T>(path: string, me: Owner, leaseMs: number, fn: () => Promise<T>): Promise<T> {
  const ownerFile = join(path, 'owner.json');
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(ownerFile, now, now);
    } catch {
      /* the lock was broken by someone who judged us dead; the build result is still valid */
    }
  }, Math.max(50, Math.floor(leaseMs / 4)));
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    if (readOwner(path)?.token === me.token) release(path);
  }
}

/**
 * Moves the lock aside in one step, then deletes it. Deleting it in place would empty the folder
 * before removing it, and rename(2) onto an empty folder succeeds: a waiter would take a lock that
 * is being deleted under it (and the delete would fail with ENOTEMPTY).
 */
function release(path: string): void {
  const trash = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.released`;
  try {
    renameSync(path, trash);
  } catch {
    return; // broken by someone who judged us dead: nothing of ours is left to remove
  }
  rmSync(trash, { recursive: true, force: true });
}

/**
 * Runs `fn` under the lock only if it can be taken now (a dead holder's lock is broken first);
 * `{ acquired: false }` while a live process holds it.
 */
export async function tryWithLock<T>(path: string, fn: () => Promise<T>, options: Pick<LockOptions, 'leaseMs'> = {}): Promise<{ acquired: true; value: T } | { acquired: false }> {
  const { leaseMs = 60_000 } = options;
  mkdirSync(dirname(path), { recursive: true });
  const me = { ...currentOwner(), token: randomBytes(8).toString('hex') };
  for (let attempt = 0; attempt < 2; attempt++) {
    if (tryAcquire(path, me)) return { acquired: true, value: await holding(path, me, leaseMs, fn) };
    const holder = readOwner(path);
    if (!isStale(path, holder, leaseMs)) return { acquired: false };
    breakLock(path, holder);
  }
  return { acquired: false };
}

function tryAcquire(path: string, me: Owner): boolean {
  const tmp = `${path}.${process.pid}.${me.token}.tmp`;
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'owner.json'), JSON.stringify(me));
  try {
    // rename(2) of a directory onto an existing non-empty one fails: exactly one process wins.
    renameSync(tmp, path);
    return true;
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'EPERM' || code === 'EISDIR') return false;
    throw error;
  }
}

/**
 * Moves a dead holder's lock aside atomically and deletes it — unless, between our look and the
 * move, a live process took the lock: then it goes back (best effort).
 */
function breakLock(path: string, dead: Owner | undefined): void {
  const trash = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    renameSync(path, trash);
  } catch {
    return; // someone else broke it first
  }
  const moved = readOwner(trash);
  if (dead && moved && moved.token !== dead.token) {
    try {
      renameSync(trash, path);
      return;
    } catch {
      /* a third process holds it now; the one we moved will find its lock gone and carry on */
    }
  }
  rmSync(trash, { recursive: true, force: true });
}

function readOwner(path: string): Owner | undefined {
  try {
    return JSON.parse(readFileSync(join(path, 'owner.json'), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

function isStale(path: string, holder: Owner | undefined, leaseMs: number): boolean {
  let mtime: number;
  try {
    mtime = statSync(holder ? join(path, 'owner.json') : path).mtimeMs;
  } catch {
    return false; // released meanwhile: just try again
  }
  // No owner file: a lock of an older version of this plugin, or a folder someone made by hand.
  if (!holder) return Date.now() - mtime > leaseMs;
  const me = currentOwner();
  if (holder.host === me.host && holder.boot && holder.boot === me.boot) {
    if (!alive(holder.pid)) return true;
    const start = processStart(holder.pid);
    if (start && holder.start) return start !== holder.start;
  } else if (holder.host === me.host && holder.boot && me.boot && holder.boot !== me.boot) {
    return true; // held before a reboot
  }
  return Date.now() - mtime > leaseMs;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let self: Owner | undefined;
function currentOwner(): Owner {
  self ??= {
    pid: process.pid,
    start: processStart(process.pid),
    boot: readText('/proc/sys/kernel/random/boot_id'),
    host: hostname(),
    token: randomBytes(8).toString('hex'),
  };
  return self;
}

function processStart(pid: number): string {
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const stat = readText(`/proc/${pid}/stat`);
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return after[19] ?? '';
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DigestMemo, fileDigestMemo } from '../utils/fs';

/** What a task of this run established about an image: it is in the local store (and pushed, when so). */
export interface SeenImage {
  imageId: string;
  pushed: boolean;
  digest?: string;
}

/**
 * Images already verified by an earlier task of the same `nx` invocation. docker-base checks the
 * base, docker-service builds and inspects the service image; without this, docker-service
 * inspected the base again and docker-build inspected the service image again, each a docker CLI
 * start-up on the critical path of every delta. Entries live in the workspace data directory
 * (never an Nx output, so never restored from a cache or another machine), one file per image
 * (parallel tasks never overwrite each other), and count only for the invocation that wrote them.
 */
export class RunLedger {
  constructor(
    private readonly dir: string,
    readonly invocation: string
  ) {}

  private file(ref: string): string {
    return join(this.dir, `${createHash('sha256').update(ref).digest('hex').slice(0, 32)}.json`);
  }

  get(ref: string): SeenImage | undefined {
    try {
      const entry = JSON.parse(readFileSync(this.file(ref), 'utf8'));
      return entry.invocation === this.invocation && entry.ref === ref && typeof entry.imageId === 'string' ? entry : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * File digests earlier tasks already computed (utils/fs.ts DigestMemo: keyed by stat identity,
   * so never stale, and therefore valid beyond this invocation): the base's inputs are read once,
   * not once per service.
   */
  digestMemo(): DigestMemo & { save(): void } {
    return fileDigestMemo(join(this.dir, 'file-digests.json'));
  }

  /**
   * Leaves word that this task built `ref` for another task of the run (a dependency image
   * built while waiting): the first task that then needs it claims it (`claim`), so exactly one
   * receipt says the image was built in this run.
   */
  offer<T extends object>(ref: string, data: T): void {
    this.write(`${this.file(ref)}.offer`, { ref, invocation: this.invocation, ...data });
  }

  /** What `offer` left for `ref` in this run, taken atomically (a second claim gets nothing). */
  claim<T extends object>(ref: string): T | undefined {
    const offer = `${this.file(ref)}.offer`;
    const taken = `${offer}.${process.pid}.claimed`;
    try {
      renameSync(offer, taken);
    } catch {
      return undefined;
    }
    try {
      const entry = JSON.parse(readFileSync(taken, 'utf8'));
      return entry.invocation === this.invocation && entry.ref === ref ? (entry as T) : undefined;
    } catch {
      return undefined;
    } finally {
      rmSync(taken, { force: true });
    }
  }

  private write(file: string, entry: object): void {
    try {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(entry));
      renameSync(`${file}.${process.pid}.tmp`, file);
    } catch {
      /* unwritable data directory: see the callers */
    }
  }

  record(ref: string, seen: SeenImage): void {
    // Not recorded (unwritable): a later task checks the image itself, as it would without a ledger.
    this.write(this.file(ref), { ref, invocation: this.invocation, ...seen });
  }
}

/**
 * The ledger of the current `nx` invocation, or undefined outside one. Nx 23 gives every task
 * `NX_INVOCATION_ROOT_PID`; Nx 20–22 do not, so there the invocation is the nearest ancestor
 * process that is the nx CLI (a task process is its child; the docker-build command its child or
 * grandchild through a shell). A pid alone is reused over time, so the invocation is the pid plus
 * that process's start time (Linux `/proc`; elsewhere no ledger, and every task checks for itself).
 */
export function runLedgerFor(dataDir: string, env: NodeJS.ProcessEnv, procRoot = '/proc', self = String(process.pid)): RunLedger | undefined {
  const pid = env.NX_INVOCATION_ROOT_PID ?? nxAncestor(procRoot, self);
  if (!pid || !/^\d+$/.test(pid)) return undefined;
  const startTime = statFields(procRoot, pid)?.[19];
  if (!startTime) return undefined;
  return new RunLedger(join(dataDir, 'nx-docker-delta-run'), `${pid}@${startTime}`);
}

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces): [0] state, [1] ppid, [19] starttime. */
function statFields(procRoot: string, pid: string): string[] | undefined {
  try {
    const stat = readFileSync(join(procRoot, pid, 'stat'), 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** argv of the nx CLI: `…/nx/bin/nx.js`, `…/nx/dist/bin/nx.js`, `…/.bin/nx` or `nx`. */
const NX_CLI = /^(?:.*\/)?(?:nx\/(?:dist\/)?bin\/nx\.js|nx)$/;

/** The nearest ancestor of `self` (at most 6 levels up) whose command line runs the nx CLI. */
function nxAncestor(procRoot: string, self: string): string | undefined {
  let pid = statFields(procRoot, self)?.[1];
  for (let depth = 0; pid && pid !== '0' && pid !== '1' && depth < 6; depth++) {
    try {
      const argv = readFileSync(join(procRoot, pid, 'cmdline'), 'utf8').split('\0').filter(Boolean);
      // `node …/nx.js run-many …`: the script, not a task's own argv that merely mentions nx.
      if (argv.slice(0, 2).some((arg) => NX_CLI.test(arg))) return pid;
    } catch {
      return undefined;
    }
    pid = statFields(procRoot, pid)?.[1];
  }
  return undefined;
}

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryWithLock, withLock } from './lock';

const LOCK_MODULE = join(__dirname, 'lock.ts');

/** A real second process that takes the lock and holds it until it is killed. */
function spawnHolder(lock: string) {
  const script = `require(${JSON.stringify(LOCK_MODULE)}).withLock(${JSON.stringify(lock)}, () => { process.stdout.write('held\\n'); setInterval(() => {}, 1000); return new Promise(() => {}); })`;
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
    env: { ...process.env, TS_NODE_COMPILER_OPTIONS: JSON.stringify({ module: 'commonjs', moduleResolution: 'node10', customConditions: null }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const held = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.on('exit', (code) => reject(new Error(`holder exited early (${code})`)));
  });
  return { child, held };
}

describe('withLock', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'nxdd-lock-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs callers one at a time', async () => {
    const lock = join(dir, 'l');
    const order: string[] = [];
    const job = (name: string) =>
      withLock(lock, async () => {
        order.push(`${name}:in`);
        await new Promise((r) => setTimeout(r, 50));
        order.push(`${name}:out`);
      });
    await Promise.all([job('a'), job('b')]);
    expect(order).toEqual(['a:in', 'a:out', 'b:in', 'b:out']);
    expect(existsSync(lock)).toBe(false);
  });

  it('recovers at once when its holder was killed with SIGKILL', async () => {
    const lock = join(dir, 'l');
    const { child, held } = spawnHolder(lock);
    await held;
    expect(JSON.parse(readFileSync(join(lock, 'owner.json'), 'utf8')).pid).toBe(child.pid);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const started = Date.now();
    // A long lease: only the pid check can free it this fast.
    await expect(withLock(lock, async () => 'built', { timeoutMs: 10_000, leaseMs: 600_000 })).resolves.toBe('built');
    expect(Date.now() - started).toBeLessThan(2_000);
  }, 30_000);

  it('waits for a live holder', async () => {
    const lock = join(dir, 'l');
    const { child, held } = spawnHolder(lock);
    await held;
    try {
      await expect(withLock(lock, async () => 'x', { timeoutMs: 600, leaseMs: 600_000 })).rejects.toThrow(
        new RegExp(`held by pid ${child.pid} .* — stop that build, or delete the folder if none is running\\.`)
      );
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('does not trust a pid that now belongs to another process (reused pid)', async () => {
    const lock = join(dir, 'l');
    mkdirSync(lock);
    // This very process's pid, with a start time it never had: the recorded holder is gone.
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    writeFileSync(join(lock, 'owner.json'), JSON.stringify({ pid: process.pid, start: '1', boot, host: require('node:os').hostname(), token: 'old' }));
    await expect(withLock(lock, async () => 'ok', { timeoutMs: 2_000, leaseMs: 600_000 })).resolves.toBe('ok');
  });

  it('frees a lock whose holder stopped renewing its lease (folder of an older version, another host)', async () => {
    const lock = join(dir, 'l');
    mkdirSync(lock);
    writeFileSync(join(lock, 'owner.json'), JSON.stringify({ pid: 1, start: '', boot: 'b', host: 'elsewhere', token: 'old' }));
    await expect(withLock(lock, async () => 'ok', { timeoutMs: 5_000, leaseMs: 300 })).resolves.toBe('ok');
  });

  it('stays exclusive and never fails when processes release and take it back to back', async () => {
    // Releasing must not leave an empty lock folder behind for a moment: rename(2) of a folder onto
    // an empty one succeeds, so a waiter would "take" a lock that is being deleted under it.
    const lock = join(dir, 'l');
    const counter = join(dir, 'counter');
    writeFileSync(counter, '0');
    const script = `const { withLock } = require(${JSON.stringify(LOCK_MODULE)});
      const fs = require('fs');
      (async () => {
        for (let i = 0; i < 400; i++) {
          await withLock(${JSON.stringify(lock)}, async () => {
            const n = Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8'));
            await new Promise((r) => setImmediate(r));
            fs.writeFileSync(${JSON.stringify(counter)}, String(n + 1));
          });
        }
      })().catch((e) => { console.error(e.stack); process.exit(1); });`;
    const run = () =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
          env: { ...process.env, TS_NODE_COMPILER_OPTIONS: JSON.stringify({ module: 'commonjs', moduleResolution: 'node10', customConditions: null }) },
          stdio: ['ignore', 'inherit', 'inherit'],
        });
        child.on('exit', resolve);
      });
    const codes = await Promise.all([run(), run(), run(), run()]);
    expect(codes).toEqual([0, 0, 0, 0]);
    expect(readFileSync(counter, 'utf8')).toBe('1600');
    expect(existsSync(lock)).toBe(false);
  }, 60_000);

  it('does other work while it waits, and stops asking when there is none', async () => {
    const lock = join(dir, 'l');
    const order: string[] = [];
    let calls = 0;
    const first = withLock(lock, async () => {
      await new Promise((r) => setTimeout(r, 300));
      order.push('first done');
    });
    await new Promise((r) => setTimeout(r, 20));
    const second = withLock(lock, async () => order.push('second in'), {
      whileWaiting: async () => {
        calls++;
        order.push(`work ${calls}`);
        await new Promise((r) => setTimeout(r, 50));
        return calls < 2;
      },
    });
    await Promise.all([first, second]);
    expect(order).toEqual(['work 1', 'work 2', 'first done', 'second in']);
  });

  it('tryWithLock takes a free lock, and gives up at once on a held one', async () => {
    const lock = join(dir, 'l');
    await expect(tryWithLock(lock, async () => 'ran')).resolves.toEqual({ acquired: true, value: 'ran' });
    expect(existsSync(lock)).toBe(false);
    const { child, held } = spawnHolder(lock);
    await held;
    try {
      const started = Date.now();
      await expect(tryWithLock(lock, async () => 'ran')).resolves.toEqual({ acquired: false });
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    // Its holder is gone: the lock is broken and taken.
    await expect(tryWithLock(lock, async () => 'after')).resolves.toEqual({ acquired: true, value: 'after' });
  }, 30_000);

  it('keeps the lease of a long-running holder fresh', async () => {
    const lock = join(dir, 'l');
    const second = new Promise((r) => setTimeout(r, 150)).then(() => withLock(lock, async () => 'second', { timeoutMs: 5_000, leaseMs: 200 }));
    const order: string[] = [];
    await withLock(
      lock,
      async () => {
        await new Promise((r) => setTimeout(r, 800));
        order.push('first done');
      },
      { leaseMs: 200 }
    );
    order.push(String(await second));
    expect(order).toEqual(['first done', 'second']);
  });
});

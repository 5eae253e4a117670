import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLedger, runLedgerFor } from './run-ledger';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nxdd-ledger-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fakeProc(pid: string, startTime: string): string {
  const proc = join(dir, 'proc');
  mkdirSync(join(proc, pid), { recursive: true });
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  writeFileSync(join(proc, pid, 'stat'), `${pid} (node (nx) main) S 1 ${pid} ${pid} 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 11 0 ${startTime} 1000 100\n`);
  return proc;
}

describe('run ledger', () => {
  it('what one task of an nx invocation verified, the next task of the same invocation knows', () => {
    const proc = fakeProc('4242', '987654');
    const env = { NX_INVOCATION_ROOT_PID: '4242' };
    const first = runLedgerFor(dir, env, proc) as RunLedger;
    expect(first.invocation).toBe('4242@987654');
    first.record('reg/app:nx-1', { imageId: 'sha256:abc', pushed: false });
    expect(runLedgerFor(dir, env, proc)?.get('reg/app:nx-1')).toMatchObject({ imageId: 'sha256:abc', pushed: false });
    expect(runLedgerFor(dir, env, proc)?.get('reg/app:nx-2')).toBeUndefined();
  });

  it('a later invocation that reuses the pid does not trust it (different start time)', () => {
    const env = { NX_INVOCATION_ROOT_PID: '4242' };
    runLedgerFor(dir, env, fakeProc('4242', '111'))?.record('reg/app:nx-1', { imageId: 'sha256:abc', pushed: false });
    expect(runLedgerFor(dir, env, fakeProc('4242', '222'))?.get('reg/app:nx-1')).toBeUndefined();
  });

  it('outside an nx invocation, or without /proc, there is no ledger (every task checks for itself)', () => {
    expect(runLedgerFor(dir, {}, fakeProc('1', '1'))).toBeUndefined();
    expect(runLedgerFor(dir, { NX_INVOCATION_ROOT_PID: '77' }, join(dir, 'no-proc'))).toBeUndefined();
  });

  it('the real /proc of this process gives an invocation', () => {
    expect(runLedgerFor(dir, { NX_INVOCATION_ROOT_PID: String(process.pid) })?.invocation).toMatch(new RegExp(`^${process.pid}@\\d+$`));
  });
});

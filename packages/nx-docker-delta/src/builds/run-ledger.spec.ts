import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunLedger, runLedgerFor } from './run-ledger';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nxdd-ledger-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fakeProc(pid: string, startTime: string, ppid = '1', argv: string[] = ['node']): string {
  const proc = join(dir, 'proc');
  mkdirSync(join(proc, pid), { recursive: true });
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  writeFileSync(join(proc, pid, 'stat'), `${pid} (node (nx) main) S ${ppid} ${pid} ${pid} 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 11 0 ${startTime} 1000 100\n`);
  writeFileSync(join(proc, pid, 'cmdline'), argv.join('\0') + '\0');
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

  it('a dependency image built for another task is claimed once, and only in the same invocation', () => {
    const env = { NX_INVOCATION_ROOT_PID: '4242' };
    const proc = fakeProc('4242', '987654');
    const builder = runLedgerFor(dir, env, proc) as RunLedger;
    builder.offer('reg/deps:abc', { builtBy: 'svc01' });
    expect(runLedgerFor(dir, env, fakeProc('4242', '5'))?.claim('reg/deps:abc')).toBeUndefined();
    builder.offer('reg/deps:abc', { builtBy: 'svc01' });
    expect(runLedgerFor(dir, env, fakeProc('4242', '987654'))?.claim('reg/deps:abc')).toMatchObject({ builtBy: 'svc01' });
    expect(runLedgerFor(dir, env, fakeProc('4242', '987654'))?.claim('reg/deps:abc')).toBeUndefined();
    expect(builder.get('reg/deps:abc')).toBeUndefined();
  });

  it('a later invocation that reuses the pid does not trust it (different start time)', () => {
    const env = { NX_INVOCATION_ROOT_PID: '4242' };
    runLedgerFor(dir, env, fakeProc('4242', '111'))?.record('reg/app:nx-1', { imageId: 'sha256:abc', pushed: false });
    expect(runLedgerFor(dir, env, fakeProc('4242', '222'))?.get('reg/app:nx-1')).toBeUndefined();
  });

  it('outside an nx invocation, or without /proc, there is no ledger (every task checks for itself)', () => {
    expect(runLedgerFor(dir, {}, fakeProc('1', '1'), '1')).toBeUndefined();
    expect(runLedgerFor(dir, { NX_INVOCATION_ROOT_PID: '77' }, join(dir, 'no-proc'))).toBeUndefined();
  });

  it('Nx 20–22 (no NX_INVOCATION_ROOT_PID): the nearest ancestor that is the nx CLI is the invocation', () => {
    fakeProc('100', '5000', '1', ['/usr/bin/node', '/ws/node_modules/nx/bin/nx.js', 'run-many', '-t', 'docker-build']);
    // docker-build: nx → /bin/sh -c "node …/docker-build.js" → node; docker-service: nx → task process.
    fakeProc('200', '5100', '100', ['/bin/sh', '-c', 'node node_modules/nx-docker-delta/dist/bin/docker-build.js --targets=docker-service']);
    fakeProc('300', '5200', '200', ['node', 'node_modules/nx-docker-delta/dist/bin/docker-build.js', '--targets=docker-service']);
    const proc = fakeProc('400', '5300', '100', ['/usr/bin/node', '/ws/node_modules/nx/src/tasks-runner/fork.js']);
    expect(runLedgerFor(dir, {}, proc, '300')?.invocation).toBe('100@5000');
    expect(runLedgerFor(dir, {}, proc, '400')?.invocation).toBe('100@5000');
    runLedgerFor(dir, {}, proc, '400')?.record('app:nx-1', { imageId: 'sha256:abc', pushed: false });
    expect(runLedgerFor(dir, {}, proc, '300')?.get('app:nx-1')).toMatchObject({ imageId: 'sha256:abc' });
    // Not under nx (a shell started it by hand): no ledger.
    fakeProc('500', '5400', '1', ['bash']);
    expect(runLedgerFor(dir, {}, fakeProc('600', '5500', '500', ['node', 'x.js']), '600')).toBeUndefined();
  });

  it('the real /proc of this process gives an invocation', () => {
    expect(runLedgerFor(dir, { NX_INVOCATION_ROOT_PID: String(process.pid) })?.invocation).toMatch(new RegExp(`^${process.pid}@\\d+$`));
  });
});

/**
 * Child processes for the e2e suite: argv arrays only, output captured (and
 * appended to a log file when one is given), the tail quoted in errors.
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

export interface RunOptions {
  cwd?: string;
  /** The complete environment of the child (callers build it explicitly). */
  env?: NodeJS.ProcessEnv;
  /** Append the command line and everything it prints to this file. */
  logFile?: string;
  /** Kill the process group after this long. Default 20 min. */
  timeoutMs?: number;
  /** Resolve instead of rejecting on a non-zero exit. */
  allowFailure?: boolean;
  /** Data written to stdin (then closed). */
  input?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  output: string;
  durationMs: number;
}

export class CommandError extends Error {
  constructor(message: string, readonly result: RunResult) {
    super(message);
  }
}

/** Last `n` lines of a text, for error messages. */
export function tail(text: string, n = 60): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const line = `$ ${[cmd, ...args].join(' ')}${o.cwd ? `   (in ${o.cwd})` : ''}`;
  if (o.logFile) appendFileSync(o.logFile, `\n${line}\n`);
  return new Promise((resolve, reject) => {
    // Own process group, so a timeout can stop the command and everything it started.
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, detached: true, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let output = '';
    const onData = (which: 'out' | 'err') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (which === 'out') stdout += text;
      else stderr += text;
      output += text;
      if (o.logFile) appendFileSync(o.logFile, text);
    };
    child.stdout?.on('data', onData('out'));
    child.stderr?.on('data', onData('err'));
    if (child.stdin) {
      // A command that exits before reading its input must not fail the test with EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(o.input);
    }
    const timeoutMs = o.timeoutMs ?? 20 * 60_000;
    const timer = setTimeout(() => {
      output += `\n[e2e] timed out after ${Math.round(timeoutMs / 1000)}s — killed\n`;
      killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} could not be started: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: RunResult = { code: code ?? (signal ? 128 : 1), stdout, stderr, output, durationMs: Date.now() - started };
      if (o.logFile) appendFileSync(o.logFile, `[exit ${result.code} after ${(result.durationMs / 1000).toFixed(1)}s]\n`);
      if (result.code !== 0 && !o.allowFailure) {
        reject(new CommandError(`${line}\nexited ${result.code}:\n${tail(output)}`, result));
      } else {
        resolve(result);
      }
    });
  });
}

/** Signals a process group (or the process when it has none). Never throws. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Resolves once `pid` has exited, or after `timeoutMs` (then SIGKILLs its group). */
export async function stopProcess(pid: number | undefined, timeoutMs = 5_000): Promise<void> {
  if (!pid) return;
  killGroup(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  killGroup(pid, 'SIGKILL');
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

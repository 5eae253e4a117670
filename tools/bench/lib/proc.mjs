// Process helpers for the benchmark: argv-array spawns, wall-clock timing, logs to files.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export class CommandError extends Error {
  constructor(message, tail) {
    super(message);
    this.tail = tail;
  }
}

/**
 * Runs `cmd args` (never a joined shell string). Output goes to `log` (a file) and the last
 * lines are kept for errors. Resolves with { code, ms, stdout } — stdout only when `capture`.
 */
export function run(cmd, args, { cwd, env, log, capture = false, check = true, input } = {}) {
  return new Promise((resolvePromise, reject) => {
    if (log) {
      mkdirSync(dirname(log), { recursive: true });
      appendFileSync(log, `\n$ ${[cmd, ...args].join(' ')}   (cwd ${cwd ?? process.cwd()})\n`);
    }
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd, env: env ?? process.env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) child.stdin.end(input);
    let stdout = '';
    let tail = '';
    const onData = (isOut) => (chunk) => {
      const text = chunk.toString();
      if (capture && isOut) stdout += text;
      tail = (tail + text).slice(-6000);
      if (log) appendFileSync(log, text);
    };
    child.stdout.on('data', onData(true));
    child.stderr.on('data', onData(false));
    child.on('error', (error) => reject(new CommandError(`${cmd} could not be started: ${error.message}`, '')));
    child.on('close', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const result = { code: code ?? 128, ms, stdout, tail };
      if (check && result.code !== 0) {
        reject(new CommandError(`${cmd} ${args.slice(0, 6).join(' ')}… exited ${code ?? signal}${log ? ` (log: ${log})` : ''}`, tail));
      } else resolvePromise(result);
    });
  });
}

/** Wall time of an async function, in milliseconds. */
export async function timed(fn) {
  const started = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, value };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function stats(values) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values };
}

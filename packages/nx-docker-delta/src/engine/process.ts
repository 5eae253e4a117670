import { spawn } from 'node:child_process';

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Called with every output line (stdout and stderr) as it arrives. */
  onLine?: (line: string) => void;
  /** Feed to stdin. */
  input?: string;
  /** Aborting kills the process (SIGTERM, then SIGKILL after 5 s). */
  signal?: AbortSignal;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Last lines of the combined output, for error messages. */
  tail: string[];
  aborted: boolean;
}

const TAIL_LINES = 40;

/** Spawns `cmd args` (an argv array, never a shell string), streams lines, captures output. */
export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const tail: string[] = [];
    let aborted = false;
    const partial = { out: '', err: '' };
    const onChunk = (which: 'out' | 'err') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (which === 'out') stdout += text;
      else stderr += text;
      const lines = (partial[which] + text).split(/\r?\n/);
      partial[which] = lines.pop() ?? '';
      for (const line of lines) emit(line);
    };
    const emit = (line: string) => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      options.onLine?.(line);
    };
    child.stdout?.on('data', onChunk('out'));
    child.stderr?.on('data', onChunk('err'));
    if (options.input !== undefined) child.stdin?.end(options.input);

    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      aborted = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
      killTimer.unref();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (error) => {
      options.signal?.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.on('close', (code, sig) => {
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      for (const which of ['out', 'err'] as const) if (partial[which]) emit(partial[which]);
      resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr, tail, aborted });
    });
  });
}

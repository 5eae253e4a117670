/**
 * The repository's self-hosted Nx remote cache server (tools/cache-server), run
 * as a child process so it can be stopped by pid whatever happens to a test.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { stopProcess } from '../../../tools/e2e/process';

export interface CacheServer {
  url: string;
  pid: number;
  token: string;
  stats(): Promise<{ hits: number; misses: number; puts: number }>;
  stop(): Promise<void>;
}

export async function startCacheServer(o: { repoRoot: string; dir: string; token: string }): Promise<CacheServer> {
  const child = spawn(process.execPath, [join(o.repoRoot, 'tools/cache-server/server.mjs'), '--port', '0', '--dir', o.dir, '--token', o.token], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid as number;
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`cache server printed no URL within 10s: ${out}`)), 10_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cache server exited with ${code}: ${out}`));
    });
  }).catch(async (error) => {
    await stopProcess(pid);
    throw error;
  });
  child.stdout.resume();
  child.stderr.resume();
  return {
    url,
    pid,
    token: o.token,
    stats: async () => (await (await fetch(`${url}/stats`, { headers: { authorization: `Bearer ${o.token}` } })).json()) as { hits: number; misses: number; puts: number },
    stop: () => stopProcess(pid),
  };
}

/**
 * A Verdaccio that requires authentication (htpasswd): anonymous requests get 401/403, a
 * user's token reads and publishes. Started on 127.0.0.1 only, with its own config and storage;
 * never touches ~/.npmrc (tokens go into files the caller names).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './workspace';

export interface AuthRegistry {
  url: string;
  token: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startAuthRegistry(dir: string, port: number): Promise<AuthRegistry> {
  const bin = join(REPO_ROOT, 'node_modules/verdaccio/bin/verdaccio');
  if (!existsSync(bin)) throw new Error(`${bin} is missing — run npm ci at the repository root (verdaccio is a devDependency).`);
  mkdirSync(dir, { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      `storage: ${join(dir, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(dir, 'htpasswd')}`,
      'packages:',
      "  '**':",
      '    access: $authenticated',
      '    publish: $authenticated',
      'log:',
      '  type: stdout',
      '  format: pretty',
      '  level: warn',
      '',
    ].join('\n')
  );
  const logFile = join(dir, 'verdaccio.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [bin, '--config', config, '--listen', `127.0.0.1:${port}`], {
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.unref();
  const pid = child.pid as number;
  const stop = async () => {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      try {
        process.kill(-pid, signal);
      } catch {
        return; // gone
      }
      for (let i = 0; i < 30; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error('verdaccio exited');
      const ok = await fetch(`${url}/-/ping`).then((r) => r.ok).catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error('no answer within 60 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    const name = `h10user${Date.now().toString(36)}`;
    const response = await fetch(`${url}/-/user/org.couchdb.user:${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, password: `pw-${name}-x`, email: `${name}@example.invalid`, type: 'user', roles: [] }),
    });
    const body = (await response.json()) as { token?: string };
    if (!body.token) throw new Error(`adding a user failed: HTTP ${response.status}`);
    return { url, token: body.token, pid, stop };
  } catch (error) {
    await stop();
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
    throw new Error(`auth Verdaccio did not start on ${url}: ${(error as Error).message}\n${log}`);
  }
}

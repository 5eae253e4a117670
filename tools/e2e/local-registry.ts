/**
 * A throw-away npm registry (Verdaccio) for the e2e suite, and publishing the
 * built plugin into it.
 *
 * Unlike `startLocalRegistry` from `@nx/js/plugins/jest/local-registry`, this
 * never touches the user's ~/.npmrc (the token goes into a temporary user
 * config that only the suite's processes see), picks a free port instead of
 * 4873, and publishes a staged copy with an e2e version, so the repository's
 * package.json is never rewritten.
 */
import { spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { run, stopProcess } from './process';

export interface LocalRegistry {
  url: string;
  port: number;
  pid: number;
  /** Temporary npm user config that holds the registry token (point NPM_CONFIG_USERCONFIG at it). */
  userconfig: string;
  logFile: string;
  stop(): Promise<void>;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The registry npm uses on this machine (read at run time, so no host name is written anywhere). */
export async function upstreamRegistry(env: NodeJS.ProcessEnv): Promise<string> {
  const result = await run('npm', ['config', 'get', 'registry'], { env, allowFailure: true, timeoutMs: 60_000 });
  const url = result.stdout.trim();
  if (result.code !== 0 || !/^https?:\/\//.test(url)) {
    throw new Error(`npm config get registry failed (${result.output.trim() || `exit ${result.code}`}) — check that npm works on this machine.`);
  }
  return url;
}

export interface StartOptions {
  /** Folder for config, storage, logs and the temporary npm user config (created). */
  dir: string;
  /** Root of this repository (where node_modules/verdaccio lives). */
  repoRoot: string;
  /** Environment to read the upstream registry from and to give Verdaccio. */
  env: NodeJS.ProcessEnv;
}

export async function startLocalRegistry(o: StartOptions): Promise<LocalRegistry> {
  const bin = join(o.repoRoot, 'node_modules/verdaccio/bin/verdaccio');
  if (!existsSync(bin)) throw new Error(`${bin} is missing — run npm ci at the repository root (verdaccio 6.8.0 is a devDependency).`);
  mkdirSync(o.dir, { recursive: true });
  const upstream = await upstreamRegistry(o.env);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = join(o.dir, 'config.yml');
  writeFileSync(
    config,
    [
      `storage: ${join(o.dir, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(o.dir, 'htpasswd')}`,
      'uplinks:',
      '  upstream:',
      `    url: ${upstream}`,
      '    maxage: 60m',
      '    timeout: 120s',
      'packages:',
      // The package under test only ever comes from this registry, never from upstream.
      "  'nx-docker-delta':",
      '    access: $all',
      '    publish: $all',
      '    unpublish: $all',
      "  '**':",
      '    access: $all',
      '    publish: $all',
      '    proxy: upstream',
      'log:',
      '  type: stdout',
      '  format: pretty',
      '  level: warn',
      'publish:',
      '  allow_offline: true',
      '',
    ].join('\n')
  );
  const logFile = join(o.dir, 'verdaccio.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [bin, '--config', config, '--listen', `127.0.0.1:${port}`], {
    env: o.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.unref();
  const pid = child.pid as number;
  const stop = () => stopProcess(pid);
  try {
    await waitForHttp(`${url}/-/ping`, 60_000, () => child.exitCode !== null);
    const token = await addUser(url);
    const userconfig = join(o.dir, 'npmrc');
    writeUserconfig(userconfig, url, token);
    return { url, port, pid, userconfig, logFile, stop };
  } catch (error) {
    await stop();
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n') : '';
    throw new Error(`Verdaccio did not start on ${url}: ${(error as Error).message}${log ? `\n${log}` : ''}`);
  }
}

async function waitForHttp(url: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (exited()) throw new Error('the process exited');
    try {
      const response = await fetch(url);
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no answer within ${timeoutMs / 1000}s (${last})`);
}

/** Creates a throw-away user and returns its token (what `npm adduser` does). */
async function addUser(url: string): Promise<string> {
  const name = `e2e${Date.now().toString(36)}`;
  const response = await fetch(`${url}/-/user/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password: `pw-${name}`, email: `${name}@example.invalid`, type: 'user', roles: [] }),
  });
  const body = (await response.json().catch(() => ({}))) as { token?: string; error?: string };
  if (!response.ok || !body.token) throw new Error(`adding a user failed: HTTP ${response.status} ${body.error ?? ''}`);
  return body.token;
}

/**
 * The user's own npm settings (proxy, CA…) plus the registry token, in a file only the suite
 * uses. The registry itself is not made the default: commands pass `--registry` where they
 * mean it. Lockfiles record no registry URL, so images built from them install from the
 * public default registry, never from this short-lived one.
 */
function writeUserconfig(path: string, url: string, token: string): void {
  const own = join(homedir(), '.npmrc');
  const kept = existsSync(own)
    ? readFileSync(own, 'utf8')
        .split('\n')
        .filter((l) => !/^\s*(yes|omit-lockfile-registry-resolved)\s*=/.test(l))
    : [];
  const hostPath = url.replace(/^https?:/, '');
  writeFileSync(path, [...kept, 'yes=true', 'omit-lockfile-registry-resolved=true', `${hostPath}/:_authToken=${token}`, ''].join('\n'), { mode: 0o600 });
}

export interface PublishOptions {
  /** The package folder (package.json + the built files its `files` lists). */
  packageDir: string;
  registry: LocalRegistry;
  /** Staging folder (created, then removed). */
  stageDir: string;
  version: string;
  tag: string;
  env: NodeJS.ProcessEnv;
}

/** Publishes a staged copy of the package under `version` (the source package.json is left alone). */
export async function publishStaged(o: PublishOptions): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(o.packageDir, 'package.json'), 'utf8'));
  const files: string[] = manifest.files ?? [];
  rmSync(o.stageDir, { recursive: true, force: true });
  mkdirSync(o.stageDir, { recursive: true });
  for (const entry of [...files.filter((f) => !f.startsWith('!')), 'README.md']) {
    const from = join(o.packageDir, entry);
    if (!existsSync(from)) {
      if (entry === 'README.md') continue;
      throw new Error(`${from} is listed in "files" but missing — build the package first (nx run nx-docker-delta:build).`);
    }
    cpSync(from, join(o.stageDir, entry), { recursive: true, filter: (src) => !src.endsWith('.tsbuildinfo') });
  }
  writeFileSync(join(o.stageDir, 'package.json'), JSON.stringify({ ...manifest, version: o.version }, null, 2) + '\n');
  try {
    await run('npm', ['publish', o.stageDir, '--registry', o.registry.url, '--tag', o.tag, '--access', 'public', '--ignore-scripts'], {
      env: { ...o.env, NPM_CONFIG_USERCONFIG: o.registry.userconfig },
      timeoutMs: 120_000,
    });
  } finally {
    rmSync(o.stageDir, { recursive: true, force: true });
  }
}

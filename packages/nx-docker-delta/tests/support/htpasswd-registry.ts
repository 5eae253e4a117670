/**
 * A registry that wants credentials, like every hosted one (Artifact Registry, GHCR, GitLab):
 * Debian's docker-registry (distribution 2.8) with htpasswd auth on a free loopback port,
 * started and stopped by the suite that uses it. htpasswd comes from apache2-utils
 * (tools/docker-env/ensure-registry-tools.sh installs it).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { closedPort } from './registry';

export interface AuthRegistry {
  /** `127.0.0.1:<port>` */
  address: string;
  user: string;
  password: string;
  stop(): void;
}

export async function startAuthRegistry(user: string): Promise<AuthRegistry> {
  for (const bin of ['docker-registry', 'htpasswd']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) {
      throw new Error(`${bin} is missing — run \`bash tools/docker-env/ensure-registry-tools.sh\` (installs docker-registry and apache2-utils).`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'nxdd-auth-registry-'));
  const password = randomBytes(12).toString('hex');
  const hash = spawnSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' });
  if (hash.status !== 0) throw new Error(`htpasswd failed: ${hash.stderr}`);
  writeFileSync(join(dir, 'htpasswd'), hash.stdout);
  const port = await closedPort();
  const address = `127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: { level: warn }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: ${address} }`,
      `auth: { htpasswd: { realm: nxdd-test, path: ${join(dir, 'htpasswd')} } }`,
      '',
    ].join('\n')
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  const until = Date.now() + 20_000;
  for (;;) {
    const status = await fetch(`http://${address}/v2/`).then((r) => r.status, () => 0);
    if (status === 401) break;
    if (Date.now() > until) {
      child.kill();
      throw new Error(`the htpasswd registry did not answer on ${address} (last status ${status})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address,
    user,
    password,
    stop() {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Basic-auth JSON GET against the registry API. */
export async function registryGet<T>(reg: AuthRegistry, path: string, accept?: string): Promise<{ status: number; body?: T; digest?: string }> {
  const headers: Record<string, string> = { Authorization: `Basic ${Buffer.from(`${reg.user}:${reg.password}`).toString('base64')}` };
  if (accept) headers.Accept = accept;
  const response = await fetch(`http://${reg.address}${path}`, { headers });
  const body = response.status === 200 ? ((await response.json()) as T) : undefined;
  return { status: response.status, body, digest: response.headers.get('docker-content-digest') ?? undefined };
}

/**
 * A real git server over SSH on 127.0.0.1: the system's `sshd` with its own config (key-only, no
 * password, no PAM), a bare repository of a tiny package, and an `ssh-agent` holding the only key
 * it accepts. Needs openssh-server, openssh-client and git (tools/docker-env/ensure-ssh-tools.sh).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';

export interface SshGitServer {
  /** `git+ssh://<user>@127.0.0.1:<port>/<abs path>/<name>.git` of the package repository. */
  dependencyUrl: string;
  /** The agent's socket (what SSH_AUTH_SOCK names). */
  agentSocket: string;
  /** One line of the private key's body: searched for in images and the daemon's data root. */
  privateKeyLine: string;
  /** ssh options for host-side git (its own known_hosts, never the user's). */
  gitSshCommand: string;
  stop(): Promise<void>;
}

function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error ?? r.stderr}`);
  return r.stdout;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export async function startSshGitServer(dir: string, port: number, pkg: { name: string; files: Record<string, string> }): Promise<SshGitServer> {
  const sshd = '/usr/sbin/sshd';
  for (const [bin, fix] of [
    [sshd, 'openssh-server'],
    ['ssh-agent', 'openssh-client'],
    ['git', 'git'],
  ]) {
    if (bin.startsWith('/') ? !existsSync(bin) : spawnSync(bin, ['--version']).error) {
      throw new Error(`${bin} is missing — run tools/docker-env/ensure-ssh-tools.sh (apt-get install -y ${fix}).`);
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const user = userInfo().username;
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'nxdd-test-host', '-f', join(dir, 'host_key')]);
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'nxdd-test-deploy-key', '-f', join(dir, 'deploy_key')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'deploy_key.pub')), { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      `AllowUsers ${user}`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
    { mode: 0o600 }
  );
  // sshd refuses to start without its privilege separation folder (normally made by its service unit).
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });

  // The package, committed and cloned bare: what a private git host serves.
  const src = join(dir, 'src');
  mkdirSync(src);
  for (const [path, content] of Object.entries(pkg.files)) writeFileSync(join(src, path), content);
  const git = ['-c', 'user.name=nxdd test', '-c', 'user.email=nxdd@example.invalid', '-c', 'init.defaultBranch=main'];
  run('git', [...git, 'init', '-q'], { cwd: src });
  run('git', [...git, 'add', '-A'], { cwd: src });
  run('git', [...git, 'commit', '-q', '-m', 'initial'], { cwd: src });
  const repo = join(dir, 'repos', `${pkg.name}.git`);
  run('git', ['clone', '-q', '--bare', src, repo]);

  let server: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  const stop = async () => {
    await stopChild(agent);
    await stopChild(server);
  };
  try {
    server = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let sshdErr = '';
    server.stderr?.on('data', (d: Buffer) => (sshdErr += d.toString()));
    await until(`sshd did not listen on 127.0.0.1:${port} (${sshdErr.trim()})`, async () => {
      if (server?.exitCode !== null) throw new Error(`sshd exited: ${sshdErr.trim()}`);
      return portOpen(port);
    });
    const agentSocket = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
    await until('ssh-agent did not make its socket', () => existsSync(agentSocket));
    run('ssh-add', ['-q', join(dir, 'deploy_key')], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket } });
    const keyLines = readFileSync(join(dir, 'deploy_key'), 'utf8').split('\n');
    return {
      dependencyUrl: `git+ssh://${user}@127.0.0.1:${port}${repo}`,
      agentSocket,
      privateKeyLine: keyLines[2] || keyLines[1],
      gitSshCommand: `ssh -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${join(dir, 'known_hosts')} -o IdentitiesOnly=no`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { probeDocker as ProbeDocker } from './docker';

/**
 * A fake docker client that counts its start-ups, and a fake daemon: an HTTP server on a unix
 * socket answering `/_ping` as dockerd does. Each "process" is a fresh copy of the engine module.
 */
describe('probe cache shared by task processes', () => {
  let dir: string;
  let socket: string;
  let server: Server;
  let pingStatus = 200;
  let bin: string;
  let cacheFile: string;
  const env = () => ({ PATH: process.env.PATH, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(dir, 'docker-config') });
  const starts = () => (existsSync(join(dir, 'starts')) ? readFileSync(join(dir, 'starts'), 'utf8').split('\n').filter(Boolean).length : 0);

  /** probeDocker as a new task process sees it (module state fresh). */
  function newProcessProbe(extra: Record<string, string> = {}) {
    let probe!: typeof ProbeDocker;
    jest.isolateModules(() => {
      probe = (require('./docker') as { probeDocker: typeof ProbeDocker }).probeDocker;
    });
    return probe({ bin, env: { ...env(), ...extra }, cacheFile });
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nxdd-probe-cache-'));
    socket = join(dir, 'docker.sock');
    server = createServer((req, res) => {
      res.statusCode = req.url === '/_ping' ? pingStatus : 404;
      res.end('OK');
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    bin = join(dir, 'docker');
    const info = JSON.stringify({ Client: { Version: '20.10.24' }, Server: { Version: '20.10.24' } });
    writeFileSync(bin, ['#!/bin/sh', `echo "$1" >> '${join(dir, 'starts')}'`, `[ "$1" = version ] && { echo '${info}'; exit 0; }`, 'exit 1', ''].join('\n'));
    chmodSync(bin, 0o755);
    cacheFile = join(dir, 'workspace-data', 'nx-docker-delta-docker-probe.json');
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    pingStatus = 200;
    rmSync(cacheFile, { force: true });
    rmSync(join(dir, 'starts'), { force: true });
  });

  it('the first process probes, the next ones start no docker client while the same daemon answers', async () => {
    const first = await newProcessProbe();
    const client = { bin, mode: 'buildkit', clientVersion: '20.10.24', serverVersion: '20.10.24', socket };
    expect(first).toEqual({ ...client, probe: { ms: expect.any(Number), reused: false } });
    expect(starts()).toBe(4); // `version`, `buildx version`, `buildx inspect` and `info` (the image store), in parallel
    await expect(newProcessProbe()).resolves.toEqual({ ...client, probe: { ms: expect.any(Number), reused: true } });
    await expect(newProcessProbe()).resolves.toEqual({ ...client, probe: { ms: expect.any(Number), reused: true } });
    expect(starts()).toBe(4);
  });

  it('probes again when the client binary changes', async () => {
    await newProcessProbe();
    const later = Date.now() / 1000 + 60;
    utimesSync(bin, later, later);
    await newProcessProbe();
    expect(starts()).toBe(8);
  });

  it('probes again when the daemon does not answer its ping', async () => {
    await newProcessProbe();
    pingStatus = 500;
    await newProcessProbe();
    expect(starts()).toBe(8);
  });

  it('probes again when the docker environment changes (DOCKER_BUILDKIT, BUILDX_BUILDER)', async () => {
    await newProcessProbe();
    await newProcessProbe({ BUILDX_BUILDER: 'other' });
    expect(starts()).toBe(8);
  });

  it('keeps the answers of processes that see the machine differently (PATH in another order): each reuses its own', async () => {
    // Nx starts an executor's process and an nx:run-commands command with PATH in another order,
    // so the two kinds of task process of one run take different fingerprints of the same machine.
    const executor = () => newProcessProbe();
    const command = () => newProcessProbe({ DOCKER_BUILDKIT: '1' });
    await executor();
    await command();
    expect(starts()).toBe(8);
    for (let i = 0; i < 3; i++) {
      await expect(executor()).resolves.toMatchObject({ probe: { reused: true } });
      await expect(command()).resolves.toMatchObject({ probe: { reused: true } });
    }
    expect(starts()).toBe(8);
  });

  it('names the local daemon socket for the Engine API, unless NX_DOCKER_API=0', async () => {
    await expect(newProcessProbe()).resolves.toMatchObject({ socket });
    expect(await newProcessProbe({ NX_DOCKER_API: '0' })).not.toHaveProperty('socket');
  });

  it('keeps a few fingerprints, not every one it ever saw', async () => {
    for (let i = 0; i < 12; i++) await newProcessProbe({ BUILDX_BUILDER: `b${i}` });
    const { entries } = JSON.parse(readFileSync(cacheFile, 'utf8'));
    expect(Object.keys(entries)).toHaveLength(8);
    await expect(newProcessProbe({ BUILDX_BUILDER: 'b11' })).resolves.toMatchObject({ probe: { reused: true } });
    await expect(newProcessProbe({ BUILDX_BUILDER: 'b0' })).resolves.toMatchObject({ probe: { reused: false } });
  });

  it('keeps nothing for a daemon it cannot fingerprint (tcp DOCKER_HOST): every process probes', async () => {
    await newProcessProbe({ DOCKER_HOST: 'tcp://127.0.0.1:1' }).catch(() => undefined);
    expect(existsSync(cacheFile)).toBe(false);
  });
});

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerClient, DockerEngine, PODMAN_NOTE, probeDocker } from './docker';

/** Fake docker clients: shell scripts answering `version` and `buildx version` like the real CLI. */
describe('probeDocker', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nxdd-probe-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function fakeDocker(name: string, o: { client: string; server?: string; buildx: boolean }): string {
    const bin = join(dir, name);
    const info = JSON.stringify({ Client: { Version: o.client }, Server: o.server ? { Version: o.server, Os: 'linux', Arch: 'arm64' } : null });
    writeFileSync(
      bin,
      [
        '#!/bin/sh',
        'case "$1" in',
        `  version) echo '${info}'; ${o.server ? 'exit 0' : 'echo "Cannot connect to the Docker daemon" >&2; exit 1'} ;;`,
        `  buildx) ${o.buildx ? 'if [ "$2" = inspect ]; then printf "Name:   builder-1\\nDriver: docker-container\\n"; else echo "github.com/docker/buildx v0.12.1"; fi; exit 0' : 'echo "docker: \'buildx\' is not a docker command." >&2; exit 1'} ;;`,
        'esac',
        'exit 2',
        '',
      ].join('\n')
    );
    chmodSync(bin, 0o755);
    return bin;
  }

  test.each([
    ['a client with buildx', { client: '28.2.2', server: '28.2.2', buildx: true }, 'buildx'],
    ['a 20.10 client without buildx (BuildKit built in)', { client: '20.10.24+dfsg1', server: '20.10.24+dfsg1', buildx: false }, 'buildkit'],
  ])('uses %s', async (_what, spec, mode) => {
    const bin = fakeDocker(`docker-${mode}`, spec);
    await expect(probeDocker({ bin })).resolves.toMatchObject({ bin, mode, clientVersion: spec.client, serverVersion: spec.server, platform: 'linux/arm64' });
  });

  test('rejects a new client without buildx with a sentence that names the fix', async () => {
    const bin = fakeDocker('docker-28-no-buildx', { client: '28.2.2', server: '28.2.2', buildx: false });
    await expect(probeDocker({ bin })).rejects.toThrow(/No docker client here can build with BuildKit: .*client 28\.2\.2, no buildx.*install the docker-buildx plugin/);
  });

  test('says the daemon is not reachable when the client gets no server answer', async () => {
    const bin = fakeDocker('docker-no-daemon', { client: '20.10.24', buildx: false });
    await expect(probeDocker({ bin, env: { DOCKER_HOST: 'unix:///tmp/nowhere.sock' } })).rejects.toThrow(
      /Docker daemon not reachable at unix:\/\/\/tmp\/nowhere\.sock — start Docker or set DOCKER_HOST/
    );
  });

  test('reports a binary that cannot be executed', async () => {
    await expect(probeDocker({ bin: join(dir, 'missing-docker') })).rejects.toThrow(/missing-docker \(cannot be executed\)/);
  });

  test('podman: no daemon needed, mode podman, and what it does differently in one sentence', async () => {
    const bin = join(dir, 'podman');
    writeFileSync(bin, `#!/bin/sh\n[ "$1" = version ] && echo '{"Client":{"APIVersion":"4.3.1","Version":"4.3.1"}}' && exit 0\nexit 2\n`);
    chmodSync(bin, 0o755);
    await expect(probeDocker({ bin })).resolves.toMatchObject({ bin, mode: 'podman', clientVersion: '4.3.1', serverVersion: '4.3.1', note: PODMAN_NOTE });
  });

  test('podman 3 is refused with a sentence that names the fix', async () => {
    const bin = join(dir, 'old', 'podman');
    mkdirSync(join(dir, 'old'));
    writeFileSync(bin, `#!/bin/sh\necho '{"Client":{"Version":"3.4.4"}}'\n`);
    chmodSync(bin, 0o755);
    await expect(probeDocker({ bin })).rejects.toThrow(
      'podman 3.4.4 is too old (no --iidfile/--digestfile as used here) — install podman 4 or newer, or set NX_DOCKER_BIN to a docker client.'
    );
  });
});

test('probeDocker reads the current buildx builder\'s driver', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nxdd-probe-driver-'));
  try {
    const bin = join(dir, 'docker');
    writeFileSync(
      bin,
      [
        '#!/bin/sh',
        'case "$1" in',
        `  version) echo '{"Client":{"Version":"28.2.2"},"Server":{"Version":"28.2.2","Os":"linux","Arch":"amd64"}}' ;;`,
        '  buildx) if [ "$2" = inspect ]; then printf "Name:   builder-1\\nDriver: docker-container\\n"; else echo "github.com/docker/buildx v0.12.1"; fi ;;',
        'esac',
        '',
      ].join('\n')
    );
    chmodSync(bin, 0o755);
    await expect(probeDocker({ bin })).resolves.toMatchObject({ mode: 'buildx', platform: 'linux/amd64', driver: 'docker-container', builderName: 'builder-1' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('which image store takes an assembled image with docker load (local mode)', () => {
  const fakeInfo = (driverStatus: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'nxdd-probe-store-'));
    const bin = join(dir, 'docker');
    writeFileSync(
      bin,
      [
        '#!/bin/sh',
        'case "$1" in',
        `  version) echo '{"Client":{"Version":"28.2.2"},"Server":{"Version":"28.2.2","Os":"linux","Arch":"amd64"}}' ;;`,
        '  buildx) echo "github.com/docker/buildx v0.12.1" ;;',
        `  info) echo '${driverStatus}' ;;`,
        'esac',
        '',
      ].join('\n')
    );
    chmodSync(bin, 0o755);
    return { dir, bin };
  };

  test.each([
    ['classic (overlay2)', '[["Backing Filesystem","extfs"],["Supports d_type","true"]]', 'classic'],
    ['containerd', '[["driver-type","io.containerd.snapshotter.v1"]]', 'containerd'],
  ])('the probe records the %s store', async (_what, status, store) => {
    const { dir, bin } = fakeInfo(status);
    try {
      await expect(probeDocker({ bin })).resolves.toMatchObject({ mode: 'buildx', imageStore: store });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const engine = (client: Partial<DockerClient>) => new DockerEngine({ bin: '/nonexistent/docker', mode: 'buildkit', clientVersion: '', serverVersion: '', ...client });
  test('Docker before 24 has only the classic store: no question asked', async () => {
    await expect(engine({ serverVersion: '20.10.24+dfsg1' }).localStoreBlocker()).resolves.toBeUndefined();
  });
  test('Docker 24+ with the classic store assembles; with the containerd store it says why not', async () => {
    await expect(engine({ serverVersion: '28.2.2', imageStore: 'classic' }).localStoreBlocker()).resolves.toBeUndefined();
    await expect(engine({ serverVersion: '28.2.2', imageStore: 'containerd' }).localStoreBlocker()).resolves.toBe(
      'the daemon keeps images in the containerd image store, which docker load adds only whole images to'
    );
  });
  test('podman keeps its own build', async () => {
    await expect(engine({ mode: 'podman', serverVersion: '4.3.1' }).localStoreBlocker()).resolves.toBe('podman keeps its own build');
  });
});

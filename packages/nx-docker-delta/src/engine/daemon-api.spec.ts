import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiErrorMessage, historyEntryFromApi, parseLoadStream } from './daemon-api';
import { DockerEngine, DockerError } from './docker';

describe('Engine API answers', () => {
  it('turns an API history entry into the one `docker image history --human=false` prints, in UTC', () => {
    expect(historyEntryFromApi({ Created: 1796119614, CreatedBy: 'CMD ["node"]', Comment: 'buildkit.dockerfile.v0', Size: 0 })).toEqual({
      CreatedAt: '2026-12-01T10:06:54Z',
      CreatedBy: 'CMD ["node"]',
      Comment: 'buildkit.dockerfile.v0',
      Size: 0,
    });
    expect(historyEntryFromApi({ Created: 0, CreatedBy: '' })).toEqual({ CreatedBy: '' });
  });

  it('reads what /images/load streamed: the loaded tags, or the error the daemon put in the stream', () => {
    expect(parseLoadStream('{"stream":"Loaded image: a/b:nx-1\\n"}\r\n{"stream":"Loaded image: a/b:latest\\n"}\r\n')).toEqual({ loaded: ['a/b:nx-1', 'a/b:latest'] });
    expect(parseLoadStream('{"errorDetail":{"message":"open /var/lib/docker/tmp/x: no space left on device"},"error":"open …"}\n')).toEqual({
      loaded: [],
      error: 'open /var/lib/docker/tmp/x: no space left on device',
    });
    expect(apiErrorMessage('{"message":"No such image: a/b:nx-1"}')).toBe('No such image: a/b:nx-1');
    expect(apiErrorMessage('page not found\n')).toBe('page not found');
  });
});

/**
 * A fake daemon (an HTTP server on a unix socket, answering as dockerd does) and a fake docker
 * CLI that records its start-ups: the engine asks the API while it answers, the CLI otherwise.
 */
describe('DockerEngine on the Engine API', () => {
  let dir: string;
  let socket: string;
  let server: Server;
  let bin: string;
  const requests: string[] = [];
  let loadAnswer = '{"stream":"Loaded image: svc:nx-1\\n"}\r\n';
  const image = { Id: 'sha256:1111', RepoTags: ['svc:nx-1'], RepoDigests: [], Size: 42, Architecture: 'amd64', Os: 'linux', Created: '2026-12-01T10:00:00Z', Config: { ExposedPorts: { '3000/tcp': {} } }, RootFS: { Type: 'layers', Layers: ['sha256:a'] } };
  const starts = () => (existsSync(join(dir, 'starts')) ? readFileSync(join(dir, 'starts'), 'utf8').split('\n').filter(Boolean) : []);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nxdd-api-'));
    socket = join(dir, 'docker.sock');
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        if (req.method === 'GET' && req.url === '/images/svc:nx-1/json') return res.end(JSON.stringify(image));
        if (req.method === 'GET' && req.url === '/images/svc:nx-1/history') return res.end(JSON.stringify([{ Created: 1796119614, CreatedBy: 'COPY a ./ # buildkit', Size: 10 }]));
        if (req.method === 'POST' && req.url === '/images/load?quiet=1') return res.end(loadAnswer);
        res.statusCode = 404;
        res.end(JSON.stringify({ message: `No such image: ${req.url}` }));
      });
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    bin = join(dir, 'docker');
    writeFileSync(bin, ['#!/bin/sh', `echo "$*" >> '${join(dir, 'starts')}'`, `[ "$1" = image ] && { echo '${JSON.stringify(image)}'; exit 0; }`, 'exit 1', ''].join('\n'));
    chmodSync(bin, 0o755);
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    requests.length = 0;
    rmSync(join(dir, 'starts'), { force: true });
  });

  const engine = (socketPath?: string) => new DockerEngine({ bin, mode: 'buildkit', clientVersion: '20.10.24', serverVersion: '20.10.24', ...(socketPath ? { socket: socketPath } : {}) });

  it('inspects, prefetches and reads a config through the API, starting no docker client', async () => {
    const e = engine(socket);
    await expect(e.inspectImage('svc:nx-1')).resolves.toEqual({ id: 'sha256:1111', repoTags: ['svc:nx-1'], repoDigests: [], size: 42, exposedPorts: ['3000/tcp'] });
    await expect(e.inspectImage('svc:gone')).resolves.toBeUndefined();
    await e.prefetchImages(['svc:nx-1', 'svc:gone']);
    await expect(e.inspectImage('svc:gone')).resolves.toBeUndefined();
    const config = await e.imageConfig('svc:nx-1');
    expect(config).toMatchObject({ id: 'sha256:1111', config: { history: [{ created: '2026-12-01T10:06:54Z', created_by: 'COPY a ./ # buildkit' }] } });
    await expect(e.imageConfig('svc:gone')).resolves.toBeUndefined();
    expect(starts()).toEqual([]);
    expect(requests).toContain('GET /images/svc:gone/json');
  });

  it('loads through the API and reports the tags; an error in the stream is one sentence', async () => {
    const e = engine(socket);
    await expect(e.load(Buffer.from('tar'))).resolves.toEqual(['svc:nx-1']);
    loadAnswer = '{"errorDetail":{"message":"no space left on device"},"error":"no space left on device"}\r\n';
    await expect(e.load(Buffer.from('tar'))).rejects.toThrow(new DockerError('docker load failed: no space left on device — check that the daemon runs (docker info) and run again; NX_DOCKER_ASSEMBLE=0 builds the service with docker build instead.'));
    loadAnswer = '{"stream":"Loaded image: svc:nx-1\\n"}\r\n';
    expect(starts()).toEqual([]);
  });

  it('asks the docker CLI when the socket does not answer, and keeps asking it in that process', async () => {
    const e = engine(join(dir, 'gone.sock'));
    await expect(e.inspectImage('svc:nx-1')).resolves.toMatchObject({ id: 'sha256:1111' });
    await expect(e.inspectImage('svc:nx-1')).resolves.toMatchObject({ id: 'sha256:1111' });
    expect(starts()).toEqual(['image inspect --format {{json .}} svc:nx-1', 'image inspect --format {{json .}} svc:nx-1']);
  });

  it('without a socket (a tcp DOCKER_HOST, another context, NX_DOCKER_API=0) the CLI answers', async () => {
    await expect(engine().inspectImage('svc:nx-1')).resolves.toMatchObject({ id: 'sha256:1111' });
    expect(starts()).toHaveLength(1);
    expect(requests).toEqual([]);
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileEndpointHints, schemeOrder } from './endpoint-hints';
import { RegistryClient } from './registry';

describe('schemeOrder', () => {
  it.each([
    [undefined, ['https', 'http']],
    ['https' as const, ['https', 'http']],
    ['http' as const, ['http', 'https']],
  ])('hint %s → %j', (hint, order) => {
    expect(schemeOrder(hint)).toEqual(order);
  });
});

describe('fileEndpointHints', () => {
  it('remembers a scheme per host; a missing, foreign or corrupt file means no hint', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nxdd-hints-')), 'sub', 'hints.json');
    const hints = fileEndpointHints(file);
    expect(hints.read('127.0.0.1:5000')).toBeUndefined();
    hints.write('127.0.0.1:5000', 'http');
    hints.write('registry.lan:5000', 'https');
    expect(fileEndpointHints(file).read('127.0.0.1:5000')).toBe('http');
    expect(fileEndpointHints(file).read('registry.lan:5000')).toBe('https');
    writeFileSync(file, '{"format":"other","hosts":{"127.0.0.1:5000":"http"}}');
    expect(hints.read('127.0.0.1:5000')).toBeUndefined();
    writeFileSync(file, 'not json');
    expect(hints.read('127.0.0.1:5000')).toBeUndefined();
  });
});

describe('RegistryClient with endpoint hints (a real plain-HTTP server on loopback)', () => {
  let server: Server;
  let host: string;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/v2/' ? 200 : 404;
      res.end('{}');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('the first process tries HTTPS then HTTP; later processes go straight to HTTP', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nxdd-hints-')), 'hints.json');
    connections = 0;
    await new RegistryClient({ env: {}, daemonJson: '/nonexistent', endpointHints: fileEndpointHints(file) }).ping(host);
    expect(connections).toBe(2);
    expect(JSON.parse(readFileSync(file, 'utf8')).hosts).toEqual({ [host]: 'http' });
    connections = 0;
    await new RegistryClient({ env: {}, daemonJson: '/nonexistent', endpointHints: fileEndpointHints(file) }).ping(host);
    expect(connections).toBe(1);
  });

  it('a hint for a host that no longer answers falls back to the daemon order and its usual error', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nxdd-hints-')), 'hints.json');
    const hints = fileEndpointHints(file);
    hints.write('127.0.0.1:1', 'http');
    // Nothing listens on port 1: both schemes fail and the error is the ordinary one.
    await expect(new RegistryClient({ env: {}, daemonJson: '/nonexistent', endpointHints: hints, timeoutMs: 2000 }).ping('127.0.0.1:1')).rejects.toThrow(
      /Registry 127\.0\.0\.1:1 is not reachable/
    );
  });
});

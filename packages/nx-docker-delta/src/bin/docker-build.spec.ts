import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildInputError } from '../builds/input-error';
import { main, parseArgv, typeOptions } from './docker-build';

const SCHEMA = JSON.parse(readFileSync(join(__dirname, '..', 'executors', 'verify', 'schema.json'), 'utf8'));

describe('docker-build command line (what nx:run-commands appends)', () => {
  it('reads --k=v, --k v, bare flags and --no-k', () => {
    expect(parseArgv(['--targets=docker-base,docker-service', '--push', '--registry', '127.0.0.1:5000', '--no-smoke'])).toEqual({
      targets: 'docker-base,docker-service',
      push: true,
      registry: '127.0.0.1:5000',
      smoke: false,
    });
  });

  it('collects a repeated option', () => {
    expect(parseArgv(['--tags=v1', '--tags=latest'])).toEqual({ tags: ['v1', 'latest'] });
  });

  it('types values as the verify schema says: booleans, numbers, comma lists', () => {
    expect(typeOptions({ push: 'true', smoke: true, smokeTimeout: '45', smokePort: '8080', tags: 'v1.2.0,latest', registry: 'r.example:5000' }, SCHEMA)).toEqual({
      push: true,
      smoke: true,
      smokeTimeout: 45,
      smokePort: 8080,
      tags: ['v1.2.0', 'latest'],
      registry: 'r.example:5000',
    });
    expect(typeOptions({ push: 'false' }, SCHEMA)).toEqual({ push: false });
    expect(typeOptions({ tags: ['v1', 'a,b'] }, SCHEMA)).toEqual({ tags: ['v1', 'a', 'b'] });
  });

  it('refuses an option docker-build does not have, and a non-number, in one sentence', () => {
    expect(() => typeOptions({ pussh: true }, SCHEMA)).toThrow(BuildInputError);
    expect(() => typeOptions({ pussh: true }, SCHEMA)).toThrow(/^docker-build has no option --pussh — /);
    expect(() => typeOptions({ smokeTimeout: 'soon' }, SCHEMA)).toThrow(/^docker-build --smokeTimeout must be a number, not "soon"\.$/);
    expect(() => parseArgv(['stray'])).toThrow(/^docker-build: unexpected argument "stray"/);
  });

  it('outside an Nx task it says how to run it and fails', async () => {
    const lines: string[] = [];
    const log = { info: (l: string) => lines.push(l), error: (l: string) => lines.push(l), verbose: () => undefined };
    await expect(main(['--targets=docker-service'], {}, log)).resolves.toEqual({ success: false });
    expect(lines).toEqual(['✖ docker-build runs as an Nx task — run nx run <project>:docker-build (or nx affected -t docker-build).']);
  });
});

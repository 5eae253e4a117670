import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { crc32, FIXED_CREATED, LayerEntry, layerTar, storedGzip } from './layer-tar';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const file = (path: string, text: string, mode = 0o644): LayerEntry => ({ path, type: 'file', mode, content: Buffer.from(text) });

/** `tar -tv` of the bytes, as GNU tar reads them (the format check is a real tar, not our reader). */
function listing(tar: Buffer): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'nxdd-tar-'));
  try {
    writeFileSync(join(dir, 'layer.tar'), tar);
    const r = spawnSync('tar', ['-tvf', join(dir, 'layer.tar'), '--numeric-owner', '--quoting-style=literal'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout.trim().split('\n').map((l) => l.replace(/\s+/g, ' '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('layerTar', () => {
  const entries = [file('app/main.js', 'console.log(1)\n'), file('app/package.json', '{}\n'), file('app/bin/run', '#!/bin/sh\n', 0o755)];

  it('is byte-stable: the same entries give the same sha256 whatever their order (golden)', () => {
    const tar = layerTar(entries);
    expect(layerTar([...entries].reverse()).equals(tar)).toBe(true);
    expect(tar.length % 512).toBe(0);
    expect(sha(tar)).toMatchInlineSnapshot(`"cb1f658f6fda3514469a936c1660b73f32634a26e19b29a9cf8b72b23e75f762"`);
    expect(sha(storedGzip(tar))).toMatchInlineSnapshot(`"8c690dffff695e9b22eccf47d63fa7cf59188942b885edb170510b7196969b0e"`);
  });

  it('sorts entries, adds every parent directory (0755), keeps modes, owns everything by 0:0 at one fixed mtime', () => {
    expect(listing(layerTar(entries))).toEqual([
      'drwxr-xr-x 0/0 0 1980-01-01 00:00 app/',
      'drwxr-xr-x 0/0 0 1980-01-01 00:00 app/bin/',
      '-rwxr-xr-x 0/0 10 1980-01-01 00:00 app/bin/run',
      '-rw-r--r-- 0/0 15 1980-01-01 00:00 app/main.js',
      '-rw-r--r-- 0/0 3 1980-01-01 00:00 app/package.json',
    ]);
    expect(FIXED_CREATED).toBe('1980-01-01T00:00:00Z');
  });

  it('keeps symbolic links as links', () => {
    expect(listing(layerTar([{ path: 'app/current', type: 'symlink', target: 'releases/1' }]))).toContain('lrwxrwxrwx 0/0 0 1980-01-01 00:00 app/current -> releases/1');
  });

  test.each([
    ['a 100-byte name (USTAR name field)', `app/${'n'.repeat(96)}`],
    ['a long path split into prefix + name', `app/${'d'.repeat(120)}/${'f'.repeat(90)}`],
    ['a name segment over 100 bytes (PAX path record)', `app/${'x'.repeat(150)}.js`],
    ['a path over 255 bytes (PAX)', `app/${Array.from({ length: 30 }, (_, i) => `segment-${i}`).join('/')}/file.js`],
    ['a non-ASCII name (PAX)', 'app/données/é.js'],
  ])('%s round-trips through GNU tar', (_label, path) => {
    const lines = listing(layerTar([file(path, 'x')]));
    expect(lines[lines.length - 1]).toBe(`-rw-r--r-- 0/0 1 1980-01-01 00:00 ${path}`);
  });

  test.each([
    ['a path given twice', [file('app/a', '1'), file('/app/a', '2')], /given twice/],
    ['a file as parent of another', [file('app/a', '1'), file('app/a/b', '2')], /is a file and the parent/],
    ['a path escaping the root', [file('app/../etc/passwd', 'x')], /not a clean relative path/],
  ])('refuses %s', (_label, bad, message) => {
    expect(() => layerTar(bad as LayerEntry[])).toThrow(message);
  });
});

describe('storedGzip', () => {
  test.each([
    ['empty', Buffer.alloc(0)],
    ['small', Buffer.from('hello')],
    ['several stored blocks', Buffer.alloc(200_000, 7)],
  ])('%s input decompresses to itself with zlib', (_label, data) => {
    const gz = storedGzip(data);
    expect(gunzipSync(gz).equals(data)).toBe(true);
    expect(gz.subarray(0, 10).toString('hex')).toBe('1f8b08000000000000ff');
  });

  it('computes the IEEE CRC-32', () => {
    expect(crc32(Buffer.from('123456789')).toString(16)).toBe('cbf43926');
  });
});

/**
 * A deterministic image layer: a tar whose bytes are a pure function of the files (sorted
 * entries, one fixed mtime, uid/gid 0, no user or group names, PAX records only where USTAR
 * cannot hold a name), wrapped in a gzip stream made of *stored* deflate blocks.
 *
 * Why stored blocks: Node's zlib is Chromium's fork, whose SIMD code paths may compress the same
 * bytes differently on another CPU or Node version, and the layer digest is the image's identity.
 * A stored gzip is byte-identical everywhere, and it is still the ordinary
 * `…rootfs.diff.tar.gzip` / `…layer.v1.tar+gzip` media type every registry and every docker
 * client (20.10 included) pulls. App layers are the small part of an image (build output, one
 * manifest), so not compressing them costs little; the runtime and node_modules layers below
 * keep docker's compression. Pure: bytes in, bytes out.
 */

/** 1980-01-01T00:00:00Z: the mtime of every entry and the image's `created` (ko's choice; zip-safe, unlike 0). */
export const FIXED_EPOCH_S = 315532800;
export const FIXED_CREATED = new Date(FIXED_EPOCH_S * 1000).toISOString().replace('.000Z', 'Z');

/** One entry of a layer, its path relative to the image root (`app/main.js`, no leading `/`). */
export type LayerEntry =
  | { path: string; type: 'file'; mode: number; content: Buffer }
  | { path: string; type: 'dir'; mode: number }
  | { path: string; type: 'symlink'; target: string };

const BLOCK = 512;

/** Byte order of UTF-8 paths, as Go's sort of layer entries (and `LC_ALL=C sort`). */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The tar of `entries`, sorted by path, every parent directory present (mode 0755, as BuildKit
 * creates missing parents). Throws on a path given twice or one that escapes the root.
 */
export function layerTar(entries: LayerEntry[]): Buffer {
  const byPath = new Map<string, LayerEntry>();
  for (const entry of entries) {
    const path = normalizeEntryPath(entry.path);
    if (byPath.has(path)) throw new Error(`layer entry ${path} is given twice`);
    byPath.set(path, { ...entry, path });
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (!existing) byPath.set(parent, { path: parent, type: 'dir', mode: 0o755 });
      else if (existing.type !== 'dir') throw new Error(`layer entry ${parent} is a ${existing.type} and the parent of ${path}`);
    }
  }
  const chunks: Buffer[] = [];
  for (const path of [...byPath.keys()].sort(comparePaths)) chunks.push(...entryBlocks(byPath.get(path) as LayerEntry));
  chunks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(chunks);
}

function normalizeEntryPath(raw: string): string {
  const path = raw.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!path || path.split('/').some((p) => p === '' || p === '.' || p === '..')) throw new Error(`layer entry path "${raw}" is not a clean relative path`);
  return path;
}

function entryBlocks(entry: LayerEntry): Buffer[] {
  const name = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const content = entry.type === 'file' ? entry.content : Buffer.alloc(0);
  const link = entry.type === 'symlink' ? entry.target : '';
  const mode = entry.type === 'symlink' ? 0o777 : entry.mode & 0o7777;
  const typeflag = entry.type === 'file' ? '0' : entry.type === 'dir' ? '5' : '2';

  const pax: Array<[string, string]> = [];
  const split = ustarName(name);
  if (!split) pax.push(['path', name]);
  if (Buffer.byteLength(link) > 100 || !isAscii(link)) pax.push(['linkpath', link]);
  if (content.length > 0o77777777777) pax.push(['size', String(content.length)]);

  const blocks: Buffer[] = [];
  if (pax.length) {
    const body = Buffer.from(pax.map(([k, v]) => paxRecord(k, v)).join(''));
    // The PAX header's own name is informational; Go writes `PaxHeaders.0/<base>`: a fixed form keeps it pure.
    const paxName = ustarName(`PaxHeaders.0/${lastSegment(name).slice(0, 80)}`) ?? { name: 'PaxHeaders.0/entry', prefix: '' };
    blocks.push(header({ ...paxName, mode: 0o644, size: body.length, typeflag: 'x', link: '' }), pad(body));
  }
  const fallbackName = split ?? { name: asciiTail(name, 100), prefix: '' };
  blocks.push(
    header({
      ...fallbackName,
      mode,
      size: content.length > 0o77777777777 ? 0 : content.length,
      typeflag,
      link: Buffer.byteLength(link) > 100 || !isAscii(link) ? asciiTail(link, 100) : link,
    })
  );
  if (content.length) blocks.push(pad(content));
  return blocks;
}

/** USTAR `name` (≤100 bytes) + `prefix` (≤155 bytes, split at a `/`), or undefined when PAX is needed. */
function ustarName(path: string): { name: string; prefix: string } | undefined {
  if (!isAscii(path)) return undefined;
  if (path.length <= 100) return { name: path, prefix: '' };
  const body = path.endsWith('/') ? path.slice(0, -1) : path;
  for (let i = body.length - 1; i > 0; i--) {
    if (body[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { name, prefix };
    if (prefix.length <= 155) break;
  }
  return undefined;
}

const isAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);
const lastSegment = (p: string) => p.replace(/\/$/, '').split('/').pop() as string;
const asciiTail = (s: string, max: number) => s.replace(/[^\x20-\x7e]/g, '_').slice(-max);

/** `"<len> key=value\n"`, where <len> counts the whole record including its own digits. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restBytes = Buffer.byteLength(rest);
  let length = restBytes + 1;
  while (String(length).length + restBytes !== length) length = String(length).length + restBytes;
  return `${length}${rest}`;
}

function header(h: { name: string; prefix: string; mode: number; size: number; typeflag: string; link: string }): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  octal(b, 100, 8, h.mode);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, FIXED_EPOCH_S);
  b.write(h.typeflag, 156, 1, 'ascii');
  b.write(h.link, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'ascii');
  octal(b, 329, 8, 0);
  octal(b, 337, 8, 0);
  b.write(h.prefix, 345, 155, 'utf8');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return b;
}

/** Zero-padded octal with a trailing NUL, as GNU and Go tar write numeric fields. */
function octal(b: Buffer, offset: number, width: number, value: number): void {
  b.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, width, 'ascii');
}

function pad(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest ? Buffer.concat([data, Buffer.alloc(BLOCK - rest)]) : data;
}

/** gzip (RFC 1952) of `data` in stored deflate blocks: no mtime, OS "unknown"; same bytes on every machine. */
export function storedGzip(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])];
  const MAX = 0xffff;
  let offset = 0;
  do {
    const length = Math.min(MAX, data.length - offset);
    const final = offset + length >= data.length;
    const head = Buffer.alloc(5);
    head[0] = final ? 1 : 0;
    head.writeUInt16LE(length, 1);
    head.writeUInt16LE(~length & 0xffff, 3);
    parts.push(head, data.subarray(offset, offset + length));
    offset += length;
  } while (offset < data.length);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length >>> 0, 4);
  parts.push(trailer);
  return Buffer.concat(parts);
}

let table: Uint32Array | undefined;

/** CRC-32 (IEEE), as gzip's trailer holds it. */
export function crc32(data: Buffer): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = (table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)) >>> 0;
  return (crc ^ 0xffffffff) >>> 0;
}

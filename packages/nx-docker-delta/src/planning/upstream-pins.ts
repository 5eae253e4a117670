/**
 * Upstream images as inputs: finds every upstream image a Dockerfile starts from (`FROM node:20`,
 * or the default of an `ARG NODE_IMAGE=node:20` that a FROM uses) and rewrites it to a pinned
 * `image:tag@sha256:…`. A moved upstream tag then becomes a file change that Nx hashes, so
 * `nx affected` rebuilds the base once and every service on it. Pure: digests come in.
 */
import { BASE_IMAGE_ARG } from '../constants';

/** One upstream reference in a Dockerfile. */
export interface UpstreamRef {
  /** 0-based line index. */
  line: number;
  kind: 'from' | 'arg';
  /** `image:tag` without any digest: what is resolved. */
  name: string;
  /** The digest it is pinned to today, if any. */
  digest?: string;
}

/**
 * What a name resolves to. `registry`: the manifest digest a registry serves for the tag (the
 * pin BuildKit verifies when it pulls). `local`: no registry answered and the local store only
 * knows the image by ID — an ID is not pullable, so the FROM stays unpinned and the ID is
 * recorded in a comment above it: the file still changes when the local image does.
 */
export type UpstreamPin = { source: 'registry'; digest: string } | { source: 'local'; imageId: string };

export interface PinChange {
  name: string;
  from?: string;
  to: string;
  source: UpstreamPin['source'];
}

/** Marks the comment that records a local-only pin. */
export const LOCAL_PIN_MARK = '# nx-docker-delta local pin:';

const FROM = /^(\s*FROM\s+(?:--\S+\s+)*)(\S+)(.*)$/i;
const ARG = /^(\s*ARG\s+)(\w+)=(\S+)\s*$/i;
const DIGEST = /@(sha256:[a-f0-9]{64})$/;

function split(ref: string): { name: string; digest?: string } {
  const m = DIGEST.exec(ref);
  return m ? { name: ref.slice(0, m.index), digest: m[1] } : { name: ref };
}

/** The upstream references of a Dockerfile, in file order. `BASE_IMAGE` (the workspace's own base) is never upstream. */
export function findUpstreamRefs(text: string): UpstreamRef[] {
  const lines = text.split('\n');
  const stages = new Set<string>();
  const fromArgs = new Set<string>();
  for (const l of lines) {
    const m = FROM.exec(l);
    if (!m) continue;
    const arg = /^\$\{?(\w+)\}?$/.exec(m[2]);
    if (arg) fromArgs.add(arg[1]);
  }
  const refs: UpstreamRef[] = [];
  lines.forEach((l, line) => {
    const from = FROM.exec(l);
    if (from) {
      const ref = from[2];
      if (!ref.includes('$') && ref.toLowerCase() !== 'scratch' && !stages.has(ref.toLowerCase())) refs.push({ line, kind: 'from', ...split(ref) });
      const as = /\s+AS\s+(\S+)/i.exec(from[3]);
      if (as) stages.add(as[1].toLowerCase());
      return;
    }
    const arg = ARG.exec(l);
    if (arg && fromArgs.has(arg[2]) && arg[2] !== BASE_IMAGE_ARG) {
      const value = arg[3].replace(/^"(.*)"$/, '$1');
      if (value && !value.includes('$') && value.toLowerCase() !== 'scratch') refs.push({ line, kind: 'arg', ...split(value) });
    }
  });
  return refs;
}

/** Rewrites the references to their pins; returns the new text and what moved (unchanged pins are not changes). */
export function applyPins(text: string, pins: ReadonlyMap<string, UpstreamPin>): { text: string; changes: PinChange[] } {
  const lines = text.split('\n');
  const changes: PinChange[] = [];
  const out: string[] = [];
  const refs = new Map(findUpstreamRefs(text).map((r) => [r.line, r]));
  lines.forEach((l, i) => {
    if (l.startsWith(LOCAL_PIN_MARK)) return;
    const ref = refs.get(i);
    const pin = ref && pins.get(ref.name);
    const previousLocal = i > 0 && lines[i - 1].startsWith(LOCAL_PIN_MARK) ? lines[i - 1] : undefined;
    if (!ref || !pin) {
      if (previousLocal) out.push(previousLocal);
      out.push(l);
      return;
    }
    const before = ref.digest ?? /sha256:[a-f0-9]{64}/.exec(previousLocal ?? '')?.[0];
    if (pin.source === 'registry') {
      const pinned = `${ref.name}@${pin.digest}`;
      out.push(ref.kind === 'from' ? l.replace(FROM, (_m, a, _r, c) => `${a}${pinned}${c}`) : l.replace(ARG, (_m, a, n) => `${a}${n}=${pinned}`));
      if (before !== pin.digest) changes.push({ name: ref.name, from: before, to: pin.digest, source: 'registry' });
    } else {
      out.push(`${LOCAL_PIN_MARK} ${ref.name} is local image ${pin.imageId} (no registry serves it; the tag below stays unpinned)`);
      out.push(ref.kind === 'from' ? l.replace(FROM, (_m, a, _r, c) => `${a}${ref.name}${c}`) : l.replace(ARG, (_m, a, n) => `${a}${n}=${ref.name}`));
      if (before !== pin.imageId) changes.push({ name: ref.name, from: before, to: pin.imageId, source: 'local' });
    }
  });
  return { text: out.join('\n'), changes };
}

/** One line per change, for logs and reports. */
export function describeChange(c: PinChange): string {
  const short = (d: string) => d.replace(/^(sha256:[a-f0-9]{12})[a-f0-9]+$/, '$1');
  const what = c.source === 'local' ? 'local image' : 'digest';
  return c.from ? `${c.name} moved: ${what} ${short(c.from)} → ${short(c.to)}` : `${c.name} pinned to ${what} ${short(c.to)}`;
}

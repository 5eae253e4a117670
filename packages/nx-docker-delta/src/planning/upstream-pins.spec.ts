import { applyPins, describeChange, findUpstreamRefs, LOCAL_PIN_MARK, type UpstreamPin } from './upstream-pins';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

const BASE = ['# base', 'ARG NODE_IMAGE=node:20-bookworm-slim', 'FROM ${NODE_IMAGE}', 'RUN echo hi', ''].join('\n');
const SERVICE = [
  'ARG BASE_IMAGE=workspace-base',
  'ARG RUNTIME_IMAGE="node:20-bookworm-slim"',
  'FROM ${BASE_IMAGE} AS deps',
  'FROM deps AS build',
  'FROM --platform=linux/amd64 busybox:1.36 AS tools',
  'FROM scratch AS empty',
  'FROM ${RUNTIME_IMAGE} AS runtime',
  '',
].join('\n');

describe('findUpstreamRefs', () => {
  it('finds FROM images and the ARG defaults a FROM uses, never BASE_IMAGE, stages or scratch', () => {
    expect(findUpstreamRefs(SERVICE)).toEqual([
      { line: 1, kind: 'arg', name: 'node:20-bookworm-slim' },
      { line: 4, kind: 'from', name: 'busybox:1.36' },
    ]);
    expect(findUpstreamRefs(BASE)).toEqual([{ line: 1, kind: 'arg', name: 'node:20-bookworm-slim' }]);
  });

  it('reads the digest of a pinned reference', () => {
    expect(findUpstreamRefs(`FROM 127.0.0.1:5151/up/node:20@${D1}\n`)).toEqual([{ line: 0, kind: 'from', name: '127.0.0.1:5151/up/node:20', digest: D1 }]);
  });
});

describe('applyPins', () => {
  const pins = (d: string): Map<string, UpstreamPin> =>
    new Map<string, UpstreamPin>([
      ['node:20-bookworm-slim', { source: 'registry', digest: d }],
      ['busybox:1.36', { source: 'registry', digest: d }],
    ]);

  it('pins, reports first pins, and is a no-op when nothing moved', () => {
    const first = applyPins(SERVICE, pins(D1));
    expect(first.text.split('\n')[1]).toBe(`ARG RUNTIME_IMAGE=node:20-bookworm-slim@${D1}`);
    expect(first.text.split('\n')[4]).toBe(`FROM --platform=linux/amd64 busybox:1.36@${D1} AS tools`);
    expect(first.changes.map(describeChange)).toEqual(['node:20-bookworm-slim pinned to digest sha256:111111111111', 'busybox:1.36 pinned to digest sha256:111111111111']);
    const again = applyPins(first.text, pins(D1));
    expect(again).toEqual({ text: first.text, changes: [] });
  });

  it('moves a pin when the tag points elsewhere and says from what to what', () => {
    const first = applyPins(BASE, pins(D1)).text;
    const moved = applyPins(first, pins(D2));
    expect(moved.text).toContain(`ARG NODE_IMAGE=node:20-bookworm-slim@${D2}`);
    expect(moved.changes.map(describeChange)).toEqual(['node:20-bookworm-slim moved: digest sha256:111111111111 → sha256:222222222222']);
  });

  it('records a local-only image ID in a comment and keeps the tag pullable', () => {
    const local = new Map<string, UpstreamPin>([['node:20-bookworm-slim', { source: 'local', imageId: D1 }]]);
    const first = applyPins(BASE, local);
    expect(first.text.split('\n').slice(1, 3)).toEqual([
      `${LOCAL_PIN_MARK} node:20-bookworm-slim is local image ${D1} (no registry serves it; the tag below stays unpinned)`,
      'ARG NODE_IMAGE=node:20-bookworm-slim',
    ]);
    expect(applyPins(first.text, local)).toEqual({ text: first.text, changes: [] });
    const rebuilt = applyPins(first.text, new Map<string, UpstreamPin>([['node:20-bookworm-slim', { source: 'local', imageId: D2 }]]));
    expect(rebuilt.changes).toEqual([{ name: 'node:20-bookworm-slim', from: D1, to: D2, source: 'local' }]);
    const registry = applyPins(first.text, pins(D2));
    expect(registry.text).toBe(BASE.replace('node:20-bookworm-slim', `node:20-bookworm-slim@${D2}`));
  });
});

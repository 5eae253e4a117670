import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RECEIPT_SCHEMA_VERSION } from '../constants';
import { DockerEngine } from '../engine/docker';
import { baseReceiptPath } from '../planning/targets';
import { ensureBase, planBase } from './base';
import { RunLedger } from './run-ledger';
import { resolveSettings } from './settings';

/**
 * A docker client that records every call and answers none: the ledger path must not reach it.
 * (Without a ledger entry, ensureBase asks it — the control case below.)
 */
let root: string;
let calls: string;
let engine: DockerEngine;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nxdd-base-ledger-'));
  calls = join(root, 'docker-calls');
  const bin = join(root, 'fake-docker');
  writeFileSync(bin, `#!/bin/sh\necho "$*" >> '${calls}'\nexit 1\n`);
  chmodSync(bin, 0o755);
  engine = new DockerEngine({ bin, mode: 'buildkit', clientVersion: '20.10.24', serverVersion: '20.10.24' });
  const files: Record<string, string> = { 'Dockerfile.base': 'FROM nxdd-test/node:20\nCOPY package.json ./\n', 'package.json': '{"name":"ws"}' };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const spec = { name: 'workspace', dockerfile: 'Dockerfile.base', context: '.' };
const settings = resolveSettings({}, {});

function writeBaseReceipt(ref: string, imageId: string) {
  const file = join(root, baseReceiptPath('workspace'));
  mkdirSync(dirname(file), { recursive: true });
  const receipt = {
    schemaVersion: RECEIPT_SCHEMA_VERSION, kind: 'base', project: 'root', name: 'workspace', image: ref.split(':')[0], ref, tags: [ref.split(':')[1], 'latest'],
    imageId, pushed: false, inputHash: 'h', steps: { total: 2, run: 2, cached: 0 }, sizeBytes: 1, durationMs: 1, builder: 'buildkit', outcome: 'built',
  };
  writeFileSync(file, JSON.stringify(receipt));
  return receipt;
}

describe('ensureBase with a run ledger', () => {
  it('a base docker-base verified earlier in this nx run is not inspected again', async () => {
    const plan = planBase(spec, { workspaceRoot: root, settings });
    const receipt = writeBaseReceipt(plan.ref, 'sha256:base');
    const ledger = new RunLedger(join(root, 'ledger'), 'run-1');
    ledger.record(plan.ref, { imageId: 'sha256:base', pushed: false });
    const lines: string[] = [];
    const result = await ensureBase(spec, { workspaceRoot: root, project: 'root', engine, settings, log: (l) => lines.push(l), ledger });
    expect(result).toEqual(receipt);
    expect(lines).toEqual([`Base workspace was verified earlier in this run (${plan.ref}) — not checked again.`]);
    expect(existsSync(calls)).toBe(false);
  });

  it('an entry of another invocation, or for another image, is not trusted: docker is asked', async () => {
    const plan = planBase(spec, { workspaceRoot: root, settings });
    writeBaseReceipt(plan.ref, 'sha256:base');
    new RunLedger(join(root, 'ledger'), 'run-0').record(plan.ref, { imageId: 'sha256:base', pushed: false });
    const ledger = new RunLedger(join(root, 'ledger'), 'run-1');
    await expect(ensureBase(spec, { workspaceRoot: root, project: 'root', engine, settings, log: () => undefined, ledger })).rejects.toThrow();
    expect(existsSync(calls)).toBe(true);
  });
});

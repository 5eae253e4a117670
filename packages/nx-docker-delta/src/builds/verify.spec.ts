import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RECEIPT_SCHEMA_VERSION } from '../constants';
import { serviceContentTag } from '../planning/hash';
import { serviceImageRef } from '../planning/image-ref';
import { EXECUTORS, serviceReceiptPath } from '../planning/targets';
import { RunLedger } from './run-ledger';
import { resolveSettings, usesCommitTags } from './settings';
import { verifyTargets, VerifyContext } from './verify';

/**
 * docker-build right after the docker-service of the same nx run: the run ledger says the image
 * was built and checked, so docker-build starts no docker engine (no probe, no daemon call) and
 * reads git only when a tag needs the commit. Anything else goes to the engine.
 */
let root: string;
let ledger: RunLedger;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nxdd-verify-'));
  ledger = new RunLedger(join(root, 'ledger'), 'run-1');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const PLATFORM = 'linux/amd64';
const SHA = '0123456789abcdef0123456789abcdef01234567';

function writeServiceReceipt(input: { inputHash: string; platform?: string; tags?: string[]; imageId?: string; env?: NodeJS.ProcessEnv }) {
  const settings = resolveSettings({}, input.env ?? {});
  const { image, ref } = serviceImageRef({ ...settings, project: 'api', contentTag: serviceContentTag(input.inputHash, input.platform) });
  const receipt = {
    schemaVersion: RECEIPT_SCHEMA_VERSION, kind: 'service', project: 'api', image, ref, tags: [ref.slice(image.length + 1), ...(input.tags ?? ['latest'])],
    imageId: input.imageId ?? 'sha256:app', pushed: false, inputHash: input.inputHash, steps: { total: 0, run: 0, cached: 0 }, sizeBytes: 1, durationMs: 1,
    builder: 'buildkit', platform: input.platform, outcome: 'built',
  };
  const file = join(root, serviceReceiptPath('apps/api'));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(receipt));
  return receipt;
}

function context(calls: string[], overrides: Partial<VerifyContext> = {}): { ctx: VerifyContext; reports: string[] } {
  const reports: string[] = [];
  const ctx: VerifyContext = {
    workspaceRoot: root,
    project: 'api',
    projectRoot: 'apps/api',
    git: async () => {
      calls.push('git');
      return { sha: SHA };
    },
    engineFor: async () => {
      calls.push('engine');
      throw new Error('the engine was asked');
    },
    ledger,
    projectGraph: () => {
      throw new Error('no rebuild expected');
    },
    bases: [],
    env: {},
    targetName: 'docker-build',
    log: () => undefined,
    report: (line) => reports.push(line),
    ...overrides,
  };
  return { ctx, reports };
}

const target = (options: Record<string, unknown> = {}) => ({ name: 'docker-service', executor: EXECUTORS.service, options: { dockerfile: 'apps/api/Dockerfile', ...options } });

describe('docker-build after a docker-service of the same run', () => {
  it('takes the run ledger’s word: no docker engine, no git', async () => {
    const receipt = writeServiceReceipt({ inputHash: '111', platform: PLATFORM });
    ledger.record(receipt.ref, { imageId: receipt.imageId, pushed: false });
    const calls: string[] = [];
    const { ctx, reports } = context(calls);
    await verifyTargets([target()], ctx);
    expect(calls).toEqual([]);
    expect(reports).toEqual([`✔ api: ${receipt.ref} was built and checked earlier in this run (built: 0 run, 0 cached)`]);
  });

  it('reads git for a {shortSha} tag, and still needs no engine', async () => {
    const receipt = writeServiceReceipt({ inputHash: '111', platform: PLATFORM, tags: ['latest', `git-${SHA.slice(0, 7)}`] });
    ledger.record(receipt.ref, { imageId: receipt.imageId, pushed: false });
    const calls: string[] = [];
    const { ctx, reports } = context(calls);
    await verifyTargets([target({ tags: ['latest', 'git-{shortSha}'] })], ctx);
    expect(calls).toEqual(['git']);
    expect(reports[0]).toContain('was built and checked earlier in this run');
  });

  it('asks the engine when the ledger knows another image, has no entry, or the platform asked for differs', async () => {
    const receipt = writeServiceReceipt({ inputHash: '111', platform: PLATFORM });
    const cases: Array<[string, () => void, Record<string, unknown>]> = [
      ['another image', () => ledger.record(receipt.ref, { imageId: 'sha256:other', pushed: false }), {}],
      ['no entry', () => rmSync(join(root, 'ledger'), { recursive: true, force: true }), {}],
      ['another platform', () => ledger.record(receipt.ref, { imageId: receipt.imageId, pushed: false }), { platform: 'linux/arm64' }],
    ];
    for (const [why, arrange, options] of cases) {
      arrange();
      const calls: string[] = [];
      const { ctx } = context(calls);
      await expect(verifyTargets([target(options)], ctx)).rejects.toThrow('the engine was asked');
      expect([why, calls]).toEqual([why, ['engine']]);
    }
  });

  it('push mode: only an entry that says pushed is enough', async () => {
    const env = { NX_DOCKER_REGISTRY: '127.0.0.1:5000', PUSH: 'true' };
    const receipt = writeServiceReceipt({ inputHash: '111', platform: PLATFORM, env });
    ledger.record(receipt.ref, { imageId: receipt.imageId, pushed: false });
    const calls: string[] = [];
    await expect(verifyTargets([target()], context(calls, { env }).ctx)).rejects.toThrow('the engine was asked');
    expect(calls).toEqual(['engine']);
    ledger.record(receipt.ref, { imageId: receipt.imageId, pushed: true, digest: 'sha256:d' });
    const again: string[] = [];
    const { ctx, reports } = context(again, { env });
    await verifyTargets([target()], ctx);
    expect(again).toEqual([]);
    expect(reports[0]).toContain(`${receipt.ref} was built and checked earlier in this run`);
  });
});

describe('usesCommitTags', () => {
  it('is true only when a tag (option or NX_DOCKER_TAGS) names {sha} or {shortSha}', () => {
    expect(usesCommitTags({}, {})).toBe(false);
    expect(usesCommitTags({ tags: ['latest', 'v1'] }, { NX_DOCKER_TAGS: 'edge' })).toBe(false);
    expect(usesCommitTags({ tags: ['git-{shortSha}'] }, {})).toBe(true);
    expect(usesCommitTags({}, { NX_DOCKER_TAGS: 'latest,{sha}' })).toBe(true);
  });
});

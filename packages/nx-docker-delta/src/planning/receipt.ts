import { RECEIPT_SCHEMA_VERSION } from '../constants';
import type { BuilderMode } from './build-plan';
import type { PhaseTimings } from './phases';

/**
 * What a build leaves behind, and what Nx caches: enough to find the image again anywhere
 * and to tell whether a restored receipt still tells the truth.
 */
export interface ImageReceipt {
  schemaVersion: number;
  kind: 'base' | 'service';
  /** Nx project that built it. */
  project: string;
  /** Base name (bases only). */
  name?: string;
  /** Repository, registry-qualified when a registry is configured. */
  image: string;
  /** The content-addressed reference (`image:contentTag`). */
  ref: string;
  /** Every tag applied (the content tag first). */
  tags: string[];
  imageId: string;
  /** Registry digest when pushed. */
  digest?: string;
  pushed: boolean;
  /** The base image it was built on. */
  base?: { name: string; ref: string };
  /**
   * The content-addressed dependency image it took node_modules from (services whose Dockerfile
   * declares ARG DEPS_IMAGE), and whether this build built, reused or pulled it, or (push mode)
   * found it in the registry and left it there (`remote`).
   */
  deps?: {
    ref: string;
    inputHash: string;
    outcome: 'built' | 'reused' | 'pulled' | 'remote';
    digest?: string;
    steps?: { total: number; run: number; cached: number };
    /**
     * `built` by another service's task of the same run, which installed it while it waited for
     * its own dependency set (work stealing within `--parallel`); this service's task found it.
     */
    builtBy?: string;
  };
  /**
   * Set when the image was assembled without `docker build` of the service: in the registry
   * (push mode) or, with `local: true`, added to the local image store by `docker load`. It names
   * the runtime-with-dependencies image it extends (found, pushed or built), the app layer's
   * digest (local: its diff ID) and file count, and how many blobs were uploaded. `imageId` is
   * then the config digest (what `docker images` shows as the image ID); `sizeBytes` is the
   * compressed size of the layers in the registry, the store's size locally.
   */
  assembled?: { runtime: string; runtimeOutcome: 'found' | 'pushed' | 'built'; layer: string; files: number; uploaded: number; local?: true };
  /** Hash of the inputs: the Nx task hash for services, the content hash for bases. */
  inputHash: string;
  steps: { total: number; run: number; cached: number };
  sizeBytes: number;
  durationMs: number;
  /** Where durationMs went: probe, hash, stage, build, push, verify (ms; absent phases did not happen). */
  phasesMs?: PhaseTimings;
  builder: BuilderMode;
  platform?: string;
  /**
   * What happened the last time this receipt was produced or verified. `remote`: push mode found
   * it in the registry and neither built nor pulled it (builds FROM it read it from there).
   */
  outcome: 'built' | 'reused' | 'pulled' | 'pushed' | 'rebuilt' | 'remote';
}

export function isReceipt(value: unknown): value is ImageReceipt {
  const r = value as ImageReceipt;
  return !!r && r.schemaVersion === RECEIPT_SCHEMA_VERSION && typeof r.ref === 'string' && typeof r.imageId === 'string';
}

/**
 * Does `receipt` still describe the image as it is now? Then there is nothing to record: a
 * receipt is rewritten only when what it says changed, so a build's own receipt (steps run,
 * outcome `built`) survives later runs that merely find the image in place.
 */
export function receiptStillTrue(
  receipt: unknown,
  now: Pick<ImageReceipt, 'ref' | 'imageId' | 'pushed' | 'digest'>
): receipt is ImageReceipt {
  return (
    isReceipt(receipt) &&
    receipt.ref === now.ref &&
    receipt.imageId === now.imageId &&
    receipt.pushed === now.pushed &&
    (!now.pushed || receipt.digest === now.digest)
  );
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB'];
  let value = bytes;
  let unit = -1;
  do {
    value /= 1000;
    unit++;
  } while (value >= 1000 && unit < units.length - 1);
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** The one-line summary every build ends with. */
export function summaryLine(receipt: Pick<ImageReceipt, 'ref' | 'steps' | 'sizeBytes' | 'durationMs' | 'outcome' | 'assembled'>, label: string): string {
  const { run, cached } = receipt.steps;
  const what = receipt.assembled?.local
    ? `assembled locally (app layer of ${receipt.assembled.files} files, docker load)`
    : receipt.assembled
    ? `assembled in the registry (app layer of ${receipt.assembled.files} files, ${receipt.assembled.uploaded} blob${receipt.assembled.uploaded === 1 ? '' : 's'} uploaded)`
    : `${run} step${run === 1 ? '' : 's'} run, ${cached} cached`;
  return `${label} ${receipt.outcome} — ${what} · ${formatBytes(receipt.sizeBytes)} · ${(receipt.durationMs / 1000).toFixed(1)}s → ${receipt.ref}`;
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerEngine } from '../engine/docker';
import { resolveUpstream } from '../engine/upstream';
import { applyPins, describeChange, findUpstreamRefs, type PinChange, type UpstreamPin } from '../planning/upstream-pins';
import type { BaseSpec } from '../planning/targets';
import { writeFileAtomic } from '../utils/fs';

/**
 * `docker-base --refresh` (the seed's monthly `--no-cache`): re-resolves the upstream images of a
 * base and rewrites their pins in its Dockerfile when one moved. The file change is what makes
 * the base's content tag new, so the build that follows rebuilds it exactly then — and every
 * service on it is affected once the change is committed. Returns what moved.
 */
export async function refreshUpstreams(
  spec: BaseSpec,
  ctx: { workspaceRoot: string; engine: DockerEngine; log: (line: string) => void }
): Promise<PinChange[]> {
  const path = join(ctx.workspaceRoot, spec.dockerfile);
  const text = readFileSync(path, 'utf8');
  const refs = findUpstreamRefs(text);
  const pins = new Map<string, UpstreamPin>();
  for (const ref of refs) if (!pins.has(ref.name)) pins.set(ref.name, await resolveUpstream(ctx.engine, ref.name));
  const next = applyPins(text, pins);
  if (next.text !== text) writeFileAtomic(path, next.text);
  if (next.changes.length === 0) {
    ctx.log(`Base ${spec.name}: no upstream image moved (${refs.map((r) => r.name).join(', ') || 'none'}) — ${spec.dockerfile} unchanged.`);
  }
  for (const change of next.changes) ctx.log(`Base ${spec.name}: ${describeChange(change)} — ${spec.dockerfile} updated; commit it so every service on this base is rebuilt.`);
  return next.changes;
}

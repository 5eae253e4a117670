/**
 * `nx g nx-docker-delta:pin-bases`: pins every upstream image of the workspace's Dockerfiles to
 * the digest its tag points to today. Run on a schedule (the generated CI configs do), it turns
 * an upstream security update into a reviewable change: base rebuilt once, every service on it
 * rebuilt, by `nx affected` alone.
 */
import { logger, visitNotIgnoredFiles, type Tree } from '@nx/devkit';
import { basename } from 'node:path';
import { probeDocker, DockerEngine } from '../../engine/docker';
import { resolveUpstream } from '../../engine/upstream';
import { applyPins, describeChange, findUpstreamRefs, type PinChange, type UpstreamPin } from '../../planning/upstream-pins';
import type { PinBasesGeneratorSchema } from './schema';

const DOCKERFILE = /^(Dockerfile(\.[\w.-]+)?|[\w.-]+\.[Dd]ockerfile|Containerfile)$/;
const NOT_DOCKERFILE = /\.(dockerignore|md|txt|template|tmpl|json|ya?ml|sh|js|ts)$/;

/** Dockerfiles of the workspace (generator templates and node_modules excluded). */
export function workspaceDockerfiles(tree: Tree): string[] {
  const found: string[] = [];
  visitNotIgnoredFiles(tree, '.', (path) => {
    const name = basename(path);
    if (/(^|\/)(node_modules|files|dist|\.nx)\//.test(path)) return;
    if (DOCKERFILE.test(name) && !NOT_DOCKERFILE.test(name)) found.push(path);
  });
  return found.sort();
}

/**
 * Pins `files` in the tree with `resolve` (each distinct name resolved once) and returns what
 * moved per file. Writes only files whose text changes, so a second run is a no-op.
 */
export async function pinDockerfiles(
  tree: Tree,
  files: string[],
  resolve: (name: string) => Promise<UpstreamPin>
): Promise<Array<{ file: string; changes: PinChange[] }>> {
  const texts = new Map(files.map((f) => [f, tree.read(f, 'utf-8') ?? '']));
  const names = [...new Set([...texts.values()].flatMap((t) => findUpstreamRefs(t).map((r) => r.name)))];
  const pins = new Map<string, UpstreamPin>();
  for (const name of names) pins.set(name, await resolve(name));
  const result: Array<{ file: string; changes: PinChange[] }> = [];
  for (const [file, text] of texts) {
    const next = applyPins(text, pins);
    if (next.text !== text) tree.write(file, next.text);
    if (next.changes.length) result.push({ file, changes: next.changes });
  }
  return result;
}

export async function pinBasesGenerator(tree: Tree, schema: PinBasesGeneratorSchema): Promise<void> {
  const files = schema.files?.length ? schema.files.map((f) => f.replace(/^\.\//, '')) : workspaceDockerfiles(tree);
  const missing = files.filter((f) => !tree.exists(f));
  if (missing.length) throw new Error(`nx-docker-delta: ${missing.join(', ')} does not exist — fix --files or leave it out to pin every Dockerfile.`);
  const engine = new DockerEngine(await probeDocker({ bin: schema.dockerBin ?? process.env.NX_DOCKER_BIN }));
  const moved = await pinDockerfiles(tree, files, (name) => resolveUpstream(engine, name));
  if (moved.length === 0) logger.info(`nx-docker-delta: every upstream image of ${files.length} Dockerfile(s) is pinned to its current digest — nothing changed.`);
  for (const { file, changes } of moved) for (const c of changes) logger.info(`nx-docker-delta: ${file}: ${describeChange(c)}`);
}

export default pinBasesGenerator;

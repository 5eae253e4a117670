/**
 * Assembly of a service image without `docker build`. The shared runtime-with-dependencies image
 * (the last stage up to its app COPY) is found or built once per content hash; the app COPY
 * becomes one deterministic layer computed from the staged context; the config adds what the
 * instructions after it set. In push mode config and manifest go to the registry through the
 * distribution API (as `crane append`, ko and Jib do); in local mode the layer and config go into
 * the daemon's image store with `docker load`, on the runtime image it holds.
 * The plan is pure (planning/assemble.ts, layer-tar.ts, image-config.ts); this file moves bytes.
 */
import { lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerError } from '../engine/docker';
import { sha256 } from '../engine/registry';
import { AssemblyConditions, ContextEntry, planAssembly, resolveImageArgs } from '../planning/assemble';
import { depsRepository } from '../planning/deps';
import { contentTag, runtimeContentHash } from '../planning/hash';
import { composeConfig, composeManifest, configBytes, ImageConfigError, ImageConfigJson, loadManifest, ManifestJson } from '../planning/image-config';
import { assertImageName, qualify } from '../planning/image-ref';
import { layerTar, storedGzip } from '../planning/layer-tar';
import type { ImageReceipt } from '../planning/receipt';
import type { DepsContext } from './deps';
import { withLock } from './lock';

/** Folders holding the derived runtime-with-dependencies Dockerfiles (their whole build context). */
export const RUNTIME_CONTEXTS_DIR = '.nx-docker-delta/runtime-contexts';

export interface AssembleInput {
  dockerfileText: string;
  /** Context option of the build (`pruned` assembles). */
  context: string;
  /** Staged context folder and its files (context-relative). */
  contextDir: string;
  files: string[];
  /** Build args of the service build (BASE_IMAGE / DEPS_IMAGE included). */
  buildArgs: Record<string, string>;
  hasDepsImage: boolean;
  /** Names the runtime repository (`<prefix><owner>-runtime`), as dependency images are named. */
  owner: string;
  image: string;
  ref: string;
  tags: string[];
  labels: Record<string, string>;
  platform?: string;
  target?: string;
  noCache?: boolean;
}

/** What a dependency-image build gets, plus the service's phase timer. */
export interface AssembleContext extends DepsContext {
  /** Ends the current phase (service.ts's timer). */
  lap: (phase: 'build' | 'assemble' | 'load' | 'upload') => void;
}

export type Assembled = { digest?: string; imageId: string; sizeBytes: number; record: NonNullable<ImageReceipt['assembled']> };

/** Why the plugin builds with docker instead: one sentence. */
export class NotAssembled {
  constructor(
    readonly reason: string,
    readonly quiet = false
  ) {}
}

/** Assembles the image in the registry, or says why not (before anything was written to the service's repository). */
export async function assembleService(input: AssembleInput, ctx: AssembleContext): Promise<Assembled | NotAssembled> {
  const { engine, settings } = ctx;
  const push = settings.push && !!settings.registry;
  const conditions: AssemblyConditions = {
    enabled: settings.assemble,
    push,
    localStore: push || !settings.assemble ? undefined : await engine.localStoreBlocker(),
    clientMode: engine.client.mode,
    hasDepsImage: input.hasDepsImage,
    target: input.target,
    noCache: input.noCache,
    context: input.context,
  };
  const decision = planAssembly(input.dockerfileText, conditions);
  if (!decision.ok) return new NotAssembled(decision.reason, decision.quiet);
  const plan = decision.plan;
  const layer = plan.layer(readContext(input.contextDir, input.files));
  if (!layer.ok) return new NotAssembled(layer.reason);

  const args: Record<string, string | undefined> = { ...Object.fromEntries(plan.globalArgs.map((a) => [a.name, a.value])), ...input.buildArgs };
  const runtimeImage = resolveImageArgs(plan.runtimeImage, args);
  if (!runtimeImage) return new NotAssembled(`the last FROM (${plan.runtimeImage}) names a build arg without a value`);
  let runtimeInfo = await engine.inspectImage(runtimeImage);
  if (!runtimeInfo && (await engine.pull(runtimeImage, { signal: ctx.signal }))) runtimeInfo = await engine.inspectImage(runtimeImage);
  if (!runtimeInfo) return new NotAssembled(`the runtime image ${runtimeImage} is neither in the local image store nor pullable`);

  // Only the args the derived Dockerfile reads go into its build and its address.
  const used = new Set([...plan.runtimeDockerfile.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
  const buildArgs = Object.fromEntries(Object.entries(input.buildArgs).filter(([k]) => used.has(k)));
  const hash = runtimeContentHash({ dockerfile: plan.runtimeDockerfile, runtimeImageId: runtimeInfo.id, buildArgs, platform: input.platform });
  const runtimeRepo = qualify(depsRepository(input.owner, settings.imagePrefix).replace(/-deps$/, '-runtime'), settings.registry);
  assertImageName(runtimeRepo, `runtime-with-dependencies image name for "${input.owner}"`);
  const runtimeRef = `${runtimeRepo}:${contentTag(hash)}`;
  const runtime = { ref: runtimeRef, dockerfile: plan.runtimeDockerfile, buildArgs, tag: contentTag(hash) };
  if (!push) return assembleLocally(input, ctx, { runtime, appCopy: plan.appCopy, metadata: plan.metadata, entries: layer.entries });
  const runtimeOutcome = await ensureRuntime(runtime, ctx);
  ctx.lap('build');

  const parentManifest = await engine.registry.getManifest(runtimeRef);
  if (!parentManifest) return new NotAssembled(`${runtimeRef} was pushed but the registry does not serve it`);
  const parent = JSON.parse(parentManifest.body.toString('utf8')) as ManifestJson;
  if (!parent.config?.digest || !Array.isArray(parent.layers)) return new NotAssembled(`${runtimeRef} is a multi-platform index, not one image`);
  const parentConfig = JSON.parse((await engine.registry.getBlob(runtimeRepo, parent.config.digest)).toString('utf8')) as ImageConfigJson;

  const tar = layerTar(layer.entries);
  const gz = storedGzip(tar);
  const layerDigest = sha256(gz);
  let config: Buffer;
  let manifest: { body: Buffer; mediaType: string };
  try {
    config = configBytes(composeConfig(parentConfig, { diffId: sha256(tar), appCopy: plan.appCopy, metadata: plan.metadata, labels: input.labels }));
    manifest = composeManifest(parent, parentManifest.mediaType, { config: { digest: sha256(config), size: config.length }, layer: { digest: layerDigest, size: gz.length } });
  } catch (error) {
    if (error instanceof ImageConfigError) return new NotAssembled(error.message);
    throw error;
  }
  const files = layer.entries.filter((e) => e.type !== 'dir').length;
  ctx.log(`Assembling ${ctx.project} in the registry on ${runtimeRef} (runtime ${runtimeOutcome}): app layer of ${files} files, ${gz.length} bytes — no docker build`);
  ctx.lap('assemble');

  const counts = { present: 0, mounted: 0, uploaded: 0 };
  for (const l of parent.layers) counts[await engine.registry.ensureBlob(input.image, l.digest, { from: runtimeRepo })]++;
  counts[await engine.registry.ensureBlob(input.image, layerDigest, { data: gz })]++;
  counts[await engine.registry.ensureBlob(input.image, sha256(config), { data: config })]++;
  const digest = await engine.registry.putManifest(input.ref, manifest.body, manifest.mediaType);
  for (const tag of input.tags) if (tag !== input.ref) await engine.registry.putManifest(tag, manifest.body, manifest.mediaType);
  ctx.lap('upload');
  ctx.log(`Assembled ${input.ref}: ${counts.uploaded} blob(s) uploaded, ${counts.mounted} mounted, ${counts.present} already there → ${digest}`);
  const layers = [...parent.layers.map((l) => l.size), gz.length];
  return {
    digest,
    imageId: sha256(config),
    sizeBytes: layers.reduce((a, b) => a + b, 0),
    record: { runtime: runtimeRef, runtimeOutcome, layer: layerDigest, files, uploaded: counts.uploaded },
  };
}

/**
 * Local mode: the runtime-with-dependencies image from the local store (built once per content
 * hash when it is not there), its config as the store reports it, and the app layer plus the new
 * config added with `docker load` — the parent's layers are already in the store and are not sent.
 * The image ID is the digest of the composed config, checked against what the store then holds.
 */
async function assembleLocally(
  input: AssembleInput,
  ctx: AssembleContext,
  a: { runtime: RuntimeSpec; appCopy: string; metadata: Parameters<typeof composeConfig>[1]['metadata']; entries: Parameters<typeof layerTar>[0] }
): Promise<Assembled | NotAssembled> {
  const { engine } = ctx;
  // Its config is also the presence check: one inspect on the usual path, where it is there.
  let parent = await engine.imageConfig(a.runtime.ref);
  let runtimeOutcome: 'found' | 'built' = 'found';
  if (!parent) {
    runtimeOutcome = await ensureLocalRuntime(a.runtime, ctx);
    parent = await engine.imageConfig(a.runtime.ref);
  }
  ctx.lap('build');
  if (!parent) return new NotAssembled(`${a.runtime.ref} was built but the local image store does not hold it`);
  const tar = layerTar(a.entries);
  const diffId = sha256(tar);
  let config: Buffer;
  try {
    config = configBytes(composeConfig(parent.config, { diffId, appCopy: a.appCopy, metadata: a.metadata, labels: input.labels }));
  } catch (error) {
    if (error instanceof ImageConfigError) return new NotAssembled(error.message);
    throw error;
  }
  const imageId = sha256(config);
  const configFile = `${imageId.slice('sha256:'.length)}.json`;
  const diffIds = [...(parent.config.rootfs?.diff_ids ?? []), diffId];
  const archive = layerTar([
    { path: 'manifest.json', type: 'file', mode: 0o644, content: loadManifest({ configFile, diffIds, layerFiles: { [diffId]: 'app/layer.tar' }, repoTags: input.tags }) },
    { path: configFile, type: 'file', mode: 0o644, content: config },
    { path: 'app/layer.tar', type: 'file', mode: 0o644, content: tar },
  ]);
  const files = a.entries.filter((e) => e.type !== 'dir').length;
  ctx.log(`Assembling ${ctx.project} locally on ${a.runtime.ref} (runtime ${runtimeOutcome}): app layer of ${files} files, ${tar.length} bytes — no docker build`);
  ctx.lap('assemble');
  await engine.load(archive, { signal: ctx.signal });
  const info = await engine.inspectImage(input.ref);
  ctx.lap('load');
  if (info?.id !== imageId) {
    throw new DockerError(`docker load of ${input.ref} left ${info ? `image ${info.id}` : 'no image'} instead of ${imageId} — run again; if it persists, set NX_DOCKER_ASSEMBLE=0 and report it.`);
  }
  ctx.log(`Assembled ${input.ref} in the local image store → ${imageId}`);
  return {
    imageId,
    sizeBytes: info.size,
    record: { runtime: a.runtime.ref, runtimeOutcome, layer: diffId, files, uploaded: 0, local: true },
  };
}

/** The staged context as docker would send it: bytes and permission bits, links as links. */
function readContext(dir: string, files: string[]): Map<string, ContextEntry> {
  const context = new Map<string, ContextEntry>();
  for (const file of files) {
    const abs = join(dir, file);
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) context.set(file, { type: 'symlink', target: readlinkSync(abs) });
    else if (st.isFile()) context.set(file, { type: 'file', mode: st.mode & 0o7777, content: readFileSync(abs) });
  }
  return context;
}

/** The runtime-with-dependencies image: its reference, Dockerfile (its whole context), build args and content tag. */
interface RuntimeSpec {
  ref: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  tag: string;
}

const runtimeLock = (ctx: AssembleContext, r: RuntimeSpec) => join(ctx.workspaceRoot, '.nx-docker-delta', 'locks', `runtime-${r.tag}`);

/**
 * The runtime-with-dependencies image in the registry: found there, pushed from the local
 * store, or built once (its Dockerfile is its whole context) and pushed — under a lock per
 * content tag, so services sharing it build it once.
 */
async function ensureRuntime(r: RuntimeSpec, ctx: AssembleContext): Promise<'found' | 'pushed' | 'built'> {
  const { engine } = ctx;
  const present = async () => (await engine.remoteState(r.ref)).state === 'present';
  if (await present()) return 'found';
  return withLock(runtimeLock(ctx, r), async () => {
    if (await present()) return 'found';
    if (await engine.inspectImage(r.ref)) {
      await engine.push(r.ref, { signal: ctx.signal });
      return 'pushed';
    }
    await buildRuntime(r, ctx, true);
    return 'built';
  });
}

/** Local mode: the runtime-with-dependencies image in the local store, or built there once (same lock). */
async function ensureLocalRuntime(r: RuntimeSpec, ctx: AssembleContext): Promise<'found' | 'built'> {
  const { engine } = ctx;
  if (await engine.inspectImage(r.ref)) return 'found';
  return withLock(runtimeLock(ctx, r), async () => {
    if (await engine.inspectImage(r.ref)) return 'found';
    await buildRuntime(r, ctx, false);
    return 'built';
  });
}

async function buildRuntime(r: RuntimeSpec, ctx: AssembleContext, push: boolean): Promise<void> {
  const { engine, settings } = ctx;
  const dir = join(ctx.workspaceRoot, RUNTIME_CONTEXTS_DIR, r.tag);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), r.dockerfile);
  writeFileSync(join(dir, '.gitignore'), '# Staged by nx-docker-delta for docker build: never commit it.\n*\n');
  writeFileSync(join(dir, '.dockerignore'), '*\n');
  ctx.log(`Building runtime with dependencies ${r.ref} (the last stage up to its app COPY, shared by services with the same dependency image)`);
  await engine.build(
    {
      dockerfile: join(dir, 'Dockerfile'),
      context: dir,
      tags: [r.ref],
      buildArgs: r.buildArgs,
      labels: { 'dev.nx-docker-delta.runtime': r.tag },
      platform: settings.platform,
      cacheFrom: [],
      push: push && engine.client.mode === 'buildx',
      secrets: settings.secrets,
      ssh: settings.ssh,
      network: settings.network,
    },
    { onLine: ctx.log, signal: ctx.signal, what: `runtime with dependencies ${r.tag}` }
  );
  if (push && engine.client.mode !== 'buildx') await engine.push(r.ref, { signal: ctx.signal });
}

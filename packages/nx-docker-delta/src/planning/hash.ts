import { createHash } from 'node:crypto';

/** One file that goes into an image, by its path in the build context and the sha256 of its bytes. */
export interface HashedFile {
  path: string;
  sha256: string;
  /** Executable bit matters to the image. */
  executable: boolean;
  /** Permission bits as Docker records them (`0o644`, `0o755`, `0o600`…); part of the image, so of the hash. */
  mode?: number;
  /** A symbolic link (kept as a link by Docker): `sha256` is then the hash of the link text. */
  symlink?: boolean;
}

export interface BaseHashInput {
  dockerfileText: string;
  files: HashedFile[];
  buildArgs: Record<string, string>;
  target?: string;
  platform?: string;
}

/**
 * Content address of a base image: exactly its inputs (Dockerfile text, the files it copies,
 * build args, target stage, platform) and nothing about where it is built or pushed, so every
 * machine computes the same tag for the same base.
 */
export function baseContentHash(input: BaseHashInput): string {
  const hash = createHash('sha256');
  const feed = (label: string, value: string) => hash.update(`${label}\0${value.length}\0${value}\0`);
  feed('format', 'nx-docker-delta/base/1');
  feed('dockerfile', input.dockerfileText.replace(/\r\n/g, '\n'));
  for (const file of [...input.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const extra = `${file.mode !== undefined ? `\0${file.mode.toString(8)}` : ''}${file.symlink ? '\0l' : ''}`;
    feed('file', `${file.path}\0${file.sha256}\0${file.executable ? 'x' : '-'}${extra}`);
  }
  for (const key of Object.keys(input.buildArgs).sort()) feed('arg', `${key}=${input.buildArgs[key]}`);
  feed('target', input.target ?? '');
  feed('platform', input.platform ?? '');
  return hash.digest('hex');
}

/** Tag form of a content hash: short enough to read, long enough never to collide in practice. */
export function contentTag(hash: string, prefix = ''): string {
  return `${prefix}${hash.slice(0, 16)}`;
}

/**
 * Content tag of a service image: the Nx task hash of its inputs plus the platform it is built
 * for (the daemon's when none is set), so an arm64 and an amd64 machine never share a tag.
 */
export function serviceContentTag(inputHash: string, platform: string | undefined): string {
  const hash = createHash('sha256');
  hash.update(`nx-docker-delta/service/1\0${inputHash}\0${platform ?? ''}\0`);
  return `nx-${hash.digest('hex').slice(0, 32)}`;
}

export interface DepsHashInput {
  /** The dependency stage's instructions and the global ARG lines it references (planning/deps.ts). */
  instructions: string[];
  globalArgs: string[];
  /** The files the stage copies, by their path in its context. */
  files: HashedFile[];
  /** The base it installs on: a shared base's name and content tag (location-free), or what BASE_IMAGE names. */
  baseRef: string;
  /** Build args the stage references, with the values this build passes. */
  buildArgs: Record<string, string>;
  platform?: string;
}

/**
 * Content address of a dependency image: the stage's instructions (so its install command),
 * the pruned manifest + lockfile (+ workspace-module manifests) it copies, the base it installs
 * on and the platform — nothing about the service that asked for it, so every service with the
 * same pruned dependency set computes the same tag and shares one image.
 */
export function depsContentHash(input: DepsHashInput): string {
  const hash = createHash('sha256');
  const feed = (label: string, value: string) => hash.update(`${label}\0${value.length}\0${value}\0`);
  feed('format', 'nx-docker-delta/deps/1');
  for (const line of input.globalArgs) feed('global-arg', line);
  for (const line of input.instructions) feed('instruction', line);
  for (const file of [...input.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    feed('file', `${file.path}\0${file.sha256}\0${file.executable ? 'x' : '-'}`);
  }
  feed('base', input.baseRef);
  for (const key of Object.keys(input.buildArgs).sort()) feed('arg', `${key}=${input.buildArgs[key]}`);
  feed('platform', input.platform ?? '');
  return hash.digest('hex');
}

/**
 * Content address of a runtime-with-dependencies image (registry-side assembly): its derived
 * Dockerfile, the runtime image's ID, the build args it is built with (the dependency image
 * among them) and the platform — so services with the same dependency set on the same runtime
 * share one.
 */
export function runtimeContentHash(input: { dockerfile: string; runtimeImageId: string; buildArgs: Record<string, string>; platform?: string }): string {
  const hash = createHash('sha256');
  const feed = (label: string, value: string) => hash.update(`${label}\0${value.length}\0${value}\0`);
  feed('format', 'nx-docker-delta/runtime/1');
  feed('dockerfile', input.dockerfile.replace(/\r\n/g, '\n'));
  feed('runtime', input.runtimeImageId);
  for (const key of Object.keys(input.buildArgs).sort()) feed('arg', `${key}=${input.buildArgs[key]}`);
  feed('platform', input.platform ?? '');
  return hash.digest('hex');
}

/**
 * Docker helpers for the Docker suites: preflight (fail, or skip loudly only when asked),
 * image queries and cleanup. Every image a suite creates carries a unique namespace, and
 * cleanup removes only references containing it — never an image the suite did not create.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The client the helpers use: what the test runner found (NX_DOCKER_BIN), else Debian's BuildKit client. */
export const DOCKER = process.env.NX_DOCKER_BIN || (existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker');

export interface DockerResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function docker(args: string[], env: Record<string, string> = {}): DockerResult {
  const result = spawnSync(DOCKER, args, {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status ?? 1, stdout: result.stdout ?? '', stderr: (result.stderr ?? '') + (result.error ? String(result.error) : '') };
}

export function dockerOrThrow(args: string[]): string {
  const result = docker(args);
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

export interface InspectedImage {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Config: { Labels: Record<string, string> | null };
}

/** `docker image inspect ref`, or undefined when the image is not in the local store. */
export function inspectImage(ref: string): InspectedImage | undefined {
  const result = docker(['image', 'inspect', '--format', '{{json .}}', ref]);
  return result.status === 0 ? (JSON.parse(result.stdout.trim()) as InspectedImage) : undefined;
}

/** Every `repository:tag` in the local store whose repository contains `needle`. */
export function localRefs(needle: string): string[] {
  const out = dockerOrThrow(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((ref) => ref && !ref.endsWith(':<none>') && ref.slice(0, ref.lastIndexOf(':')).includes(needle))
    .sort();
}

/** Tags of one repository in the local store. */
export function localTags(repository: string): string[] {
  return localRefs(repository)
    .filter((ref) => ref.slice(0, ref.lastIndexOf(':')) === repository)
    .map((ref) => ref.slice(ref.lastIndexOf(':') + 1));
}

/**
 * Removes images by reference (untags; the image goes when its last tag does). By name,
 * never by ID, so an image that someone else also tagged survives.
 */
export function removeRefs(refs: string[]): void {
  if (refs.length === 0) return;
  const result = docker(['rmi', ...refs]);
  if (result.status !== 0) throw new Error(`docker rmi ${refs.join(' ')} failed: ${result.stderr.trim()}`);
}

/**
 * Empties the daemon's whole build cache (`docker builder prune -af`), as Docker's own GC or a
 * CI cleanup would. Shared with every other build on this daemon: they rebuild, nothing is lost.
 */
export function pruneBuildCache(): void {
  dockerOrThrow(['builder', 'prune', '-af']);
}

/**
 * Whether push mode leaves a base or dependency image that is in the registry there (the
 * engine's `leavesImagesInRegistry`): every docker client; podman pulls it.
 */
export function leavesRegistryImagesThere(): boolean {
  return !/podman/i.test(DOCKER);
}

/**
 * Whether a build reads such an image from the registry itself (the engine's
 * `buildsFromRegistry`): Docker 23+. Docker 20.10's BuildKit must not, so the build that
 * needs it pulls it first ("Pulling <ref> for this build: …").
 */
export function buildsReadRegistryImages(): boolean {
  const version = docker(['version', '--format', '{{.Server.Version}}']).stdout.trim();
  return Number(/^(\d+)\./.exec(version)?.[1] ?? 0) >= 23 && !/podman/i.test(DOCKER);
}

/** Why Docker cannot be used here, or undefined when the daemon answers. */
export function dockerProblem(): string | undefined {
  const info = docker(['version', '--format', '{{.Server.Version}}']);
  if (info.status !== 0 || !info.stdout.trim()) {
    return `no Docker daemon answers with ${DOCKER} (${info.stderr.trim().split('\n').pop() || 'no output'})`;
  }
  return undefined;
}

/** Local images the suites build FROM (tools/docker-env/make-base-images.sh makes them). */
export function missingImages(refs: string[]): string[] {
  return refs.filter((ref) => !inspectImage(ref));
}

/**
 * A docker client that cannot build with BuildKit: the machine's new CLI without the buildx
 * plugin when there is one (as on the test machines, /usr/local/bin/docker), else a stub that
 * answers `version` like a Docker 28 client and knows no `buildx`.
 */
export function clientWithoutBuildKit(dir: string): string {
  const candidate = '/usr/local/bin/docker';
  if (existsSync(candidate)) {
    const version = spawnSync(candidate, ['version', '--format', '{{.Client.Version}}'], { encoding: 'utf8' });
    const buildx = spawnSync(candidate, ['buildx', 'version'], { encoding: 'utf8' });
    const major = Number((version.stdout ?? '').trim().split('.')[0]);
    if (buildx.status !== 0 && major >= 23) return candidate;
  }
  const stub = join(dir, 'docker-without-buildkit');
  writeFileSync(
    stub,
    [
      '#!/bin/sh',
      'case "$1" in',
      `  version) echo '{"Client":{"Version":"28.0.0"},"Server":{"Version":"28.0.0"}}' ;;`,
      `  *) echo "docker: '$1' is not a docker command." >&2; exit 1 ;;`,
      'esac',
      '',
    ].join('\n')
  );
  chmodSync(stub, 0o755);
  return stub;
}

/** Prints a banner that cannot be missed in a CI log or a terminal. */
export function loudNotice(lines: string[]): void {
  const bar = '#'.repeat(78);
  // eslint-disable-next-line no-console
  console.warn(['', bar, '#', ...lines.map((l) => `#   ${l}`), '#', bar, ''].join('\n'));
}

/**
 * Decides whether a Docker suite runs. Returns the skip reason (only possible with
 * NXDD_SKIP_DOCKER=1 outside CI, announced loudly); throws when Docker is needed but
 * missing — under CI=true and locally alike, so a broken setup is never a silent pass.
 */
export function dockerSuiteGate(suite: string, needs: { images?: string[] } = {}): string | undefined {
  const ci = /^(1|true)$/i.test(process.env.CI ?? '');
  if (process.env.NXDD_SKIP_DOCKER === '1') {
    if (ci) throw new Error(`${suite}: NXDD_SKIP_DOCKER=1 is not allowed under CI=true — the Docker suites must run in CI.`);
    loudNotice([`DOCKER SUITE SKIPPED: ${suite}`, 'because NXDD_SKIP_DOCKER=1 is set (never allowed under CI=true).']);
    return 'NXDD_SKIP_DOCKER=1';
  }
  const problems: string[] = [];
  const daemon = dockerProblem();
  if (daemon) problems.push(daemon);
  else if (needs.images?.length) {
    const missing = missingImages(needs.images);
    if (missing.length) problems.push(`missing local images ${missing.join(', ')} (run bash tools/docker-env/make-base-images.sh)`);
  }
  if (problems.length) {
    throw new Error(
      `${suite} needs Docker: ${problems.join('; ')} — run \`npm test\` (it provisions Docker and the registry), or set NXDD_SKIP_DOCKER=1 to skip locally.`
    );
  }
  return undefined;
}

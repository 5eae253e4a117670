/**
 * podman helpers for the podman suite: podman keeps its own image store (/var/lib/containers),
 * so the docker helpers cannot see its images. Cleanup removes only references containing the
 * suite's namespace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PODMAN = process.env.NXDD_TEST_PODMAN || (existsSync('/usr/bin/podman') ? '/usr/bin/podman' : 'podman');

export function podman(args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(PODMAN, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status ?? 1, stdout: result.stdout ?? '', stderr: (result.stderr ?? '') + (result.error ? String(result.error) : '') };
}

/** Why podman cannot be used here, or undefined when `podman version` answers. */
export function podmanProblem(): string | undefined {
  const version = podman(['version', '--format', '{{.Client.Version}}']);
  return version.status === 0 && version.stdout.trim() ? undefined : `podman does not answer (${PODMAN}: ${version.stderr.trim().split('\n').pop() || 'not installed'})`;
}

/** The image ID as --iidfile writes it (`sha256:…`), or undefined when podman's store lacks `ref`. */
export function podmanImageId(ref: string): string | undefined {
  const result = podman(['image', 'inspect', '--format', '{{.Id}}', ref]);
  return result.status === 0 ? `sha256:${result.stdout.trim()}` : undefined;
}

/** `localhost/<ns>/x:tag` references in podman's store whose repository contains `needle`. */
export function podmanRefs(needle: string): string[] {
  const result = podman(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']);
  return result.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((ref) => ref && !ref.endsWith(':<none>') && ref.slice(0, ref.lastIndexOf(':')).includes(needle))
    .sort();
}

export function podmanRemove(refs: string[]): void {
  if (refs.length === 0) return;
  const result = podman(['rmi', ...refs]);
  if (result.status !== 0) throw new Error(`podman rmi ${refs.join(' ')} failed: ${result.stderr.trim()}`);
}

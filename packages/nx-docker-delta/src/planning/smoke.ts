/**
 * The start check (`docker-build --smoke`): which port proves a service is up, and what the
 * outcome of one run means. Pure; the engine runs the container.
 */

/** Default seconds the start check waits for a service to listen or exit 0. */
export const SMOKE_DEFAULT_TIMEOUT_S = 30;

/**
 * The TCP port to wait for: the one asked for, else the lowest the image EXPOSEs
 * (`["8080/tcp", "3000/tcp"]` → 3000), else none (then the check only watches the exit).
 */
export function smokePort(exposed: readonly string[], requested?: number): number | undefined {
  if (requested !== undefined) return requested;
  const tcp = exposed
    .map((p) => /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(p.trim()))
    .filter((m): m is RegExpExecArray => !!m && (m[2] ?? 'tcp') === 'tcp')
    .map((m) => Number(m[1]));
  return tcp.length ? Math.min(...tcp) : undefined;
}

/** What one start check saw. */
export type SmokeObservation =
  | { kind: 'listening'; port: number; afterMs: number }
  | { kind: 'exited'; code: number; afterMs: number }
  | { kind: 'running'; afterMs: number }
  | { kind: 'interrupted' };

/** Passed, or the failure sentence (the container's last log lines are shown above it). */
export function smokeVerdict(
  o: SmokeObservation,
  ctx: { project: string; ref: string; port?: number; timeoutS: number }
): { ok: true; line: string } | { ok: false; message: string } {
  switch (o.kind) {
    case 'listening':
      return { ok: true, line: `✔ start check: ${ctx.project} listens on port ${o.port} after ${(o.afterMs / 1000).toFixed(1)}s` };
    case 'exited':
      return o.code === 0
        ? { ok: true, line: `✔ start check: ${ctx.project} ran and exited 0 after ${(o.afterMs / 1000).toFixed(1)}s` }
        : {
            ok: false,
            message: `Start check of ${ctx.ref} failed: the container exited ${o.code} after ${(o.afterMs / 1000).toFixed(1)}s (its last log lines are above) — fix the crash; "Cannot find module" means the image lacks a package its code loads.`,
          };
    case 'running':
      return ctx.port === undefined
        ? { ok: true, line: `✔ start check: ${ctx.project} still running after ${ctx.timeoutS}s (the image EXPOSEs no port to wait for; set smokePort to check one)` }
        : {
            ok: false,
            message: `Start check of ${ctx.ref} failed: nothing listened on port ${ctx.port} within ${ctx.timeoutS}s (its last log lines are above) — make the service listen on ${ctx.port}, set smokePort to the port it uses, or raise smokeTimeout.`,
          };
    case 'interrupted':
      return { ok: false, message: `Start check of ${ctx.ref} interrupted — the container was removed; run the target again.` };
  }
}

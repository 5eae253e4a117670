import { DockerEngine, DockerError } from '../engine/docker';
import { sanitizeTag } from '../planning/image-ref';
import { SMOKE_DEFAULT_TIMEOUT_S, smokePort, smokeVerdict } from '../planning/smoke';

/** Options of the start check (`docker-build --smoke`). */
export interface SmokeOptions {
  /** Start each service image after its build and fail when it crashes at start. Default false. */
  smoke?: boolean;
  /** Seconds to wait for the service to listen on its port or exit 0, e.g. `30`. Default 30. */
  smokeTimeout?: number;
  /** TCP port that proves the service is up, e.g. `3000`. Default: the lowest port the image EXPOSEs. */
  smokePort?: number;
}

/**
 * Runs the built image until it listens on its port or exits 0; a crash at start (or a service
 * that never listens) throws with the container's last log lines, so CI stops before a deploy.
 */
export async function checkStart(
  ref: string,
  o: SmokeOptions & { project: string; engine: DockerEngine; log: (line: string) => void; signal?: AbortSignal }
): Promise<void> {
  let info = await o.engine.inspectImage(ref);
  if (!info && (await o.engine.pull(ref, { signal: o.signal }))) info = await o.engine.inspectImage(ref);
  if (!info) throw new DockerError(`Start check cannot run ${ref}: it is neither local nor pullable — run docker-build without --smoke to see why.`);
  const port = smokePort(info.exposedPorts, o.smokePort);
  const timeoutS = o.smokeTimeout ?? SMOKE_DEFAULT_TIMEOUT_S;
  o.log(`Start check of ${o.project}: running ${ref} until it ${port !== undefined ? `listens on port ${port} or ` : ''}exits 0 (at most ${timeoutS}s)`);
  const { observation, logs } = await o.engine.startCheck(ref, {
    port,
    timeoutMs: timeoutS * 1000,
    signal: o.signal,
    name: `nxdd-smoke-${sanitizeTag(o.project).toLowerCase()}-${process.pid}-${Date.now().toString(36)}`,
  });
  const verdict = smokeVerdict(observation, { project: o.project, ref, port, timeoutS });
  if (!verdict.ok) throw new DockerError(verdict.message, logs);
  o.log(verdict.line);
}

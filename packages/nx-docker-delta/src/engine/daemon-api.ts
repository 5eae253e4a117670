// The Docker Engine API on the daemon's unix socket, for the few questions a delta asks the local
// image store: inspect an image, read its history, load an assembled image. Each of them through
// the docker CLI costs a CLI start-up (25–100 ms on a 2-core machine) for a few milliseconds of
// daemon work, and a one-service delta asked six or seven of them on its critical path. Builds,
// pushes, pulls and logins stay with the CLI (credential helpers, buildx, progress output).
import { request } from 'node:http';

/** One answer of the daemon: its status and body. */
export interface ApiResponse {
  status: number;
  body: string;
}

/** The daemon could not be asked (socket gone, permission denied): the caller uses the CLI. */
export class ApiUnavailableError extends Error {}

export interface DaemonApiOptions {
  socket: string;
  /** Per request; a daemon that does not answer within it is treated as unavailable. */
  timeoutMs?: number;
}

/** Talks HTTP/1.1 to dockerd on a unix socket (no API version prefix: the daemon's own). */
export class DaemonApi {
  constructor(private readonly options: DaemonApiOptions) {}

  /** `GET path`; 4xx/5xx are answers (the caller reads them), a failed connection throws ApiUnavailableError. */
  get(path: string, signal?: AbortSignal): Promise<ApiResponse> {
    return this.send('GET', path, undefined, signal);
  }

  /** `POST path` with a body (a tar for /images/load). */
  post(path: string, body: Buffer, contentType: string, signal?: AbortSignal): Promise<ApiResponse> {
    return this.send('POST', path, { data: body, contentType }, signal);
  }

  private send(method: string, path: string, body: { data: Buffer; contentType: string } | undefined, signal?: AbortSignal): Promise<ApiResponse> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.options.socket,
          path,
          method,
          headers: body ? { 'Content-Type': body.contentType, 'Content-Length': body.data.length } : undefined,
          timeout: this.options.timeoutMs ?? 120_000,
          signal,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (error) => reject(new ApiUnavailableError(error.message)));
        }
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from ${this.options.socket} within ${this.options.timeoutMs ?? 120_000} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.name === 'AbortError') reject(error);
        else reject(new ApiUnavailableError(`${error.code ?? error.name}: ${error.message}`));
      });
      req.end(body?.data);
    });
  }
}

/** The path of an image in the API: references go in as they are (the daemon normalizes them, as the CLI's client does). */
export function imagePath(ref: string, what: 'json' | 'history'): string {
  return `/images/${ref}/${what}`;
}

/** One entry of `GET /images/{name}/history` (newest first, as `docker image history`). */
export interface ApiHistoryEntry {
  Created?: number;
  CreatedBy?: string;
  Comment?: string;
  Size?: number;
}

/**
 * The API's history entry in the shape `docker image history --no-trunc --human=false --format
 * '{{json .}}'` prints (what configFromStore reads): `Created` is Unix seconds there, an RFC 3339
 * time here — in UTC, whatever the machine's time zone, so the config is the same everywhere.
 */
export function historyEntryFromApi(entry: ApiHistoryEntry): { CreatedAt?: string; CreatedBy?: string; Comment?: string; Size?: number } {
  return {
    ...(entry.Created ? { CreatedAt: new Date(entry.Created * 1000).toISOString().replace(/\.000Z$/, 'Z') } : {}),
    ...(entry.CreatedBy !== undefined ? { CreatedBy: entry.CreatedBy } : {}),
    ...(entry.Comment !== undefined ? { Comment: entry.Comment } : {}),
    ...(entry.Size !== undefined ? { Size: entry.Size } : {}),
  };
}

/**
 * What `POST /images/load` streamed back (one JSON message per line): the images it loaded, or
 * the daemon's error — which comes with status 200 inside the stream, not as the status.
 */
export function parseLoadStream(body: string): { loaded: string[]; error?: string } {
  const loaded: string[] = [];
  for (const line of body.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    let message: { stream?: string; error?: string; errorDetail?: { message?: string } };
    try {
      message = JSON.parse(line);
    } catch {
      continue;
    }
    if (message.error || message.errorDetail?.message) return { loaded, error: message.errorDetail?.message ?? message.error };
    for (const m of (message.stream ?? '').matchAll(/^Loaded image: (\S+)$/gm)) loaded.push(m[1]);
  }
  return { loaded };
}

/** The daemon's error message in an API error body (`{"message": "..."}`), or the body itself. */
export function apiErrorMessage(body: string): string {
  try {
    const message = JSON.parse(body)?.message;
    if (typeof message === 'string') return message;
  } catch {
    /* not JSON */
  }
  return body.trim().split('\n').pop() ?? '';
}

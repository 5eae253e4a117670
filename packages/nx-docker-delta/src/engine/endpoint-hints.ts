// One scheme discovery per registry and machine, not per task process. An insecure registry
// (every loopback one) is tried over HTTPS first, as the docker daemon does; a plain-HTTP
// registry refuses that handshake, so every docker-service and docker-build process of a push
// run paid one failed TLS connection before its first real request. What the last discovery
// found is remembered here and tried first; when it no longer answers, discovery runs in the
// daemon's order again, so a stale hint costs one failed request, never a wrong answer.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type Scheme = 'http' | 'https';

/** Where a registry host was last reached. */
export interface EndpointHints {
  read(host: string): Scheme | undefined;
  write(host: string, scheme: Scheme): void;
}

const FORMAT = 'nx-docker-delta-registry-endpoints/1';

/** Hints kept in one small JSON file (the workspace data directory); unreadable or unwritable files only cost a discovery. */
export function fileEndpointHints(file: string): EndpointHints {
  const load = (): Record<string, Scheme> => {
    try {
      const data = JSON.parse(readFileSync(file, 'utf8'));
      return data?.format === FORMAT && data.hosts && typeof data.hosts === 'object' ? data.hosts : {};
    } catch {
      return {};
    }
  };
  return {
    read(host) {
      const scheme = load()[host];
      return scheme === 'http' || scheme === 'https' ? scheme : undefined;
    },
    write(host, scheme) {
      const hosts = load();
      if (hosts[host] === scheme) return;
      try {
        mkdirSync(dirname(file), { recursive: true });
        const temp = `${file}.${process.pid}.tmp`;
        writeFileSync(temp, JSON.stringify({ format: FORMAT, hosts: { ...hosts, [host]: scheme } }) + '\n');
        renameSync(temp, file);
      } catch {
        // Not remembered: the next process discovers the scheme again.
      }
    },
  };
}

/**
 * The order to try an insecure registry's schemes in: the remembered one first, else the
 * daemon's (HTTPS, then HTTP). Pure.
 */
export function schemeOrder(hint: Scheme | undefined): Scheme[] {
  return hint === 'http' ? ['http', 'https'] : ['https', 'http'];
}

/**
 * The `org.opencontainers.image.source` form of a git remote: canonical https, never with
 * credentials. CI checkouts often carry a token in the origin URL
 * (`https://gitlab-ci-token:<token>@gitlab.com/o/r.git`, `https://x-access-token:<token>@github.com/o/r`),
 * and a label is readable by anyone who can pull the image.
 * Returns undefined for remotes that have no public web form (local paths, file://).
 */
export function canonicalSourceUrl(remote: string | undefined): string | undefined {
  const raw = remote?.trim();
  if (!raw) return undefined;
  // scp-like ssh syntax: [user@]host:path (no scheme, a colon before the first slash).
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/)(.+)$/.exec(raw);
  if (scp && !/^[a-zA-Z]:\\/.test(raw)) return tidy(`https://${scp[1]}/${scp[2]}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (!/^(https?|ssh|git|git\+ssh|ssh\+git):$/.test(url.protocol)) return undefined;
  // ssh ports (ssh://git@host:7999/…) are not web ports; http(s) ports are kept.
  const port = /^https?:$/.test(url.protocol) && url.port ? `:${url.port}` : '';
  const scheme = url.protocol === 'http:' ? 'http' : 'https';
  return tidy(`${scheme}://${url.hostname}${port}${url.pathname}`);
}

function tidy(url: string): string {
  return url.replace(/\/+$/, '').replace(/\.git$/, '');
}

/** Docker reference grammar (distribution/reference), enough to reject what `docker build -t` would. */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export class ImageRefError extends Error {}

/** `127.0.0.1:5000/team/api:nx-1a2b` → parts. No tag → `tag` undefined. */
export interface ImageRef {
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImageRef(ref: string): ImageRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split('/');
  let registry: string | undefined;
  if (parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')) {
    registry = parts.shift();
  }
  return { registry, repository: parts.join('/'), tag, digest };
}

export function formatImageRef(ref: ImageRef): string {
  const name = ref.registry ? `${ref.registry}/${ref.repository}` : ref.repository;
  return `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Throws one sentence naming the fix when `name` (no tag) is not a valid image name. */
export function assertImageName(name: string, what = 'image name'): void {
  const { registry, repository, tag, digest } = parseImageRef(name);
  if (digest !== undefined) {
    // `@acme/api` (an npm scope) parses as an empty name with a digest.
    throw new ImageRefError(
      `Invalid ${what} "${name}": "@" is only for digests, not names — rename it, e.g. "${sanitizeRepository(repository || digest) || 'app'}".`
    );
  }
  if (tag !== undefined) {
    throw new ImageRefError(`Invalid ${what} "${name}": give the name without a tag and put tags in the "tags" option.`);
  }
  if (registry !== undefined && !DOMAIN.test(registry)) {
    throw new ImageRefError(`Invalid ${what} "${name}": registry "${registry}" is not a host[:port] — fix the registry option or ${'NX_DOCKER_REGISTRY'}.`);
  }
  const bad = repository.split('/').find((c) => !COMPONENT.test(c));
  if (bad !== undefined) {
    throw new ImageRefError(
      `Invalid ${what} "${name}": "${bad}" must be lowercase letters, digits and separators (. _ __ -) — rename it, e.g. "${sanitizeRepository(bad) || 'app'}".`
    );
  }
}

/** Throws one sentence naming the fix when `tag` is not a valid tag. */
export function assertTag(tag: string): void {
  if (!TAG.test(tag)) {
    throw new ImageRefError(
      `Invalid image tag "${tag}": tags are up to 128 characters of letters, digits, "_", "." and "-", not starting with "." or "-" — e.g. "${sanitizeTag(tag) || 'latest'}".`
    );
  }
}

/** Project name → a valid repository path component (`@acme/api` → `acme-api`). */
export function sanitizeRepository(name: string): string {
  return name
    .toLowerCase()
    .replace(/^@/, '')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/[._-]*([._-])[._-]*/g, '$1')
    .replace(/^[._-]+|[._-]+$/g, '');
}

export function sanitizeTag(tag: string): string {
  return tag.replace(/[^\w.-]+/g, '-').replace(/^[.-]+/, '').slice(0, 128);
}

/** Joins registry (may include a path: `127.0.0.1:5000/team`) and repository. */
export function qualify(repository: string, registry?: string): string {
  if (!registry) return repository;
  return `${registry.replace(/\/+$/, '')}/${repository}`;
}

/** Where a service image goes, computed from today's settings and its content tag. */
export function serviceImageRef(input: {
  project: string;
  image?: string;
  /** Suffix of a project's further images (`docker-service-<variant>` targets). */
  variant?: string;
  imagePrefix: string;
  registry?: string;
  contentTag: string;
}): {
  image: string;
  ref: string;
} {
  const image = qualify(input.image ?? `${input.imagePrefix}${sanitizeRepository(input.project)}${input.variant ? `-${input.variant}` : ''}`, input.registry);
  return { image, ref: `${image}:${input.contentTag}` };
}

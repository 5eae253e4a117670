import { ENV } from '../constants';
import { BuildInputSpecError, BuildSecret, parseNetwork, parseSecretSpec, parseSshSpec, splitSpecList } from '../planning/build-inputs';
import { assertImageName, assertTag } from '../planning/image-ref';
import type { SmokeOptions } from './smoke';
import { readRcSecrets, resolveSecretSpecs } from './secrets';

/**
 * Options shared by every image target (schema.json of each executor documents them). The start
 * check (`smoke…`) runs in docker-build; the build targets accept it because docker-build forwards
 * its command-line options to them.
 */
export interface ImageOptions extends SmokeOptions {
  /** Registry (and optional namespace) to tag and push to, e.g. `127.0.0.1:5000/team`. Env: NX_DOCKER_REGISTRY. */
  registry?: string;
  /** Push after building (like the seed's PUSH=true). Env: PUSH or NX_DOCKER_PUSH. */
  push?: boolean;
  /** Target platform, e.g. `linux/amd64`. Env: NX_DOCKER_PLATFORM. */
  platform?: string;
  /**
   * Extra tags besides the content tag, e.g. `["latest", "git-{shortSha}"]` (`{sha}` and `{shortSha}` are the
   * workspace's HEAD commit). Env: NX_DOCKER_TAGS (comma-separated).
   */
  tags?: string[];
  /** Registry for BuildKit cache export (buildx only), e.g. `127.0.0.1:5000/cache`. Env: NX_DOCKER_CACHE_REGISTRY. */
  cacheRegistry?: string;
  /** docker binary to use. Env: NX_DOCKER_BIN. Default: the first BuildKit-capable `docker` on PATH. */
  dockerBin?: string;
  /** Prefix of image repositories, e.g. `acme/`. */
  imagePrefix?: string;
  /**
   * Registries reached over plain HTTP or unverified TLS, as `host[:port]` or IPv4 CIDR, e.g. `["registry.lan:5000"]`.
   * Loopback always is; the docker daemon's own `insecure-registries` (/etc/docker/daemon.json) count too.
   * Env: NX_DOCKER_INSECURE_REGISTRIES (comma-separated).
   */
  insecureRegistries?: string[];
  /**
   * Assemble the service image without `docker build` (one deterministic app layer on the shared
   * runtime-with-dependencies image: in the registry in push mode, `docker load` in local mode)
   * when the Dockerfile is one the plugin generated. `false` always builds with docker. Default true. Env: NX_DOCKER_ASSEMBLE=0 turns it off.
   */
  assemble?: boolean;
}

/** Private inputs of a build (service and base executors; verify builds nothing). */
export interface BuildInputOptions {
  /**
   * BuildKit secrets in Docker's syntax, e.g. `["id=npm,src=/run/secrets/npm", "id=token,env=NPM_TOKEN"]`;
   * RUN steps read them with `--mount=type=secret,id=…`. Env: NX_DOCKER_SECRETS (`;`-separated) adds more.
   */
  secrets?: string[];
  /** SSH agent sockets or keys to forward, e.g. `["default"]` (for `git+ssh` dependencies). Env: NX_DOCKER_SSH (`;`-separated). */
  ssh?: string[];
  /** Network of RUN steps: `default`, `host` (reach services on the build host) or `none`. Env: NX_DOCKER_NETWORK. */
  network?: string;
  /** Pass the workspace's `.npmrc` / `.yarnrc.yml` / `.yarnrc` to the build as secrets `npmrc` / `yarnrc`. Default true. */
  packageManagerSecrets?: boolean;
}

export interface ImageSettings {
  registry?: string;
  push: boolean;
  platform?: string;
  tags: string[];
  cacheRegistry?: string;
  dockerBin?: string;
  imagePrefix: string;
  insecureRegistries: string[];
  /** Secrets for every build (user ones, then the workspace's rc files); values never logged. */
  secrets: BuildSecret[];
  ssh: string[];
  network?: string;
  /** Registry-side assembly allowed (push mode decides whether it happens). */
  assemble: boolean;
}

export class SettingsError extends Error {}

/** Options win over the environment; the environment is read here and nowhere else. */
export function resolveSettings(
  options: ImageOptions & BuildInputOptions,
  env: NodeJS.ProcessEnv,
  git: { sha?: string } = {},
  workspaceRoot?: string
): ImageSettings {
  const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
  const registry = (options.registry ?? env[ENV.registry] ?? '').trim().replace(/\/+$/, '') || undefined;
  const push = options.push ?? (truthy(env[ENV.push]) || truthy(env[ENV.pushLong]));
  if (push && !registry) {
    throw new SettingsError('Push mode needs a registry — set the registry option or NX_DOCKER_REGISTRY (e.g. 127.0.0.1:5000).');
  }
  if (registry) {
    assertPrefix(`${registry}/`, `Invalid registry "${registry}": write host[:port] with an optional lowercase path, e.g. 127.0.0.1:5000/team — fix the registry option or NX_DOCKER_REGISTRY.`);
  }
  const tags = [...new Set(requestedTags(options, env).map((t) => expandTag(t, git.sha)))];
  tags.forEach(assertTag);
  const imagePrefix = options.imagePrefix ?? '';
  if (imagePrefix) {
    assertPrefix(imagePrefix, `Invalid imagePrefix "${imagePrefix}": use lowercase path components ending in "/" or "-", e.g. "acme/" — fix the imagePrefix option.`);
  }
  const inputs = workspaceRoot ? resolveBuildInputs(options, env, workspaceRoot) : { secrets: [], ssh: [], network: undefined };
  return {
    registry,
    push,
    ...inputs,
    platform: options.platform ?? (env[ENV.platform] || undefined),
    tags,
    cacheRegistry: options.cacheRegistry ?? (env[ENV.cacheRegistry] || undefined),
    dockerBin: options.dockerBin ?? (env[ENV.dockerBin] || undefined),
    imagePrefix,
    assemble: options.assemble ?? !/^(0|false|no|off)$/i.test((env[ENV.assemble] ?? '').trim()),
    insecureRegistries: [
      ...new Set([...(options.insecureRegistries ?? []), ...(env[ENV.insecureRegistries] ?? '').split(',')].map((r) => r.trim()).filter(Boolean)),
    ],
  };
}

/**
 * Secrets, SSH and network of a build, from options and environment; with the workspace's rc
 * files as secrets. Only executors that build ask for them (resolveSettings with a workspace
 * root): checking an image needs no token.
 */
export function resolveBuildInputs(
  options: BuildInputOptions,
  env: NodeJS.ProcessEnv,
  workspaceRoot: string
): Pick<ImageSettings, 'secrets' | 'ssh' | 'network'> {
  let secrets: BuildSecret[];
  let ssh: string[];
  let network: string | undefined;
  try {
    const specs = [...(options.secrets ?? []), ...splitSpecList(env[ENV.secrets])].map(parseSecretSpec);
    secrets = resolveSecretSpecs(specs, env);
    ssh = [...(options.ssh ?? []), ...splitSpecList(env[ENV.ssh])].map(parseSshSpec);
    const networkValue = options.network ?? (env[ENV.network] || undefined);
    network = networkValue === undefined ? undefined : parseNetwork(networkValue);
  } catch (error) {
    if (error instanceof BuildInputSpecError) throw new SettingsError(error.message);
    throw error;
  }
  if (options.packageManagerSecrets !== false) {
    const own = new Set(secrets.map((s) => s.id));
    secrets = [...secrets, ...readRcSecrets(workspaceRoot, env).filter((s) => !own.has(s.id)).map(({ id, text }) => ({ id, text }))];
  }
  return { secrets, ssh: [...new Set(ssh)], network };
}

/** The tags asked for, before `{sha}`/`{shortSha}` are expanded: the option (default `latest`) and NX_DOCKER_TAGS. */
function requestedTags(options: Pick<ImageOptions, 'tags'>, env: NodeJS.ProcessEnv): string[] {
  const envTags = (env[ENV.tags] ?? '').split(',').map((t) => t.trim()).filter(Boolean);
  return [...(options.tags ?? ['latest']), ...envTags];
}

const COMMIT_TAG = /\{(sha|shortSha)\}/;

/** Does resolving these tags need the HEAD commit (a git call)? */
export function usesCommitTags(options: Pick<ImageOptions, 'tags'>, env: NodeJS.ProcessEnv): boolean {
  return requestedTags(options, env).some((t) => COMMIT_TAG.test(t));
}

/** `{sha}` / `{shortSha}` → the HEAD commit, so commit tags need no scripting. */
export function expandTag(tag: string, sha: string | undefined): string {
  if (!COMMIT_TAG.test(tag)) return tag;
  if (!sha) {
    throw new SettingsError(`Tag "${tag}" uses {sha}/{shortSha} but the workspace is not a git checkout with a commit — commit first or drop that tag.`);
  }
  return tag.replace(/\{sha\}/g, sha).replace(/\{shortSha\}/g, sha.slice(0, 7));
}

/** A registry or prefix is valid when a one-letter repository appended to it makes a valid name. */
function assertPrefix(prefix: string, message: string): void {
  try {
    assertImageName(`${prefix}x`);
  } catch {
    throw new SettingsError(message);
  }
}

/** The platform images are built for: the configured one, else the daemon's own (`linux/amd64`). */
export function targetPlatform(settings: Pick<ImageSettings, 'platform'>, engine: { client: { platform?: string } }): string | undefined {
  return settings.platform ?? engine.client.platform;
}

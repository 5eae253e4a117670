/** The engine flavour the probe found: docker with buildx, docker's classic BuildKit, or podman (buildah). */
export type BuilderMode = 'buildx' | 'buildkit' | 'podman';

/** Everything one image build needs; built by the planner, executed by the engine. */
export interface BuildPlan {
  mode: BuilderMode;
  /** Absolute path of the Dockerfile. */
  dockerfile: string;
  /** Absolute path of the build context. */
  context: string;
  /** Fully qualified references to tag the image with (first one is the content tag). */
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  platform?: string;
  /** Image references to import layer cache from. */
  cacheFrom: string[];
  /** Registry reference to export `mode=max` cache to (buildx only). */
  cacheTo?: string;
  /** Push from the builder (buildx) — the classic path pushes afterwards. */
  push: boolean;
  /** Where docker writes the image ID (`--iidfile`). */
  iidFile: string;
  /** Where buildx writes build metadata (`--metadata-file`). */
  metadataFile?: string;
  noCache?: boolean;
  /** BuildKit secrets, each a file (`--secret id=…,src=…`): never a value on the command line. */
  secrets?: Array<{ id: string; src: string }>;
  /** SSH agent sockets or keys to forward (`--ssh default`, `--ssh id=path`). */
  ssh?: string[];
  /** `--network` of RUN steps, e.g. `host`. */
  network?: string;
}

/** argv and extra env for `docker` that carries out a plan. Never a joined string. */
export function buildArgv(plan: BuildPlan): { args: string[]; env: Record<string, string> } {
  if (plan.mode === 'podman') return podmanBuildArgv(plan);
  const args = plan.mode === 'buildx' ? ['buildx', 'build'] : ['build'];
  args.push('--progress=plain', '--file', plan.dockerfile, '--iidfile', plan.iidFile);
  for (const tag of plan.tags) args.push('--tag', tag);
  for (const [key, value] of sortedEntries(plan.buildArgs)) args.push('--build-arg', `${key}=${value}`);
  for (const [key, value] of sortedEntries(plan.labels)) args.push('--label', `${key}=${value}`);
  if (plan.target) args.push('--target', plan.target);
  if (plan.platform) args.push('--platform', plan.platform);
  if (plan.noCache) args.push('--no-cache');
  if (plan.network) args.push('--network', plan.network);
  for (const secret of [...(plan.secrets ?? [])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    args.push('--secret', `id=${secret.id},src=${secret.src}`);
  }
  for (const ssh of plan.ssh ?? []) args.push('--ssh', ssh);

  if (plan.mode === 'buildx') {
    for (const ref of plan.cacheFrom) args.push('--cache-from', `type=registry,ref=${ref}`);
    if (plan.cacheTo) args.push('--cache-to', `type=registry,ref=${plan.cacheTo},mode=max`);
    else args.push('--cache-to', 'type=inline');
    if (plan.metadataFile) args.push('--metadata-file', plan.metadataFile);
    args.push(plan.push ? '--push' : '--load');
  } else {
    // Classic BuildKit has no --cache-to: embed cache metadata in the image so a later
    // `--cache-from <pushed image>` on another machine can reuse its layers.
    args.push('--build-arg', 'BUILDKIT_INLINE_CACHE=1');
    for (const ref of plan.cacheFrom) args.push('--cache-from', ref);
  }
  args.push(plan.context);
  return { args, env: plan.mode === 'buildkit' ? { DOCKER_BUILDKIT: '1' } : {} };
}

/**
 * podman build (buildah): `--layers` keeps an intermediate image per step, which is podman's
 * layer cache. No `--cache-from`: podman reads it as a registry repository of per-step cache
 * images (not an image with inline cache), which the plugin does not write.
 */
function podmanBuildArgv(plan: BuildPlan): { args: string[]; env: Record<string, string> } {
  const args = ['build', '--layers', '--file', plan.dockerfile, '--iidfile', plan.iidFile];
  for (const tag of plan.tags) args.push('--tag', tag);
  for (const [key, value] of sortedEntries(plan.buildArgs)) args.push('--build-arg', `${key}=${value}`);
  for (const [key, value] of sortedEntries(plan.labels)) args.push('--label', `${key}=${value}`);
  if (plan.target) args.push('--target', plan.target);
  if (plan.platform) args.push('--platform', plan.platform);
  if (plan.noCache) args.push('--no-cache');
  args.push(plan.context);
  return { args, env: {} };
}

function sortedEntries(record: Record<string, string>): Array<[string, string]> {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** What the probe knows about the builder: its mode, and for buildx the current builder's driver and name. */
export interface BuilderFacts {
  mode: BuilderMode;
  /** buildx driver of the current builder: `docker`, `docker-container`, `kubernetes`, `remote`. */
  driver?: string;
  builderName?: string;
}

/** `docker buildx inspect` (current builder) → its name and driver. */
export function parseBuildxInspect(text: string): { builderName?: string; driver?: string } {
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S.*?)\\s*$`, 'm').exec(text)?.[1];
  return { builderName: field('Name'), driver: field('Driver') };
}

/**
 * Where a service build finds the base image it builds FROM. Classic BuildKit and buildx's
 * `docker` driver build inside the daemon and see its local image store. Other drivers
 * (`docker-container`, what GitHub's setup-buildx-action creates; `kubernetes`; `remote`) run
 * BuildKit elsewhere and cannot: there the base must come from the registry, so push mode
 * works (the base is pushed first, the service builds FROM its registry reference) and local
 * mode cannot.
 */
export function baseSource(builder: BuilderFacts, options: { push: boolean }): { kind: 'local-store' } | { kind: 'registry' } | { kind: 'unreachable'; message: string } {
  if (builder.mode !== 'buildx' || !builder.driver || builder.driver === 'docker') return { kind: 'local-store' };
  if (options.push) return { kind: 'registry' };
  const name = builder.builderName ? `"${builder.builderName}" ` : '';
  return {
    kind: 'unreachable',
    message: `The buildx builder ${name}uses the ${builder.driver} driver, which cannot see the local image store, so a service cannot build on a base built here — run \`docker buildx use default\` (the docker driver), or set a registry and push (NX_DOCKER_REGISTRY=<registry> PUSH=true).`,
  };
}

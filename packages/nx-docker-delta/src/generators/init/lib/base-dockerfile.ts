/**
 * Pure renderers of the shared `Dockerfile.base`: toolchain and OS build
 * dependencies only. No application source and no lockfile ever enter the
 * base, so no service change can invalidate it (the seed's lesson).
 */
import type { ElixirToolchain, NodeToolchain } from '../../utils/toolchain';
import type { NativeBuildNeeds } from './native-deps';

export type OsFlavour = 'alpine' | 'debian';

/** Default images: public tags users get; tests override the ARG with local images. */
export const DEFAULT_ELIXIR_IMAGES: Record<OsFlavour, string> = {
  alpine: 'hexpm/elixir:1.17.3-erlang-27.2-alpine-3.21.0',
  debian: 'hexpm/elixir:1.17.3-erlang-27.2-debian-bookworm-20241202-slim',
};
export const defaultNodeImage = (major: string, flavour: OsFlavour) =>
  flavour === 'alpine' ? `node:${major}-alpine` : `node:${major}-bookworm-slim`;

const osInstall = (flavour: OsFlavour, argName: string) =>
  flavour === 'alpine'
    ? `RUN if [ -n "$${argName}" ]; then apk add --no-cache $${argName}; fi`
    : [
        `RUN if [ -n "$${argName}" ]; then \\`,
        '      apt-get update \\',
        `      && apt-get install -y --no-install-recommends $${argName} \\`,
        '      && rm -rf /var/lib/apt/lists/*; \\',
        '    fi',
      ].join('\n');

const userSetup = (flavour: OsFlavour, name: string, home: string) =>
  flavour === 'alpine'
    ? `RUN id -u ${name} >/dev/null 2>&1 || { addgroup -g 1000 ${name} && adduser -u 1000 -G ${name} -h ${home} -s /bin/sh -D ${name}; }`
    : `RUN id -u ${name} >/dev/null 2>&1 || { groupadd --gid 1000 ${name} && useradd --uid 1000 --gid ${name} --home-dir ${home} --create-home --shell /bin/sh ${name}; }`;

function packageManagerInstall(t: NodeToolchain): string[] {
  switch (t.packageManager) {
    case 'npm':
      return t.version
        ? ['# npm pinned to the workspace root package.json "packageManager".', `RUN npm install -g npm@${t.version}`]
        : ['# npm: the version bundled with the image (pin one with "packageManager" in package.json).'];
    case 'pnpm':
      // npm -g instead of corepack: it honours the npm proxy/CA settings users already have, and corepack leaves Node from v25.
      return [`# pnpm pinned to the workspace's version.`, `RUN npm install -g pnpm@${t.version ?? '9'}`];
    case 'yarn':
      // --force: official node images already ship a yarn 1 binary at the same path.
      return [`# yarn classic pinned to the workspace's version.`, `RUN npm install -g --force yarn@${t.version ?? '1.22.22'}`];
    case 'yarn-berry':
      // npm -g too: corepack downloads yarn berry from its own site, outside the npm registry and its proxy/CA settings.
      // --force: official node images ship a yarn 1 binary at the same path.
      return [
        `# yarn berry pinned to the workspace's "packageManager", from the npm registry.`,
        `RUN npm install -g --force @yarnpkg/cli-dist@${t.version ?? '4'}`,
      ];
  }
}

/** OS build tools for node-gyp per flavour: what the base installs when a native addon needs them. */
export const NODE_OS_BUILD_DEPS: Record<OsFlavour, string> = {
  alpine: 'python3 make g++ libc6-compat',
  debian: 'python3 make g++ ca-certificates',
};

/** The line before `ARG OS_BUILD_DEPS` that says why the base has compilers or not (init rewrites both). */
export const NATIVE_ADDONS_COMMENT = '# Native addons: ';

/** The generated `# Native addons: …` line and `ARG OS_BUILD_DEPS=…` line for a lockfile verdict. */
export function osBuildDepsLines(flavour: OsFlavour, lockfile: string, native: NativeBuildNeeds): [string, string] {
  if (native.needed === false) {
    return [
      `${NATIVE_ADDONS_COMMENT}none in ${lockfile}, so no compilers (re-run \`nx g nx-docker-delta:init\` after adding one).`,
      'ARG OS_BUILD_DEPS=""',
    ];
  }
  const why =
    native.needed === undefined
      ? `cannot tell from ${lockfile}, so compilers for node-gyp are included.`
      : `${native.packages.slice(0, 6).join(', ')}${native.packages.length > 6 ? ', …' : ''} in ${lockfile} may compile, so compilers for node-gyp are included.`;
  return [`${NATIVE_ADDONS_COMMENT}${why}`, `ARG OS_BUILD_DEPS="${NODE_OS_BUILD_DEPS[flavour]}"`];
}

/**
 * Re-running init on an existing Dockerfile.base: moves only its OS_BUILD_DEPS verdict to what
 * the lockfile says now, and only when the ARG still holds a value init writes (never a list
 * the user extended). Returns undefined when there is nothing to change.
 */
export function updateOsBuildDeps(existing: string, flavour: OsFlavour, lockfile: string, native: NativeBuildNeeds): string | undefined {
  const arg = /^ARG OS_BUILD_DEPS=(.*)$/m.exec(existing);
  if (!arg) return undefined;
  const generatedValues = ['""', `"${NODE_OS_BUILD_DEPS.alpine}"`, `"${NODE_OS_BUILD_DEPS.debian}"`];
  if (!generatedValues.includes(arg[1].trim())) return undefined;
  const [comment, argLine] = osBuildDepsLines(flavour, lockfile, native);
  const lines = existing.split('\n');
  const at = lines.findIndex((l) => l.startsWith('ARG OS_BUILD_DEPS='));
  lines[at] = argLine;
  if (at > 0 && lines[at - 1].startsWith(NATIVE_ADDONS_COMMENT)) lines[at - 1] = comment;
  else lines.splice(at, 0, comment);
  const updated = lines.join('\n');
  return updated === existing ? undefined : updated;
}

/** `Dockerfile.base` for a Node workspace; `native` is the lockfile's verdict (see native-deps.ts). */
export function renderNodeBase(t: NodeToolchain, flavour: OsFlavour, native: NativeBuildNeeds = { needed: undefined, packages: [] }): string {
  const [nativeComment, osDepsArg] = osBuildDepsLines(flavour, t.lockfile, native);
  return [
    '# Shared toolchain base for every Node service of this workspace (nx-docker-delta).',
    '# Toolchain only: no application source and no lockfile, so no service change invalidates it.',
    '# Rebuild it regularly with --no-cache to pick up OS security fixes.',
    `ARG NODE_IMAGE=${defaultNodeImage(t.nodeMajor, flavour)}`,
    'FROM ${NODE_IMAGE}',
    '',
    '# OS build dependencies for native modules (node-gyp), installed once for all services.',
    '# Extend with --build-arg OS_BUILD_DEPS="... libpq-dev" or empty it to skip.',
    nativeComment,
    osDepsArg,
    osInstall(flavour, 'OS_BUILD_DEPS'),
    '',
    ...packageManagerInstall(t),
    '',
    '# Non-root user (uid 1000, like the official node images) for stages that run the app.',
    userSetup(flavour, 'node', '/home/node'),
    '',
    'ENV NPM_CONFIG_UPDATE_NOTIFIER=false \\',
    '    NPM_CONFIG_FUND=false \\',
    '    NEXT_TELEMETRY_DISABLED=1',
    'WORKDIR /app',
    '',
  ].join('\n');
}

/** `Dockerfile.base` for a mix umbrella (the seed's Elixir/Erlang system). */
export function renderElixirBase(_t: ElixirToolchain, flavour: OsFlavour): string {
  const osDeps = flavour === 'alpine' ? 'build-base git' : 'build-essential git ca-certificates';
  return [
    '# Shared Elixir/Erlang toolchain base for every release of this umbrella (nx-docker-delta).',
    '# Toolchain only: no application source, no mix.lock, so no service change invalidates it.',
    '# Rebuild it regularly with --no-cache to pick up OS security fixes.',
    `ARG ELIXIR_IMAGE=${DEFAULT_ELIXIR_IMAGES[flavour]}`,
    'FROM ${ELIXIR_IMAGE}',
    '',
    '# OS build dependencies (NIFs, git deps), installed once for all services.',
    `ARG OS_BUILD_DEPS="${osDeps}"`,
    osInstall(flavour, 'OS_BUILD_DEPS'),
    '',
    '# hex and rebar come from the network; --build-arg MIX_INSTALL_HEX=false skips them',
    '# (offline builds, or umbrellas with in-umbrella dependencies only).',
    'ARG MIX_INSTALL_HEX=true',
    'RUN if [ "$MIX_INSTALL_HEX" = "true" ]; then mix local.hex --force && mix local.rebar --force; fi',
    '',
    '# Non-root user (uid 1000) for stages that run the release.',
    userSetup(flavour, 'app', '/app'),
    '',
    'ENV MIX_ENV=prod \\',
    '    LANG=C.UTF-8',
    'WORKDIR /app',
    '',
  ].join('\n');
}

/** Header line of the block the plugin appends to `.dockerignore`. */
export const DOCKERIGNORE_HEADER = '# Added by nx-docker-delta: kept out of every build context.';

/**
 * Patterns the plugin wants ignored. `dist` is deliberately absent: images
 * compiled on the host COPY their build output from it.
 */
export function dockerignorePatterns(elixir: boolean): string[] {
  return [
    '.git',
    '**/node_modules',
    '.nx',
    '.nx-docker-delta',
    '**/.env*',
    '!**/.env.example',
    '**/coverage',
    'tmp',
    '**/*.log',
    '.DS_Store',
    ...(elixir ? ['_build', 'deps', '**/_build', '**/deps'] : []),
  ];
}

/**
 * Merges the plugin's patterns into an existing `.dockerignore`: user lines
 * are kept verbatim and only missing patterns are added — *before* the user's
 * lines, because later lines win in `.dockerignore` and a user's `!` negation
 * must keep winning. Returns `undefined` when nothing is missing, so the file
 * is not rewritten.
 */
export function mergeDockerignore(existing: string | null, elixir: boolean): string | undefined {
  const lines = (existing ?? '').split(/\r?\n/);
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  const present = new Set(lines.map((l) => l.trim()));
  const missing = dockerignorePatterns(elixir).filter((p) => !present.has(p));
  if (missing.length === 0) return undefined;
  const header = present.has(DOCKERIGNORE_HEADER) ? [] : [DOCKERIGNORE_HEADER];
  return [...header, ...missing, ...(lines.length ? ['', ...lines] : [])].join('\n') + '\n';
}

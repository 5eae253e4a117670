/**
 * Pure renderer of a Node service Dockerfile: deps → build → release → runtime
 * on the shared base, for the pruned context (see src/context/pruned-context.ts).
 */
import type { NodePackageManager } from '../../utils/toolchain';
import { BUILD_MANIFEST_DIR, WORKSPACE_MANIFESTS_DIR, WORKSPACE_MODULES_DIR } from '../../../context/pruned-context';

export type NodeRuntime = 'alpine' | 'debian-slim' | 'distroless';
export type CompileMode = 'host' | 'docker';

/** Everything the renderer needs; all paths workspace-relative, `/`-separated. */
export interface NodeDockerfileInput {
  projectName: string;
  projectRoot: string;
  packageManager: NodePackageManager;
  /** Lockfile name at the workspace root, e.g. `pnpm-lock.yaml`. */
  lockfile: string;
  /** Build output directory, e.g. `dist/apps/api`. */
  buildOutputPath: string;
  /** Entry file inside the build output, e.g. `main.js`. */
  main: string;
  compile: CompileMode;
  runtime: NodeRuntime;
  nodeMajor: string;
  /** Default of `ARG BASE_IMAGE`, e.g. `workspace-base`. */
  baseImage: string;
  runtimeImage?: string;
  port?: number;
  healthPath?: string;
  /** Root files the in-Docker build needs (compile=docker), e.g. `nx.json`, `tsconfig.base.json`. */
  rootConfigFiles?: string[];
  /** Roots of workspace projects the service depends on (compile=docker), e.g. `libs/shared`. */
  workspaceDepRoots?: string[];
  /** Extra root files the package manager reads, e.g. `.npmrc`, `.yarnrc.yml`. */
  packageManagerFiles?: string[];
  buildTarget?: string;
}

export const defaultRuntimeImage = (runtime: NodeRuntime, major: string) =>
  runtime === 'alpine'
    ? `node:${major}-alpine`
    : runtime === 'debian-slim'
      ? `node:${major}-bookworm-slim`
      : `gcr.io/distroless/nodejs${major}-debian12:nonroot`;

interface PmCommands {
  cacheMount: string;
  prodInstall: string;
  fullInstall: string;
  exec: string;
}

function pmCommands(pm: NodePackageManager): PmCommands {
  switch (pm) {
    // npm's and pnpm's caches are safe for concurrent installs (npm's cacache and pnpm's store
    // write content-addressed files atomically): services with different dependency sets install
    // in parallel. Yarn's caches are not, so their installs take turns (sharing=locked).
    case 'npm':
      return {
        cacheMount: '--mount=type=cache,id=nxdd-npm,target=/root/.npm,sharing=shared',
        prodInstall: 'npm ci --omit=dev --no-audit --no-fund',
        fullInstall: 'npm ci --no-audit --no-fund',
        exec: 'npx',
      };
    case 'pnpm':
      return {
        cacheMount: '--mount=type=cache,id=nxdd-pnpm,target=/pnpm-store,sharing=shared',
        prodInstall: 'pnpm install --frozen-lockfile --prod --store-dir=/pnpm-store',
        fullInstall: 'pnpm install --frozen-lockfile --store-dir=/pnpm-store',
        exec: 'pnpm exec',
      };
    case 'yarn':
      return {
        cacheMount: '--mount=type=cache,id=nxdd-yarn,target=/yarn-cache,sharing=locked',
        prodInstall: 'yarn install --frozen-lockfile --production --non-interactive --cache-folder /yarn-cache',
        fullInstall: 'yarn install --frozen-lockfile --non-interactive --cache-folder /yarn-cache',
        exec: 'yarn',
      };
    case 'yarn-berry':
      return {
        cacheMount: '--mount=type=cache,id=nxdd-yarn-berry,target=/root/.yarn/berry/cache,sharing=locked',
        // node-modules linker: the runtime image runs plain `node`, without Plug'n'Play's loader.
        prodInstall: 'YARN_NODE_LINKER=node-modules YARN_ENABLE_GLOBAL_CACHE=true yarn install --immutable',
        fullInstall: 'YARN_NODE_LINKER=node-modules YARN_ENABLE_GLOBAL_CACHE=true yarn install --immutable',
        exec: 'yarn',
      };
  }
}

/**
 * Auth files the package manager reads, mounted as BuildKit secrets for the install step only:
 * a token never lands in a layer (nor in a registry cache export). The build passes the
 * workspace's own `.npmrc` / `.yarnrc.yml` as these secrets automatically; without one the
 * mount is simply absent (`required=false`), so public-only workspaces build unchanged.
 */
export function secretMounts(pm: NodePackageManager, workdir: string): string[] {
  const mount = (id: string, file: string) => `--mount=type=secret,id=${id},target=${workdir}/${file},required=false`;
  switch (pm) {
    case 'npm':
    case 'pnpm':
      return [mount('npmrc', '.npmrc')];
    case 'yarn':
      return [mount('npmrc', '.npmrc'), mount('yarnrc', '.yarnrc')];
    case 'yarn-berry':
      return [mount('yarnrc', '.yarnrc.yml')];
  }
}

function authFiles(pm: NodePackageManager): string {
  return pm === 'yarn-berry' ? '.yarnrc.yml' : pm === 'yarn' ? '.npmrc/.yarnrc' : '.npmrc';
}

/**
 * One `RUN` with the cache mount, the auth-file secrets and the SSH agent (for `git+ssh`
 * dependencies; present only when the build is given `--ssh`, e.g. NX_DOCKER_SSH=default), then the command.
 */
function installRun(pm: NodePackageManager, cacheMount: string, workdir: string, command: string): string[] {
  const mounts = [...secretMounts(pm, workdir), '--mount=type=ssh,required=false'];
  return [`RUN ${cacheMount} \\`, ...mounts.map((m) => `    ${m} \\`), `    ${command}`];
}

/** `pnpm-workspace.yaml` may or may not be emitted with the pruned lockfile; the `[l]` wildcard keeps COPY valid either way. */
const manifestSources = (i: NodeDockerfileInput, dir = '') => {
  const files = [`${dir}package.json`, `${dir}${i.lockfile}`];
  if (i.packageManager === 'pnpm') files.push(`${dir}pnpm-workspace.yam[l]`);
  return files;
};

/**
 * Workspace libraries installed by package name (TS-solution workspaces) come from
 * `workspace_modules/`, staged by the pruned context; the `[s]` wildcard keeps the COPY valid when
 * the service has none. npm links them (node_modules/<name> → workspace_modules/<name>), so its
 * install layer needs only their manifests and the release copies the libraries themselves:
 * a library's code change then leaves the install layer CACHED. pnpm and yarn copy `file:`
 * dependencies into node_modules at install time, so they get the whole libraries before it.
 */
function workspaceModulesForInstall(i: NodeDockerfileInput): string[] {
  const manifests = manifestSources(i);
  if (i.packageManager === 'npm') return [`COPY ${[...manifests, optionalSource(WORKSPACE_MANIFESTS_DIR)].join(' ')} ./`];
  return [`COPY ${manifests.join(' ')} ./`, `COPY ${optionalSource(WORKSPACE_MODULES_DIR)} ./${WORKSPACE_MODULES_DIR}/`];
}

/**
 * A COPY source that may be absent: `.nx-docker-delta/workspace-manifests` →
 * `.nx-docker-delt[a]/workspace-manifest[s]`. BuildKit accepts a wildcard that matches nothing,
 * but resolves a literal parent folder first and fails on a missing one
 * ("lstat …/.nx-docker-delta: no such file or directory"), so every segment is a wildcard.
 */
function optionalSource(path: string): string {
  return path
    .split('/')
    .map((segment) => `${segment.slice(0, -1)}[${segment.slice(-1)}]`)
    .join('/');
}

function healthcheck(i: NodeDockerfileInput, node: string): string[] {
  if (!i.port || !i.healthPath) return [];
  // No curl or wget in minimal images: node itself makes the request.
  const js = `require('http').get({host:'127.0.0.1',port:${i.port},path:'${i.healthPath}',timeout:4000},r=>process.exit(r.statusCode<400?0:1)).on('error',()=>process.exit(1))`;
  return [
    'HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \\',
    `  CMD ${JSON.stringify([node, '-e', js])}`,
  ];
}

/** Renders the service Dockerfile. */
export function renderNodeDockerfile(i: NodeDockerfileInput): string {
  const pm = pmCommands(i.packageManager);
  const runtimeImage = i.runtimeImage ?? defaultRuntimeImage(i.runtime, i.nodeMajor);
  const distroless = i.runtime === 'distroless';
  const nodeBin = distroless ? '/nodejs/bin/node' : 'node';
  const pmFiles = i.packageManagerFiles ?? [];
  const lines: string[] = [
    `# nx-docker-delta: context=pruned${i.compile === 'docker' ? ' compile=docker' : ''}`,
    `# Image of "${i.projectName}", generated by \`nx g nx-docker-delta:dockerfile --project=${i.projectName}\`.`,
    `# Build it with \`nx run ${i.projectName}:docker-build\`: the context is a staged folder with only this`,
    `# service's pruned package.json + ${i.lockfile} and the paths COPY'd below, so a change in`,
    '# another service never reaches it.',
    `ARG BASE_IMAGE=${i.baseImage}`,
    `ARG RUNTIME_IMAGE=${runtimeImage}`,
    '# The plugin builds the deps stage once per content hash as a shared dependency image and',
    '# passes it here; plain `docker build` uses the deps stage below.',
    'ARG DEPS_IMAGE=deps',
    '',
    '# deps: production dependencies of this service only; rebuilt only when they change.',
    `# Registry auth: ${authFiles(i.packageManager)} mounted as a build secret (passed by nx-docker-delta from the workspace root), never copied.`,
    'FROM ${BASE_IMAGE} AS deps',
    'WORKDIR /app',
    ...(pmFiles.length ? [`COPY ${pmFiles.join(' ')} ./`] : []),
    ...workspaceModulesForInstall(i),
    // mkdir: a service without production dependencies gets no node_modules, and the runtime COPY needs one.
    ...installRun(i.packageManager, pm.cacheMount, '/app', `${pm.prodInstall} \\`),
    '    && mkdir -p node_modules',
    '',
    '# dependencies: the deps stage above, or the prebuilt dependency image (--build-arg DEPS_IMAGE=…).',
    'FROM ${DEPS_IMAGE} AS dependencies',
    '',
  ];
  if (i.compile === 'host') {
    lines.push(
      `# build: the output of \`nx run ${i.projectName}:${i.buildTarget ?? 'build'}\`, compiled on the host and cached by Nx.`,
      'FROM ${BASE_IMAGE} AS build',
      'WORKDIR /app',
      `COPY ${i.buildOutputPath} ./dist`,
      ''
    );
  } else {
    const roots = [...(i.workspaceDepRoots ?? []), i.projectRoot];
    lines.push(
      '# build: compiled inside Docker (hermetic). Dev dependencies come from a second pruned',
      '# manifest that adds the build toolchain (nx, compilers); sources are copied last.',
      'FROM ${BASE_IMAGE} AS build',
      'WORKDIR /workspace',
      ...(pmFiles.length ? [`COPY ${pmFiles.join(' ')} ./`] : []),
      `COPY ${manifestSources(i, `${BUILD_MANIFEST_DIR}/`).join(' ')} ./`,
      ...installRun(i.packageManager, pm.cacheMount, '/workspace', pm.fullInstall),
      ...(i.rootConfigFiles?.length ? [`COPY ${i.rootConfigFiles.join(' ')} ./`] : []),
      ...roots.map((r) => `COPY ${r} ${r}`),
      `RUN NX_DAEMON=false NX_NO_CLOUD=true NX_SKIP_NX_CACHE=true ${pm.exec} nx run ${i.projectName}:${i.buildTarget ?? 'build'} --outputStyle=static \\`,
      `    && mkdir -p /app && cp -R ${i.buildOutputPath} /app/dist`,
      ''
    );
  }
  lines.push(
    '# release: what ships besides node_modules (manifest + compiled output).',
    'FROM ${BASE_IMAGE} AS release',
    'WORKDIR /release',
    // The manifest from the context, not --from=deps: when the runtime's node_modules layer comes
    // from the registry's inline cache (a fresh CI machine), nothing else needs the deps stage and
    // BuildKit skips the install entirely; --from=deps here made it run npm ci for one file.
    'COPY package.json ./',
    // Libraries change less often than the service itself: their layer comes first.
    ...(i.packageManager === 'npm' ? [`COPY ${optionalSource(WORKSPACE_MODULES_DIR)} ./${WORKSPACE_MODULES_DIR}/`] : []),
    'COPY --from=build /app/dist ./',
    '',
    `# runtime: ${i.runtime}, non-root, production mode. node_modules first: code-only changes`,
    '# then replace one small layer.',
    'FROM ${RUNTIME_IMAGE} AS runtime',
    'WORKDIR /app',
    'ENV NODE_ENV=production',
    'COPY --from=dependencies /app/node_modules ./node_modules',
    'COPY --from=release /release ./',
    // Numeric: Kubernetes' runAsNonRoot can only verify a numeric USER.
    `USER ${distroless ? '65532:65532' : '1000:1000'}`,
    ...(i.port ? [`ENV PORT=${i.port}`, `EXPOSE ${i.port}`] : []),
    ...healthcheck(i, nodeBin),
    `CMD ${JSON.stringify(distroless ? [i.main] : ['node', i.main])}`,
    ''
  );
  return lines.join('\n');
}

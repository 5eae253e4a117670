/**
 * `nx g nx-docker-delta:init` (also what `nx add nx-docker-delta` runs):
 * registers the plugin in nx.json, writes the shared `Dockerfile.base` for the
 * detected toolchain and merges a root `.dockerignore`.
 */
import { formatFiles, joinPathFragments, logger, offsetFromRoot, readNxJson, updateNxJson, writeJson, type Tree } from '@nx/devkit';
import { DEFAULT_BASE_DIR, DEFAULT_BASE_TARGET, DEFAULT_BUILD_TARGET, DEFAULT_SERVICE_TARGET } from '../../constants';
import { templateArgs } from '../../planning/context';
import { unsupportedNxMessage } from '../../planning/nx-version';
import { workspaceNxVersion } from '../../utils/workspace-nx';
import { detectToolchain, SUPPORTED_TOOLCHAINS } from '../utils/toolchain';
import { privateRegistryNote } from '../utils/private-registry';
import { writeUserFile } from '../utils/write-user-file';
import { mergeDockerignore, renderElixirBase, renderNodeBase, updateOsBuildDeps } from './lib/base-dockerfile';
import { nativeBuildNeeds } from './lib/native-deps';
import type { InitGeneratorSchema } from './schema';

/** Package name as users write it in nx.json. */
export const PLUGIN_NAME = 'nx-docker-delta';

/** The nx.json entry init writes: options spelled out so users can see and rename them. */
export const PLUGIN_ENTRY = {
  plugin: PLUGIN_NAME,
  options: {
    baseTargetName: DEFAULT_BASE_TARGET,
    serviceTargetName: DEFAULT_SERVICE_TARGET,
    buildTargetName: DEFAULT_BUILD_TARGET,
  },
};

/** Adds the plugin entry unless one for nx-docker-delta exists (whose options are the user's). */
export function registerPlugin(tree: Tree): boolean {
  const nxJson = readNxJson(tree) ?? {};
  const plugins = nxJson.plugins ?? [];
  const registered = plugins.some((p) => (typeof p === 'string' ? p : p.plugin) === PLUGIN_NAME);
  if (registered) return false;
  updateNxJson(tree, { ...nxJson, plugins: [...plugins, structuredClone(PLUGIN_ENTRY)] });
  return true;
}

export async function initGenerator(tree: Tree, schema: InitGeneratorSchema): Promise<void> {
  const unsupported = unsupportedNxMessage(workspaceNxVersion(tree.root));
  if (unsupported) throw new Error(unsupported);
  const flavour = schema.flavour ?? 'alpine';
  registerPlugin(tree);

  const toolchain = detectToolchain(tree);
  if (!toolchain) {
    logger.warn(
      `nx-docker-delta: no Dockerfile.base written — no supported toolchain found; supported: ${SUPPORTED_TOOLCHAINS}.`
    );
  } else {
    const native = toolchain.kind === 'node' ? nativeBuildNeeds(toolchain.packageManager, tree.read(toolchain.lockfile, 'utf-8')) : undefined;
    if (native?.devOnly?.length) {
      logger.info(
        `nx-docker-delta: dev-only native packages (${native.devOnly.join(', ')}) do not put compilers in the base — images install production dependencies; if you compile inside Docker (--compile=docker), set ARG OS_BUILD_DEPS in Dockerfile.base.`
      );
    }
    let base = toolchain.kind === 'node' ? renderNodeBase(toolchain, flavour, native) : renderElixirBase(toolchain, flavour);
    if (schema.baseImage) {
      base = base.replace(/^ARG (NODE_IMAGE|ELIXIR_IMAGE)=.*$/m, `ARG $1=${schema.baseImage}`);
    }
    const baseDir = chooseBaseDir(tree, schema.baseDir);
    const basePath = joinPathFragments(baseDir, 'Dockerfile.base');
    const existing = tree.read(basePath, 'utf-8');
    // An existing base keeps the user's edits; only the compilers verdict follows the lockfile.
    const updated = toolchain.kind === 'node' && native && existing !== null && !schema.force ? updateOsBuildDeps(existing, flavour, toolchain.lockfile, native) : undefined;
    if (updated !== undefined) {
      tree.write(basePath, updated);
      logger.info(`nx-docker-delta: updated OS_BUILD_DEPS in ${basePath} (${native?.needed ? 'native addons need compilers' : 'no native addons'}).`);
    }
    else writeUserFile(tree, basePath, base, { force: schema.force });
    const registryNote = toolchain.kind === 'node' ? privateRegistryNote(tree) : undefined;
    if (registryNote) logger.info(registryNote);
    if (baseDir !== '.' && !tree.exists(joinPathFragments(baseDir, 'project.json'))) {
      writeJson(tree, joinPathFragments(baseDir, 'project.json'), {
        name: baseDir.split('/').pop(),
        $schema: `${offsetFromRoot(baseDir)}node_modules/nx/schemas/project-schema.json`,
        projectType: 'library',
        tags: ['docker:base'],
      });
    }
  }

  for (const file of templateDockerfiles(tree)) {
    logger.info(
      `nx-docker-delta: ${file.path} is a template for several apps (COPY uses ${file.args.map((a) => `\${${a}}`).join(', ')}, which has no default), so no image target is inferred from it — run \`nx g nx-docker-delta:dockerfile --project=<app>\` for each app it builds.`
    );
  }

  const merged = mergeDockerignore(tree.read('.dockerignore', 'utf-8'), toolchain?.kind === 'elixir');
  if (merged !== undefined) tree.write('.dockerignore', merged);

  if (!schema.skipFormat) await formatFiles(tree);
}

/** Dockerfiles at the root and one level down (`docker/`, `deploy/`…) that inference skips as per-app templates. */
function templateDockerfiles(tree: Tree): Array<{ path: string; args: string[] }> {
  const found: Array<{ path: string; args: string[] }> = [];
  const isDockerfile = (name: string) => /(^|\.)(Dockerfile|Containerfile)(\.|$)/i.test(name) && !name.endsWith('.base') && !name.endsWith('.dockerignore');
  const dirs = ['.', ...tree.children('.').filter((d) => !d.startsWith('.') && d !== 'node_modules' && !tree.isFile(d))];
  for (const dir of dirs) {
    for (const name of tree.children(dir)) {
      const path = dir === '.' ? name : `${dir}/${name}`;
      if (!isDockerfile(name) || !tree.isFile(path)) continue;
      const args = templateArgs(tree.read(path, 'utf-8') ?? '');
      if (args.length) found.push({ path, args });
    }
  }
  return found;
}

/**
 * Where the shared base lives. Its own project by default (`docker/workspace-base`): a base owned
 * by the root project would make every root-file change (lockfile, README, nx.json) mark every
 * service affected, since services depend on the project owning their base. A workspace that
 * already has a root `Dockerfile.base` (the seed layout) keeps it.
 */
export function chooseBaseDir(tree: Tree, requested: string | undefined): string {
  if (requested !== undefined) return requested.replace(/^\.\/+/, '').replace(/\/+$/, '') || '.';
  return tree.exists('Dockerfile.base') ? '.' : DEFAULT_BASE_DIR;
}

export { DEFAULT_BASE_DIR };

export default initGenerator;

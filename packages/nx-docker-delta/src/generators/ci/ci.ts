/**
 * `nx g nx-docker-delta:ci --provider=github-actions|cloudbuild|gitlab`: a CI config that builds
 * and pushes the images as written (see lib/render.ts for what each pipeline holds).
 */
import { logger, readNxJson, type Tree } from '@nx/devkit';
import { DEFAULT_BUILD_TARGET } from '../../constants';
import { detectToolchain, type NodePackageManager } from '../utils/toolchain';
import { writeUserFile } from '../utils/write-user-file';
import { renderCloudBuild, renderGithubActions, renderGitlab, type CiFile, type CiInputs } from './lib/render';
import type { CiGeneratorSchema } from './schema';

const PROVIDERS = ['github-actions', 'cloudbuild', 'gitlab'] as const;

const INSTALL: Record<NodePackageManager, string> = {
  npm: 'npm ci',
  pnpm: 'npm install -g pnpm@9 && pnpm install --frozen-lockfile',
  yarn: 'yarn install --frozen-lockfile',
  'yarn-berry': 'corepack enable && yarn install --immutable',
};

/** The build target name users gave the plugin in nx.json, or the default. */
function buildTargetName(tree: Tree): string {
  for (const p of readNxJson(tree)?.plugins ?? []) {
    if (typeof p !== 'string' && p.plugin === 'nx-docker-delta') {
      const name = (p.options as { buildTargetName?: string } | undefined)?.buildTargetName;
      if (name) return name;
    }
  }
  return DEFAULT_BUILD_TARGET;
}

/** Everything the renderers need, from the options and the workspace. */
export function ciInputs(tree: Tree, schema: CiGeneratorSchema): CiInputs {
  const toolchain = detectToolchain(tree);
  const node = toolchain?.kind === 'node' ? toolchain : undefined;
  // An Elixir umbrella still runs Nx on Node: its package manager is the root lockfile's, npm by default.
  const pm: NodePackageManager = node?.packageManager ?? (tree.exists('pnpm-lock.yaml') ? 'pnpm' : tree.exists('yarn.lock') ? 'yarn' : 'npm');
  return {
    mainBranch: schema.mainBranch ?? 'main',
    registry: schema.registry,
    remoteCache: schema.remoteCache ?? 'nx-cloud',
    schedule: schema.schedule ?? '0 4 1 * *',
    installCommand: schema.installCommand ?? INSTALL[pm],
    nodeMajor: node?.nodeMajor ?? '20',
    packageManager: pm === 'yarn-berry' ? 'yarn' : pm,
    buildTarget: buildTargetName(tree),
  };
}

export function renderCi(provider: CiGeneratorSchema['provider'], inputs: CiInputs): CiFile[] {
  switch (provider) {
    case 'github-actions':
      return renderGithubActions(inputs);
    case 'cloudbuild':
      return renderCloudBuild(inputs);
    case 'gitlab':
      return renderGitlab(inputs);
  }
}

// No formatFiles: prettier would restyle the YAML, and a rerun must find the files it wrote byte-identical (idempotence, --force).
export async function ciGenerator(tree: Tree, schema: CiGeneratorSchema): Promise<void> {
  if (!PROVIDERS.includes(schema.provider)) {
    throw new Error(`nx-docker-delta: unknown CI provider "${schema.provider}" — use --provider=${PROVIDERS.join(' | ')}.`);
  }
  if (schema.schedule !== undefined && schema.schedule.trim().split(/\s+/).length !== 5) {
    throw new Error(`nx-docker-delta: --schedule="${schema.schedule}" is not a 5-field cron expression — use e.g. --schedule="0 4 1 * *".`);
  }
  const files = renderCi(schema.provider, ciInputs(tree, schema));
  const kept = files.filter((f) => writeUserFile(tree, f.path, f.content, { force: schema.force }) === 'kept');
  if (kept.length === 0) logger.info(`nx-docker-delta: ${schema.provider} pipeline in ${files.map((f) => f.path).join(', ')}.`);
  // Nx keeps --dry-run from generators (it lists CREATE/UPDATE only); a CI file is read before it is committed, so print it.
  if (isDryRun(process.argv)) for (const f of files) logger.info(`\n--- ${f.path}\n${f.content}`);
}

/** `nx g … --dry-run` / `-d` / `--dryRun`: Nx removes the flag from the options it passes. */
export function isDryRun(argv: string[]): boolean {
  return argv.some((a) => a === '--dry-run' || a === '--dryRun' || a === '-d' || a === '--dry-run=true' || a === '--dryRun=true');
}

export default ciGenerator;

import { BASE_IMAGE_ARG, DEPS_IMAGE_ARG } from '../constants';
import { DockerfileParser } from './dockerfile';
import { sanitizeRepository } from './image-ref';

/**
 * The dependency stage of a service Dockerfile, as the dependency image is made of it.
 *
 * Convention (what the `dockerfile` generator writes):
 *
 * ```dockerfile
 * ARG BASE_IMAGE=workspace-base
 * ARG DEPS_IMAGE=deps
 * FROM ${BASE_IMAGE} AS deps          # installs node_modules from the pruned manifest + lockfile
 * ...
 * FROM ${DEPS_IMAGE} AS dependencies  # the stage above, or the prebuilt dependency image
 * ...
 * COPY --from=dependencies /app/node_modules ./node_modules
 * ```
 *
 * Plain `docker build` uses the `deps` stage (the ARG's default names it); the plugin builds
 * `--target deps` once per content hash and passes `--build-arg DEPS_IMAGE=<that image>`, so
 * BuildKit never reaches the `deps` stage of the service build.
 */
export interface DepsStage {
  /** The stage to build with `--target` (the ARG's default), e.g. `deps`. */
  stage: string;
  /** The stage's instructions, whitespace-normalized (formatting never moves the hash). */
  instructions: string[];
  /** Global `ARG` lines the stage references (besides BASE_IMAGE), normalized. */
  globalArgs: string[];
  /** Names of every build arg the stage references. */
  argsUsed: string[];
  /** Build-context sources its COPY/ADD lines read, as written. */
  contextSources: string[];
}

/** Why a Dockerfile gets no dependency image: one sentence, printed once by the build. */
export type DepsStageResult = { kind: 'deps'; stage: DepsStage } | { kind: 'none' } | { kind: 'unsupported'; reason: string };

const normalize = (text: string) => text.replace(/\\\r?\n/g, ' ').replace(/\s+/g, ' ').trim();
const argRefs = (text: string) => [...text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]);

/** Reads the dependency stage convention from a Dockerfile. Pure. */
export function readDepsStage(text: string): DepsStageResult {
  const instructions = DockerfileParser.parse(text).getInstructions();
  const globalArgs = new Map<string, string>();
  let stageName: string | undefined;
  let seenFrom = false;
  for (const i of instructions) {
    const keyword = i.getKeyword().toUpperCase();
    if (keyword === 'FROM') {
      seenFrom = true;
      break;
    }
    if (keyword === 'ARG') {
      const property = (i as unknown as { getProperty(): { getName(): string; getValue(): string | null } | null }).getProperty();
      if (!property) continue;
      globalArgs.set(property.getName(), normalize(i.getTextContent()));
      if (property.getName() === DEPS_IMAGE_ARG) stageName = property.getValue() ?? undefined;
    }
  }
  if (!seenFrom || !globalArgs.has(DEPS_IMAGE_ARG)) return { kind: 'none' };
  if (!stageName) return { kind: 'unsupported', reason: `ARG ${DEPS_IMAGE_ARG} has no default naming the dependency stage (write ARG ${DEPS_IMAGE_ARG}=deps)` };

  const stages: Array<{ name?: string; image: string; body: typeof instructions }> = [];
  for (const i of instructions) {
    if (i.getKeyword().toUpperCase() === 'FROM') {
      const from = i as unknown as { getImage(): string | null; getBuildStage(): string | null };
      stages.push({ name: from.getBuildStage() ?? undefined, image: from.getImage() ?? '', body: [i] });
    } else if (stages.length) stages[stages.length - 1].body.push(i);
  }
  const depsStage = stages.find((s) => s.name === stageName);
  if (!depsStage) return { kind: 'unsupported', reason: `no stage is named "${stageName}", the default of ARG ${DEPS_IMAGE_ARG}` };
  const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
  if (stageNames.has(depsStage.image)) {
    return { kind: 'unsupported', reason: `stage "${stageName}" builds on stage "${depsStage.image}", not on an image` };
  }
  if (!stages.some((s) => new RegExp(`^\\$\\{?${DEPS_IMAGE_ARG}\\}?$`).test(s.image.trim()))) {
    return { kind: 'unsupported', reason: `no FROM uses \${${DEPS_IMAGE_ARG}}` };
  }

  const contextSources: string[] = [];
  const texts: string[] = [];
  for (const i of depsStage.body) {
    const text = normalize(i.getTextContent());
    texts.push(text);
    const keyword = i.getKeyword().toUpperCase();
    if (/--(from|mount=[^ ]*from)=/.test(text) && keyword !== 'FROM') {
      return { kind: 'unsupported', reason: `stage "${stageName}" reads another stage or image (${text.slice(0, 60)})` };
    }
    if (keyword === 'COPY' || keyword === 'ADD') {
      const args = i.getArguments().map((a) => a.getValue()).filter((a) => !a.startsWith('--'));
      if (args.some((a) => a.startsWith('<<') || a.startsWith('['))) {
        return { kind: 'unsupported', reason: `stage "${stageName}" uses a heredoc or JSON-form ${keyword}` };
      }
      contextSources.push(...args.slice(0, -1));
    }
  }
  const argsUsed = [...new Set(texts.flatMap(argRefs))].sort();
  return {
    kind: 'deps',
    stage: {
      stage: stageName,
      instructions: texts,
      globalArgs: argsUsed.filter((a) => a !== BASE_IMAGE_ARG && globalArgs.has(a)).map((a) => globalArgs.get(a) as string),
      argsUsed,
      contextSources,
    },
  };
}

/** Repository of the dependency images of services on one base (or of one standalone service). */
export function depsRepository(owner: string, imagePrefix = ''): string {
  return `${imagePrefix}${sanitizeRepository(owner.replace(/[-_.]base$/, ''))}-deps`;
}

/**
 * Assembly of a service image without `docker build` (in the registry in push mode, into the
 * local image store by `docker load` otherwise): the plan. Pure — Dockerfile text and
 * staged context entries in; a yes/no with one reason, the files of the app layer, and the small
 * Dockerfile of the shared "runtime with dependencies" image out.
 *
 * A Dockerfile qualifies when its last stage reads, up to one `COPY --from=<stage>` (the app
 * COPY), like a runtime on a prebuilt dependency image, and the stage that COPY reads is made of
 * COPYs only (context files and other COPY-only stages: no RUN), as the generator writes it:
 *
 * ```dockerfile
 * FROM ${BASE_IMAGE} AS build      COPY dist/apps/api ./dist
 * FROM ${BASE_IMAGE} AS release    COPY package.json ./ · COPY --from=build /app/dist ./
 * FROM ${RUNTIME_IMAGE} AS runtime WORKDIR /app · ENV … · COPY --from=dependencies /app/node_modules ./node_modules
 *                                  COPY --from=release /release ./      ← the app COPY
 *                                  USER · ENV · EXPOSE · HEALTHCHECK · CMD   (metadata only)
 * ```
 *
 * Everything before the app COPY is the runtime-with-dependencies image (built once per content
 * hash with docker build); the app COPY becomes one layer computed here, the instructions after
 * it become image config (planning/image-config.ts).
 */
import { DEPS_IMAGE_ARG, DIRECTIVE_PREFIX } from '../constants';
import { DockerfileParser } from './dockerfile';
import type { LayerEntry } from './layer-tar';

/** A file of the staged build context, as docker would send it. */
export type ContextEntry = { type: 'file'; mode: number; content: Buffer } | { type: 'symlink'; target: string };

/** One instruction of a stage: keyword, flags, the text after keyword and flags (line continuations joined), line. */
export interface Instruction {
  keyword: string;
  flags: Record<string, string>;
  args: string;
  /** The instruction as written, continuations joined: what a derived Dockerfile repeats. */
  text: string;
  line: number;
  /** `ENV`/`LABEL`: the name=value pairs, unquoted (dockerfile-ast). */
  properties?: Array<[string, string]>;
}

interface Stage {
  name?: string;
  image: string;
  body: Instruction[];
}

export interface AssemblyPlan {
  /** Global ARGs (before the first FROM) with their defaults. */
  globalArgs: Array<{ name: string; value?: string; text: string }>;
  /** The last stage's FROM image as written (`${RUNTIME_IMAGE}`). */
  runtimeImage: string;
  /** The runtime-with-dependencies Dockerfile: global ARGs, the pure FROM stages it copies from, the last stage up to the app COPY. */
  runtimeDockerfile: string;
  /** The app COPY as written, e.g. `COPY --from=release /release ./`. */
  appCopy: string;
  /** Working directory at the app COPY (`/app`). */
  workdir: string;
  /** Metadata instructions after the app COPY, in order. */
  metadata: Instruction[];
  /** Evaluates the app COPY over a staged context: the layer's entries (paths relative to `/`). */
  layer(context: ReadonlyMap<string, ContextEntry>): LayerResult;
}

export type LayerResult = { ok: true; entries: LayerEntry[] } | { ok: false; reason: string };
export type AssemblyDecision = { ok: true; plan: AssemblyPlan } | { ok: false; reason: string; quiet?: boolean };

export interface AssemblyConditions {
  /** The user's choice (`assemble` option / NX_DOCKER_ASSEMBLE); false means docker build, silently. */
  enabled: boolean;
  push: boolean;
  /**
   * Local mode (no push): why the engine cannot take an assembled image into its image store
   * (`docker load` of the app layer on the runtime image it already holds), or undefined when it can.
   */
  localStore?: string;
  /** `docker`-family client modes assemble; podman keeps its own build. */
  clientMode: 'buildx' | 'buildkit' | 'podman';
  /** The service build uses a prebuilt dependency image (DEPS_IMAGE passed). */
  hasDepsImage: boolean;
  /** `--target` of the service build, when set. */
  target?: string;
  noCache?: boolean;
  /** Build context of the service: `pruned` is the one whose files are known. */
  context: string;
}

/** Instructions after the app COPY that only change the image config. */
const METADATA = new Set(['USER', 'ENV', 'EXPOSE', 'HEALTHCHECK', 'CMD', 'ENTRYPOINT', 'LABEL', 'VOLUME', 'STOPSIGNAL']);
/** Instructions of the runtime stage before the app COPY that a derived docker build repeats verbatim. */
const PRELUDE = new Set(['WORKDIR', 'ENV', 'ARG', 'LABEL', 'USER', 'RUN', 'COPY', 'EXPOSE', 'SHELL', 'STOPSIGNAL', 'VOLUME', 'HEALTHCHECK', 'CMD', 'ENTRYPOINT']);

/**
 * Can this build be assembled (in the registry, or locally), and how? Checks the conditions first (in the
 * order a user fixes them), then the Dockerfile's shape. `quiet` reasons are not printed (the
 * user turned assembly off).
 */
export function planAssembly(dockerfileText: string, c: AssemblyConditions): AssemblyDecision {
  if (!c.enabled) return { ok: false, reason: 'assembly is turned off (assemble: false / NX_DOCKER_ASSEMBLE=0)', quiet: true };
  const header = readHeader(dockerfileText);
  if (!header.generated) return { ok: false, reason: `the Dockerfile was not generated by the plugin (no \`# ${DIRECTIVE_PREFIX} context=pruned\` header)` };
  if (header.compileDocker) return { ok: false, reason: 'compile=docker builds the service inside Docker (RUN in the build stage)' };
  if (c.context !== 'pruned') return { ok: false, reason: `the build context is "${c.context}", not the staged pruned context` };
  if (c.clientMode === 'podman') return { ok: false, reason: 'podman keeps its own build (assembly is proven with docker clients)' };
  if (!c.push && c.localStore) return { ok: false, reason: `local mode (no push): ${c.localStore}` };
  if (c.noCache) return { ok: false, reason: '--no-cache asks for a full build' };
  if (!c.hasDepsImage) return { ok: false, reason: `no prebuilt dependency image (ARG ${DEPS_IMAGE_ARG}) for the runtime to start from` };
  return analyzeDockerfile(dockerfileText, c.target);
}

function readHeader(text: string): { generated: boolean; compileDocker: boolean } {
  const head: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*FROM\s/i.test(line)) break;
    head.push(line.trim());
  }
  const directive = head.find((l) => l.startsWith('#') && l.slice(1).trim().startsWith(DIRECTIVE_PREFIX));
  const pairs = directive ? directive.slice(1).trim().slice(DIRECTIVE_PREFIX.length).trim().split(/\s+/) : [];
  return { generated: pairs.includes('context=pruned'), compileDocker: pairs.includes('compile=docker') };
}

/** Splits a Dockerfile into global ARGs and stages of normalized instructions. */
export function readStages(text: string): { globalArgs: AssemblyPlan['globalArgs']; stages: Stage[] } {
  const globalArgs: AssemblyPlan['globalArgs'] = [];
  const stages: Stage[] = [];
  for (const raw of DockerfileParser.parse(text).getInstructions()) {
    const keyword = raw.getKeyword().toUpperCase();
    const joined = raw.getTextContent().replace(/\\\r?\n/g, '').replace(/\r?\n\s*#[^\n]*/g, '');
    const flagsList = ((raw as unknown as { getFlags?(): Array<{ getName(): string; getValue(): string | null }> }).getFlags?.() ?? []);
    const flags = Object.fromEntries(flagsList.map((f) => [f.getName(), f.getValue() ?? '']));
    // Text after the keyword and its leading `--flag[=value]` words.
    const args = joined.replace(/^\s*\S+\s*/, '').replace(/^(--[\w-]+(=("[^"]*"|\S*))?\s+)*/, '').trim();
    const props = (raw as unknown as { getProperties?(): Array<{ getName(): string; getValue(): string | null }> }).getProperties?.();
    const instruction: Instruction = {
      keyword,
      flags,
      args,
      text: joined.trim(),
      line: raw.getRange().start.line + 1,
      ...(keyword === 'ENV' || keyword === 'LABEL' ? { properties: (props ?? []).map((p) => [p.getName(), p.getValue() ?? ''] as [string, string]) } : {}),
    };
    if (keyword === 'FROM') {
      const from = raw as unknown as { getImage(): string | null; getBuildStage(): string | null };
      stages.push({ name: from.getBuildStage() ?? undefined, image: from.getImage() ?? '', body: [] });
    } else if (stages.length) {
      stages[stages.length - 1].body.push(instruction);
    } else if (keyword === 'ARG') {
      const property = (raw as unknown as { getProperty(): { getName(): string; getValue(): string | null } | null }).getProperty();
      if (property) globalArgs.push({ name: property.getName(), value: property.getValue() ?? undefined, text: instruction.text });
    }
  }
  return { globalArgs, stages };
}

function analyzeDockerfile(text: string, target: string | undefined): AssemblyDecision {
  let parsed: ReturnType<typeof readStages>;
  try {
    parsed = readStages(text);
  } catch (error) {
    return { ok: false, reason: `the Dockerfile cannot be read (${(error as Error).message})` };
  }
  const { globalArgs, stages } = parsed;
  const runtime = stages[stages.length - 1];
  if (!runtime) return { ok: false, reason: 'the Dockerfile has no FROM' };
  if (target && target !== runtime.name) return { ok: false, reason: `--target ${target} builds a stage other than the last one` };
  const byName = new Map(stages.filter((s) => s.name).map((s) => [s.name as string, s]));
  if (byName.has(runtime.image)) return { ok: false, reason: `the last stage builds on stage "${runtime.image}", not on an image` };
  if (/^(--platform|.*\s--platform)/.test(runtime.image)) return { ok: false, reason: 'the last FROM names a --platform' };

  const copyIndex = findLastIndex(runtime.body, (i) => i.keyword === 'COPY' || i.keyword === 'ADD');
  if (copyIndex < 0) return { ok: false, reason: 'the last stage copies no app files' };
  const appCopy = runtime.body[copyIndex];
  const prelude = runtime.body.slice(0, copyIndex);
  const after = runtime.body.slice(copyIndex + 1);

  if (appCopy.keyword === 'ADD') return { ok: false, reason: `line ${appCopy.line}: the app is added with ADD, not COPY` };
  const fromStage = appCopy.flags['from'];
  const extraFlags = Object.keys(appCopy.flags).filter((f) => f !== 'from');
  if (extraFlags.length) return { ok: false, reason: `line ${appCopy.line}: the app COPY uses --${extraFlags[0]}, which assembly does not reproduce` };
  if (!fromStage || !byName.has(fromStage)) return { ok: false, reason: `line ${appCopy.line}: the app COPY does not copy from a stage of this Dockerfile` };

  for (const i of after) {
    if (i.keyword === 'RUN') return { ok: false, reason: `line ${i.line}: a RUN after the app COPY` };
    if (!METADATA.has(i.keyword)) return { ok: false, reason: `line ${i.line}: ${i.keyword} after the app COPY (only ${[...METADATA].join(', ')} may follow it)` };
    if (i.keyword !== 'CMD' && i.keyword !== 'ENTRYPOINT' && i.keyword !== 'HEALTHCHECK' && i.args.includes('$')) {
      return { ok: false, reason: `line ${i.line}: ${i.keyword} after the app COPY uses a variable` };
    }
    if (i.keyword === 'HEALTHCHECK' && Object.keys(i.flags).some((f) => !['interval', 'timeout', 'start-period', 'retries', 'start-interval'].includes(f))) {
      return { ok: false, reason: `line ${i.line}: HEALTHCHECK with an option assembly does not know` };
    }
  }

  // The prelude is built by docker: it may copy from images and from stages that are plain FROMs (the dependency image).
  const copiedStages: Stage[] = [];
  let workdir = '/';
  for (const i of prelude) {
    if (!PRELUDE.has(i.keyword)) return { ok: false, reason: `line ${i.line}: ${i.keyword} in the runtime stage` };
    if (i.keyword === 'WORKDIR') {
      if (i.args.includes('$')) return { ok: false, reason: `line ${i.line}: WORKDIR uses a variable` };
      workdir = resolvePath(workdir, i.args);
    }
    if (i.keyword === 'COPY') {
      const from = i.flags['from'];
      if (!from) return { ok: false, reason: `line ${i.line}: the runtime stage copies build-context files before the app COPY` };
      const stage = byName.get(from);
      if (stage) {
        if (stage.body.length) return { ok: false, reason: `line ${i.line}: the runtime stage copies from stage "${from}", which builds something itself` };
        if (!copiedStages.includes(stage)) copiedStages.push(stage);
      }
    }
  }

  const fsCache = new Map<string, FsResult>();
  const runtimeDockerfile = [
    '# Runtime with dependencies: the last stage of the service Dockerfile up to its app COPY (nx-docker-delta assembly).',
    ...globalArgs.map((a) => a.text),
    ...stages.filter((s) => copiedStages.includes(s)).map((s) => `FROM ${s.image} AS ${s.name}`),
    `FROM ${runtime.image}${runtime.name ? ` AS ${runtime.name}` : ''}`,
    ...prelude.map((i) => i.text),
    '',
  ].join('\n');

  return {
    ok: true,
    plan: {
      globalArgs,
      runtimeImage: runtime.image,
      runtimeDockerfile,
      appCopy: appCopy.text,
      workdir,
      metadata: after,
      layer(context) {
        const source = stageFs(fromStage, byName, context, fsCache, []);
        if (!source.ok) return source;
        const out = new Map<string, VEntry>();
        const copied = applyCopy({ instruction: appCopy, workdir, out, context, readStage: () => source });
        if (!copied.ok) return copied;
        return { ok: true, entries: [...out].map(([path, e]) => toLayerEntry(path, e)) };
      },
    },
  };
}

/** Entries of a stage's filesystem that its own COPYs made (absolute paths, files and links only). */
type VEntry = ContextEntry;
type FsResult = { ok: true; files: Map<string, VEntry> } | { ok: false; reason: string };

/**
 * The files a COPY-only stage holds: evaluated instruction by instruction. A stage that runs
 * anything (RUN, ADD, SHELL, ONBUILD) cannot be known without building it.
 */
function stageFs(name: string, byName: Map<string, Stage>, context: ReadonlyMap<string, ContextEntry>, cache: Map<string, FsResult>, seen: string[]): FsResult {
  const cached = cache.get(name);
  if (cached) return cached;
  const stage = byName.get(name) as Stage;
  if (seen.includes(name)) return { ok: false, reason: `stage "${name}" copies from itself` };
  if (byName.has(stage.image)) return { ok: false, reason: `stage "${name}" builds on stage "${stage.image}"` };
  const files = new Map<string, VEntry>();
  let workdir = '/';
  let result: FsResult = { ok: true, files };
  for (const i of stage.body) {
    if (i.keyword === 'WORKDIR') {
      if (i.args.includes('$')) return done({ ok: false, reason: `line ${i.line}: WORKDIR uses a variable` });
      workdir = resolvePath(workdir, i.args);
    } else if (i.keyword === 'COPY') {
      const from = i.flags['from'];
      const readStage = from ? () => (byName.has(from) ? stageFs(from, byName, context, cache, [...seen, name]) : ({ ok: false, reason: `line ${i.line}: stage "${name}" copies from image ${from}` } as FsResult)) : undefined;
      const copied = applyCopy({ instruction: i, workdir, out: files, context, readStage });
      if (!copied.ok) return done(copied);
    } else if (i.keyword === 'RUN') {
      return done({ ok: false, reason: `line ${i.line}: stage "${name}" runs a command (RUN), so its files are only known after a docker build` });
    } else if (!['ENV', 'ARG', 'LABEL', 'USER', 'EXPOSE', 'CMD', 'ENTRYPOINT', 'HEALTHCHECK', 'STOPSIGNAL'].includes(i.keyword)) {
      return done({ ok: false, reason: `line ${i.line}: ${i.keyword} in stage "${name}"` });
    }
  }
  return done(result);
  function done(r: FsResult): FsResult {
    result = r;
    cache.set(name, r);
    return r;
  }
}

/** Docker's COPY: a directory source copies its contents, a file goes to `dest/` + its name or to `dest`. */
function applyCopy(o: {
  instruction: Instruction;
  workdir: string;
  out: Map<string, VEntry>;
  context: ReadonlyMap<string, ContextEntry>;
  readStage?: () => FsResult;
}): { ok: true } | { ok: false; reason: string } {
  const i = o.instruction;
  const extra = Object.keys(i.flags).filter((f) => f !== 'from');
  if (extra.length) return { ok: false, reason: `line ${i.line}: COPY --${extra[0]} is not reproduced by assembly` };
  if (i.args.startsWith('[') || i.args.includes('<<')) return { ok: false, reason: `line ${i.line}: JSON-form or heredoc COPY` };
  if (i.args.includes('$')) return { ok: false, reason: `line ${i.line}: COPY uses a variable` };
  const words = i.args.split(/\s+/).filter(Boolean);
  if (words.length < 2) return { ok: false, reason: `line ${i.line}: COPY without a destination` };
  const destRaw = words[words.length - 1];
  const sources = words.slice(0, -1);
  const dest = resolvePath(o.workdir, destRaw);
  const destIsDir = destRaw.endsWith('/') || sources.length > 1 || destRaw === '.' || sources.some(hasGlob);

  let files: ReadonlyMap<string, VEntry>;
  let root: string;
  if (o.readStage) {
    const stage = o.readStage();
    if (!stage.ok) return stage;
    files = stage.files;
    root = '/';
  } else {
    files = new Map([...o.context].map(([p, e]) => [`/${p}`, e]));
    root = '/';
  }
  for (const source of sources) {
    const pattern = resolvePath(root, source);
    const matches = matchPaths(files, pattern);
    if (!matches.length) {
      if (hasGlob(source)) continue;
      return { ok: false, reason: `line ${i.line}: COPY source ${source} is not among the files assembly can see` };
    }
    for (const match of matches) {
      const entry = files.get(match);
      if (entry) {
        if (entry.type === 'symlink' && match === pattern) return { ok: false, reason: `line ${i.line}: COPY source ${source} is a symbolic link` };
        o.out.set(destIsDir || isDirIn(o.out, dest) ? joinPath(dest, match.split('/').pop() as string) : dest, entry);
      } else {
        for (const [path, e] of files) if (path.startsWith(`${match}/`)) o.out.set(joinPath(dest, path.slice(match.length + 1)), e);
      }
    }
  }
  return { ok: true };
}

/** Absolute paths in `files` (or directories implied by them) that `pattern` names, one segment per glob segment. */
function matchPaths(files: ReadonlyMap<string, VEntry>, pattern: string): string[] {
  if (pattern === '/') return ['/'];
  const segments = pattern.split('/').slice(1);
  const found = new Set<string>();
  for (const path of files.keys()) {
    const parts = path.split('/').slice(1);
    if (parts.length < segments.length) continue;
    if (segments.every((s, k) => globMatch(s, parts[k]))) found.add(`/${parts.slice(0, segments.length).join('/')}`);
  }
  return [...found].sort();
}

const hasGlob = (s: string) => /[*?[]/.test(s);

/** Go's filepath.Match for one segment: `*`, `?`, `[...]` (with ranges and `^`/`!`). */
export function globMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let k = 0; k < pattern.length; k++) {
    const c = pattern[k];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', k + 1);
      if (end < 0) return false;
      let body = pattern.slice(k + 1, end);
      if (body.startsWith('!') || body.startsWith('^')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      k = end;
    } else if (c === '\\' && k + 1 < pattern.length) re += `\\${pattern[++k]}`;
    else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`).test(name);
}

function isDirIn(files: ReadonlyMap<string, VEntry>, path: string): boolean {
  for (const p of files.keys()) if (p.startsWith(`${path}/`)) return true;
  return false;
}

/** `resolvePath('/app', './dist/')` → `/app/dist`; absolute paths win; `..` is resolved. */
export function resolvePath(workdir: string, path: string): string {
  const parts: string[] = [];
  for (const seg of (path.startsWith('/') ? path : `${workdir}/${path}`).split('/')) {
    if (!seg || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

const joinPath = (dir: string, rel: string) => resolvePath(dir, rel);

function toLayerEntry(path: string, e: VEntry): LayerEntry {
  const rel = path.slice(1);
  return e.type === 'file' ? { path: rel, type: 'file', mode: e.mode & 0o7777, content: e.content } : { path: rel, type: 'symlink', target: e.target };
}

function findLastIndex<T>(items: T[], test: (item: T) => boolean): number {
  for (let k = items.length - 1; k >= 0; k--) if (test(items[k])) return k;
  return -1;
}

/** `${RUNTIME_IMAGE}` / `$RUNTIME_IMAGE` / `${X:-default}` with build args over ARG defaults; undefined when an arg has no value. */
export function resolveImageArgs(image: string, args: Record<string, string | undefined>): string | undefined {
  let missing = false;
  const out = image.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, braced, fallback, bare) => {
    const value = args[braced ?? bare];
    if (value) return value;
    if (fallback !== undefined) return fallback;
    missing = true;
    return '';
  });
  return missing || !out ? undefined : out;
}

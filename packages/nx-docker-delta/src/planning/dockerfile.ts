import type * as DockerfileAst from 'dockerfile-ast';

// Loaded on first parse, not with the module: it takes 50–130 ms to load, and inference answered
// from its cache (plugins/inference-cache.ts) parses nothing.
let parser: typeof DockerfileAst.DockerfileParser | undefined;
// The last few texts parsed: a service build reads the same Dockerfile's facts, dependency stage
// and assembly plan from one parse. Callers only read the tree.
const parsed = new Map<string, DockerfileAst.Dockerfile>();
/** dockerfile-ast's parser, loaded on the first parse (a process that parses nothing never loads it). */
export const DockerfileParser = {
  parse(text: string): DockerfileAst.Dockerfile {
    let tree = parsed.get(text);
    if (!tree) {
      tree = (parser ??= (require('dockerfile-ast') as typeof DockerfileAst).DockerfileParser).parse(text);
      if (parsed.size >= 8) parsed.delete(parsed.keys().next().value as string);
      parsed.set(text, tree);
    }
    return tree;
  },
};
import { BASE_IMAGE_ARG, DIRECTIVE_PREFIX } from '../constants';

/** What the planner needs to know about one Dockerfile. */
export interface DockerfileFacts {
  /** `ARG BASE_IMAGE` declared before the first FROM. */
  declaresBaseArg: boolean;
  /** Default value of that ARG (`ARG BASE_IMAGE=workspace-base`), if any. */
  baseArgDefault?: string;
  /** Whether some FROM uses `${BASE_IMAGE}` / `$BASE_IMAGE`. */
  usesBaseArg: boolean;
  /** Every FROM, with its stage name. */
  froms: Array<{ image: string; stage?: string; line: number }>;
  /** Sources of COPY/ADD that come from the build context (not `--from=`), as written. */
  contextSources: Array<{ source: string; line: number }>;
  /** `# nx-docker-delta: key=value ...` directives. */
  directives: Record<string, string>;
  /** Names of `ARG`s declared anywhere (build args the file accepts). */
  args: string[];
}

export class DockerfileError extends Error {}

/**
 * Parses a Dockerfile with a real parser (dockerfile-ast). Pure: text in, facts out.
 * Throws a DockerfileError with the file and line when the file cannot be built at all.
 */
export function readDockerfileFacts(text: string, file = 'Dockerfile'): DockerfileFacts {
  const df = DockerfileParser.parse(text);
  const instructions = df.getInstructions();
  const froms: DockerfileFacts['froms'] = [];
  const contextSources: DockerfileFacts['contextSources'] = [];
  const args: string[] = [];
  let declaresBaseArg = false;
  let baseArgDefault: string | undefined;
  let seenFrom = false;

  for (const instruction of instructions) {
    const keyword = instruction.getKeyword().toUpperCase();
    const line = instruction.getRange().start.line + 1;
    if (keyword === 'ARG') {
      const property = (instruction as unknown as ArgLike).getProperty();
      const name = property?.getName();
      if (name) {
        args.push(name);
        if (!seenFrom && name === BASE_IMAGE_ARG) {
          declaresBaseArg = true;
          baseArgDefault = property?.getValue() ?? undefined;
        }
      }
    } else if (keyword === 'FROM') {
      seenFrom = true;
      const from = instruction as unknown as FromLike;
      const image = from.getImage();
      if (!image) {
        throw new DockerfileError(`${file}:${line}: FROM has no image — write e.g. \`FROM \${BASE_IMAGE} AS deps\`.`);
      }
      froms.push({ image, stage: from.getBuildStage() ?? undefined, line });
    } else if (keyword === 'COPY' || keyword === 'ADD') {
      if (!seenFrom) {
        throw new DockerfileError(`${file}:${line}: ${keyword} before the first FROM — move it below a FROM line.`);
      }
      const flags = (instruction as unknown as FlagsLike).getFlags?.() ?? [];
      if (flags.some((f) => f.getName() === 'from')) continue;
      const sources = instructionPaths(instruction as unknown as PathsLike).slice(0, -1);
      for (const source of sources) {
        if (keyword === 'ADD' && REMOTE_SOURCE.test(source)) continue;
        contextSources.push({ source, line });
      }
    }
  }

  if (froms.length === 0) {
    throw new DockerfileError(`${file} has no FROM instruction — add one (e.g. \`FROM \${BASE_IMAGE}\`).`);
  }
  const usesBaseArg = froms.some((f) => BASE_ARG_REF.test(f.image.trim()));
  return {
    declaresBaseArg,
    baseArgDefault: baseArgDefault || undefined,
    usesBaseArg,
    froms,
    contextSources,
    directives: readDirectives(text),
    args,
  };
}

/**
 * Facts of the preamble only — everything up to and including the first FROM: enough to know
 * whether and which base a service shares and its directives. Inference runs on every nx
 * command over every Dockerfile, so it parses these few lines instead of the whole file (the
 * executor parses the whole file before it builds). `froms` holds the first FROM only and
 * `contextSources` is empty.
 */
export function readDockerfilePreamble(text: string, file = 'Dockerfile'): DockerfileFacts {
  const escape = /^#\s*escape\s*=\s*`/im.test(text.slice(0, 200)) ? '`' : '\\';
  const lines = text.split('\n');
  let continued = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    const startsFrom = !continued && /^\s*FROM\s/i.test(line);
    continued = !/^\s*#/.test(line) && line.trimEnd().endsWith(escape) ? true : continued && /^\s*(#.*)?$/.test(line);
    if (!startsFrom) continue;
    let end = i;
    while (end + 1 < lines.length && lines[end].replace(/\r$/, '').trimEnd().endsWith(escape)) end++;
    return readDockerfileFacts(lines.slice(0, end + 1).join('\n'), file);
  }
  return readDockerfileFacts(text, file);
}

/** `# nx-docker-delta: context=pruned name=node` before the first FROM → { context: 'pruned', name: 'node' } */
export function readDirectives(text: string): Record<string, string> {
  const directives: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    // Directives belong to the preamble, as the generator writes them.
    if (/^FROM\s/i.test(line)) break;
    if (!line.startsWith('#')) continue;
    const body = line.slice(1).trim();
    if (!body.startsWith(DIRECTIVE_PREFIX)) continue;
    for (const pair of body.slice(DIRECTIVE_PREFIX.length).trim().split(/\s+/)) {
      const [key, ...rest] = pair.split('=');
      if (key && rest.length) directives[key] = rest.join('=');
    }
  }
  return directives;
}

/** ADD fetches these itself (URLs, git remotes); they are not files of the build context. */
const REMOTE_SOURCE = /^(?:(?:https?|git|ssh):\/\/|[\w.-]+@[\w.-]+:)/;
/** `$BASE_IMAGE`, `${BASE_IMAGE}`, `${BASE_IMAGE:-fallback}`. */
const BASE_ARG_REF = new RegExp(`^\\$(?:${BASE_IMAGE_ARG}|\\{${BASE_IMAGE_ARG}(?::?[-+][^}]*)?\\})$`);

function instructionPaths(instruction: PathsLike): string[] {
  const json = instruction.getJSONStrings?.();
  if (json && json.length) {
    // dockerfile-ast drops the whitespace inside JSON strings (`"my file"` → `myfile`): parse the raw array.
    const raw = instruction.getRawArgumentsContent?.() ?? '';
    try {
      const parsed: unknown = JSON.parse(raw.slice(raw.indexOf('[')));
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed;
    } catch {
      // not valid JSON after all: fall back to the parser's view
    }
    return json.map((s) => s.getJSONValue());
  }
  // A heredoc (`COPY <<EOF /dest`) is inline content: dockerfile-ast returns its operator, body
  // and delimiter as arguments, so keep only the arguments before the body, minus `<<NAME`.
  const heredocs = instruction.getHeredocs?.() ?? [];
  const bodyStartsAfter = heredocs.length ? Math.min(...heredocs.map((h) => h.getStartRange().start.line)) : Infinity;
  return instruction
    .getArguments()
    .filter((a) => a.getRange().start.line <= bodyStartsAfter && !a.getValue().startsWith('<<'))
    .map((a) => a.getValue());
}

// Narrow structural views of dockerfile-ast's classes (its typings model instructions as a hierarchy).
interface ArgLike {
  getProperty(): { getName(): string; getValue(): string | null } | null;
}
interface FromLike {
  getImage(): string | null;
  getBuildStage(): string | null;
}
interface FlagsLike {
  getFlags?(): Array<{ getName(): string; getValue(): string | null }>;
}
interface PathsLike {
  getArguments(): Array<{ getValue(): string; getRange(): { start: { line: number } } }>;
  getJSONStrings?(): Array<{ getJSONValue(): string }>;
  getRawArgumentsContent?(): string | null;
  /** Public on COPY, protected (but present) on ADD in dockerfile-ast 0.7. */
  getHeredocs?(): Array<{ getStartRange(): { start: { line: number } } }>;
}

/**
 * Which build context a Dockerfile was written for. Pure: the caller passes the Dockerfile's text
 * and an `exists` probe. Inference runs in createNodes on every nx command, so it reads COPY/ADD
 * lines with a line scan (no full parse) and probes at most a few paths.
 */

/** How many COPY/ADD sources inference probes (two existsSync each, at most). */
const MAX_PROBED_SOURCES = 8;

/** COPY/ADD sources from the build context (no `--from=`), read cheaply line by line. */
/**
 * Build args a Dockerfile needs from its caller: declared with no default anywhere (`ARG
 * APP_NAME`) and used in a COPY/ADD source (`COPY apps/${APP_NAME} …`). Such a file is a
 * template for several apps (docker-compose passes the arg per service); built as one image
 * it copies `apps/` or fails. Cheap text scan, like quickCopySources.
 */
export function templateArgs(text: string, sources: string[] = quickCopySources(text)): string[] {
  const withDefault = new Set<string>();
  const without = new Set<string>();
  for (const m of text.matchAll(/^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(\s*=)?/gim)) (m[2] ? withDefault : without).add(m[1]);
  return [...without].filter((name) => !withDefault.has(name) && sources.some((src) => new RegExp(`\\$\\{?${name}(\\}|\\b)`).test(src)));
}

export function quickCopySources(text: string): string[] {
  const sources: string[] = [];
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  for (const raw of lines) {
    const m = /^\s*(COPY|ADD)\s+(.*)$/i.exec(raw);
    if (!m) continue;
    let rest = m[2].trim();
    if (rest.startsWith('<<') || /(^|\s)<<-?\w/.test(rest)) continue;
    const flags = rest.match(/^(--\S+\s+)*/)?.[0] ?? '';
    if (/--from=/.test(flags)) continue;
    rest = rest.slice(flags.length).trim();
    let args: string[];
    if (rest.startsWith('[')) {
      try {
        args = JSON.parse(rest);
      } catch {
        continue;
      }
    } else args = rest.split(/\s+/);
    for (const source of args.slice(0, -1)) {
      if (m[1].toUpperCase() === 'ADD' && /^[a-z]+:\/\//i.test(source)) continue;
      sources.push(source);
    }
  }
  return sources;
}

/** The build context chosen for a service and why (shown in `nx show project` and the build's log). */
export interface ContextChoice {
  /** `pruned`, `.` (workspace root) or a workspace-relative folder. */
  context: string;
  /** One clause a user reads: where the choice came from. */
  reason: string;
}

/** Options for {@link inferContext}. */
export interface InferContextInput {
  projectRoot: string;
  /** The `context=` directive of the Dockerfile, if any. */
  directive?: string;
  /** COPY/ADD sources as written. */
  sources: readonly string[];
  /** Does this workspace-relative path exist? */
  exists: (path: string) => boolean;
  /** Workspace-relative folder of the Dockerfile, when it is not the project folder itself. */
  dockerfileDir?: string;
}

const normalize = (source: string) => source.replace(/^(\.\/)+/, '').replace(/\/+$/, '') || '.';

/**
 * The context the Dockerfile was written for: its `context=` directive; else the workspace root
 * when more of its COPY/ADD sources are paths from there (they exist at the root, or name the
 * project folder or `dist/<project folder>` themselves) than exist in the project folder; else the project folder.
 */
export function inferContext(input: InferContextInput): ContextChoice {
  const { projectRoot } = input;
  if (input.directive) {
    const context = input.directive === 'pruned' ? 'pruned' : normalize(input.directive);
    return { context, reason: `the Dockerfile's \`# nx-docker-delta: context=${input.directive}\` line` };
  }
  const plain = input.sources.map(normalize).filter((s) => s !== '.' && !/[*?[$]/.test(s) && !s.startsWith('/') && !s.startsWith('..'));
  const probed = [...new Set(plain)].slice(0, MAX_PROBED_SOURCES);
  const rootProject = projectRoot === '.' || projectRoot === '';
  // A Dockerfile in a folder of its own (gateway/Dockerfile beside its nginx.conf, in no project
  // or deeper in one) was written for that folder when its sources are there and not elsewhere.
  const dir = input.dockerfileDir ? normalize(input.dockerfileDir) : undefined;
  if (dir && dir !== '.' && dir !== normalize(projectRoot || '.') && probed.length > 0) {
    const inDir = probed.filter((s) => input.exists(`${dir}/${s}`));
    const elsewhere = Math.max(probed.filter((s) => input.exists(s)).length, rootProject ? 0 : probed.filter((s) => input.exists(`${projectRoot}/${s}`)).length);
    if (inDir.length > elsewhere) return { context: dir, reason: `its COPY sources (${inDir.slice(0, 3).join(', ')}) are in ${dir}, the Dockerfile's folder` };
  }
  if (rootProject) return { context: '.', reason: 'the project is the workspace root' };
  if (probed.length === 0) return { context: projectRoot, reason: 'the project folder (default)' };
  // Scored, not first-hit: a TS-solution project has its own package.json, yet a Dockerfile that
  // also copies the lockfile, nx.json and apps/ was written for the workspace root.
  const inProject = probed.filter((s) => input.exists(`${projectRoot}/${s}`));
  // `dist/apps/api` names the project's output by its workspace path even before it is built; a bare
  // `dist/main.js` may be the project's own dist folder (TS-solution), so it only counts if it exists.
  const workspacePath = (s: string) => [projectRoot, `dist/${projectRoot}`].some((p) => s === p || s.startsWith(`${p}/`));
  const fromRoot = probed.filter((s) => workspacePath(s) || input.exists(s));
  if (fromRoot.length > inProject.length) {
    return { context: '.', reason: `its COPY sources (${fromRoot.slice(0, 3).join(', ')}) are paths from the workspace root, not from ${projectRoot}` };
  }
  if (inProject.length > 0) return { context: projectRoot, reason: `its COPY sources (${inProject.slice(0, 3).join(', ')}) are in ${projectRoot}` };
  return { context: projectRoot, reason: 'the project folder (default)' };
}

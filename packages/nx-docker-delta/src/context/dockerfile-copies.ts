/**
 * Pure reading of a Dockerfile for what the pruned context must contain:
 * directives (`# nx-docker-delta: key=value`) and the context paths that
 * COPY/ADD instructions read.
 */


/** Parses `# nx-docker-delta: a=b c=d` comment lines that appear before the first FROM. */
export function readDirectives(dockerfile: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of dockerfile.split(/\r?\n/)) {
    const line = raw.trim();
    if (/^FROM\s/i.test(line)) break;
    const m = /^#\s*nx-docker-delta:\s*(.*)$/.exec(line);
    if (!m) continue;
    for (const pair of m[1].split(/\s+/).filter(Boolean)) {
      const [k, ...v] = pair.split('=');
      out[k] = v.join('=');
    }
  }
  return out;
}

/** Joins `\`-continued lines and drops comments, so each entry is one instruction. */
export function logicalInstructions(dockerfile: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of dockerfile.split(/\r?\n/)) {
    const trimmed = raw.trim();
    if (current === '' && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (current !== '' && trimmed.startsWith('#')) continue;
    if (trimmed.endsWith('\\')) {
      current += trimmed.slice(0, -1).trimEnd() + ' ';
      continue;
    }
    out.push((current + trimmed).trim());
    current = '';
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

function tokenize(args: string): string[] {
  const trimmed = args.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed = JSON.parse(trimmed);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      /* shell form after all */
    }
  }
  return trimmed.match(/"[^"]*"|'[^']*'|\S+/g)?.map((t) => t.replace(/^["']|["']$/g, '')) ?? [];
}

/**
 * Context-relative source paths of every `COPY`/`ADD` that reads the build
 * context (not `--from=` a stage or image, not URLs). Normalized: no leading
 * `./`, no trailing `/`; `.` means the whole context.
 */
export function contextCopySources(dockerfile: string): string[] {
  const sources = new Set<string>();
  for (const instr of logicalInstructions(dockerfile)) {
    const m = /^(COPY|ADD)\s+(.*)$/i.exec(instr);
    if (!m) continue;
    let rest = m[2];
    // Flags come first in both forms; --from reads another stage, never the context.
    let fromOther = false;
    const flagRe = /^--([a-z-]+)(=\S+)?\s+/i;
    let f: RegExpExecArray | null;
    while ((f = flagRe.exec(rest))) {
      if (f[1].toLowerCase() === 'from') fromOther = true;
      rest = rest.slice(f[0].length);
    }
    if (fromOther) continue;
    const tokens = tokenize(rest);
    for (const src of tokens.slice(0, -1)) {
      if (/^[a-z]+:\/\//i.test(src)) continue;
      let p = src.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
      if (p === '') p = '.';
      sources.add(p);
    }
  }
  return [...sources].sort();
}

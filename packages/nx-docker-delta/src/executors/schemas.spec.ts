import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as ts from 'typescript';

const PACKAGE = resolve(__dirname, '../..');
const SRC = join(PACKAGE, 'src');

interface Member {
  optional: boolean;
}

/**
 * Members of an exported interface, following `extends` and `export type { A as B } from`
 * across files by reading their source text (no type checker: fast, and it sees exactly what
 * the declaration files say).
 */
function interfaceMembers(file: string, name: string): Map<string, Member> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const importedFrom = (local: string): { file: string; name: string } | undefined => {
    for (const statement of source.statements) {
      const specifier = (statement as ts.ImportDeclaration | ts.ExportDeclaration).moduleSpecifier;
      if (!specifier || !ts.isStringLiteral(specifier)) continue;
      const bindings = ts.isImportDeclaration(statement)
        ? statement.importClause?.namedBindings
        : ts.isExportDeclaration(statement)
          ? statement.exportClause
          : undefined;
      if (!bindings || !(ts.isNamedImports(bindings) || ts.isNamedExports(bindings))) continue;
      for (const element of bindings.elements) {
        if (element.name.text !== local) continue;
        const target = resolveModule(dirname(file), specifier.text);
        return { file: target, name: (element.propertyName ?? element.name).text };
      }
    }
    return undefined;
  };

  const declaration = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
  if (!declaration) {
    const reexport = importedFrom(name);
    if (!reexport) throw new Error(`${file} declares no interface ${name}`);
    return interfaceMembers(reexport.file, reexport.name);
  }
  const members = new Map<string, Member>();
  for (const clause of declaration.heritageClauses ?? []) {
    for (const type of clause.types) {
      const parent = type.expression.getText(source);
      const origin = importedFrom(parent) ?? { file, name: parent };
      for (const [key, member] of interfaceMembers(origin.file, origin.name)) members.set(key, member);
    }
  }
  for (const member of declaration.members) {
    if (ts.isPropertySignature(member) && member.name) {
      members.set(member.name.getText(source), { optional: !!member.questionToken });
    }
  }
  return members;
}

function resolveModule(fromDir: string, specifier: string): string {
  const base = resolve(fromDir, specifier);
  const found = [`${base}.ts`, `${base}.d.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`cannot resolve ${specifier} from ${fromDir}`);
  return found;
}

interface JsonSchema {
  properties: Record<string, JsonSchema & { items?: JsonSchema }>;
  required?: string[];
  additionalProperties?: boolean;
}

function shape(members: Map<string, Member>) {
  return {
    properties: [...members.keys()].sort(),
    required: [...members].filter(([, m]) => !m.optional).map(([key]) => key).sort(),
  };
}

function schemaShape(schema: JsonSchema) {
  return { properties: Object.keys(schema.properties).sort(), required: [...(schema.required ?? [])].sort() };
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

describe('executor schema.json and schema.d.ts agree', () => {
  test.each([
    ['base', 'BaseExecutorSchema'],
    ['service', 'ServiceExecutorSchema'],
    ['verify', 'VerifyExecutorSchema'],
    ['release-publish', 'ReleasePublishExecutorSchema'],
  ])('%s: same properties, same required ones', (executor, typeName) => {
    const schema = readJson<JsonSchema>(join(SRC, 'executors', executor, 'schema.json'));
    const members = interfaceMembers(join(SRC, 'executors', executor, 'schema.d.ts'), typeName);
    expect(members.size).toBeGreaterThan(0);
    expect(schemaShape(schema)).toEqual(shape(members));
  });

  test.each(['base', 'service', 'verify', 'release-publish'])('%s: rejects unknown options and describes every option', (executor) => {
    const schema = readJson<JsonSchema & { properties: Record<string, { description?: string }> }>(join(SRC, 'executors', executor, 'schema.json'));
    expect(schema.additionalProperties).toBe(false);
    const undocumented = Object.entries(schema.properties).filter(([, p]) => !p.description).map(([key]) => key);
    expect(undocumented).toEqual([]);
  });

  it('base: the items of "bases" match BaseSpec', () => {
    const schema = readJson<JsonSchema>(join(SRC, 'executors', 'base', 'schema.json'));
    const items = schema.properties.bases.items as JsonSchema;
    expect(schemaShape(items)).toEqual(shape(interfaceMembers(join(SRC, 'planning', 'targets.ts'), 'BaseSpec')));
  });

  it('reads inherited members (the service schema includes ImageOptions)', () => {
    const members = interfaceMembers(join(SRC, 'executors', 'service', 'schema.d.ts'), 'ServiceExecutorSchema');
    for (const key of interfaceMembers(join(SRC, 'builds', 'settings.ts'), 'ImageOptions').keys()) {
      expect(members.has(key)).toBe(true);
    }
    expect(members.get('dockerfile')).toEqual({ optional: false });
  });
});

describe('plugin manifests point at files the build produces', () => {
  const pkg = readJson<{ executors: string; generators?: string; nx: { targets: { build: { options: Record<string, unknown> } } } }>(
    join(PACKAGE, 'package.json')
  );
  const build = pkg.nx.targets.build.options as { outputPath: string; rootDir: string; assets: Array<{ input: string; glob: string; output: string }> };

  it('the build compiles src/ into dist/ and copies the JSON schemas', () => {
    expect(build.outputPath).toBe('packages/nx-docker-delta/dist');
    expect(build.rootDir).toBe('packages/nx-docker-delta/src');
    expect(build.assets).toContainEqual({ input: './packages/nx-docker-delta/src', glob: '**/!(*.ts)', output: '.' });
  });

  /** `./dist/x/y` (what Nx loads from the published package) → the source that becomes it. */
  const sourceOf = (path: string, kind: 'module' | 'asset') => {
    expect(path).toMatch(/^\.\/dist\//);
    const relative = path.replace(/^\.\/dist\//, '');
    return join(SRC, kind === 'module' ? `${relative}.ts` : relative);
  };

  const manifests: Array<[string, string, 'implementation' | 'factory']> = [['executors', pkg.executors, 'implementation']];
  if (pkg.generators) manifests.push(['generators', pkg.generators, 'factory']);

  test.each(manifests)('%s.json', (kind, manifestPath, entryKey) => {
    const manifest = readJson<Record<string, Record<string, Record<string, string>>>>(join(PACKAGE, manifestPath));
    const entries = Object.entries(manifest[kind]);
    expect(entries.length).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const [name, entry] of entries) {
      for (const [path, type] of [
        [entry[entryKey], 'module'],
        [entry.schema, 'asset'],
      ] as const) {
        if (!existsSync(sourceOf(path, type))) missing.push(`${name}: ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test.each(['base', 'service', 'verify', 'release-publish'])('executor %s has a default export Nx can call', async (executor) => {
    const manifest = readJson<{ executors: Record<string, { implementation: string }> }>(join(PACKAGE, pkg.executors));
    const module = await import(sourceOf(manifest.executors[executor].implementation, 'module'));
    expect(typeof module.default).toBe('function');
  });
});

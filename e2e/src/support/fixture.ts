/**
 * The workspace the e2e suite containerizes: three Node HTTP services and one
 * shared library, in the layout `create-nx-workspace --preset=ts` uses
 * (npm workspaces under packages/, TypeScript project references, builds
 * inferred by @nx/js/typescript from tsconfig.lib.json).
 *
 *   @acme/shared  library: describe() — imported by svc-a and svc-b
 *   @acme/svc-a   node:http server using shared
 *   @acme/svc-b   node:http server using shared and `nanoid` (a dependency only it has)
 *   @acme/svc-c   node:http server with no workspace dependency
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const SCOPE = '@acme';
export const SERVICES = ['svc-a', 'svc-b', 'svc-c'] as const;
export type Service = (typeof SERVICES)[number];
/** Services that import the shared library. */
export const USES_SHARED: Service[] = ['svc-a', 'svc-b'];
export const SERVICE_PORT = 3000;
/** The service-only npm dependency svc-b starts with, and the one scenario 4 adds to svc-c. */
export const SVC_B_DEPENDENCY = { name: 'nanoid', range: '^5.0.9' };
export const ADDED_DEPENDENCY = { name: 'picocolors', range: '^1.1.1' };

export const projectName = (p: string) => `${SCOPE}/${p}`;
export const projectRoot = (p: string) => `packages/${p}`;

function write(root: string, path: string, content: string): void {
  const abs = join(root, path);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, content);
}

const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';

function tsconfigs(root: string, dir: string, references: string[]): void {
  write(root, `${dir}/tsconfig.json`, json({ extends: '../../tsconfig.base.json', files: [], include: [], references: [{ path: './tsconfig.lib.json' }] }));
  write(
    root,
    `${dir}/tsconfig.lib.json`,
    json({
      extends: '../../tsconfig.base.json',
      compilerOptions: {
        rootDir: 'src',
        outDir: 'dist',
        tsBuildInfoFile: 'dist/tsconfig.lib.tsbuildinfo',
        emitDeclarationOnly: false,
        forceConsistentCasingInFileNames: true,
        types: ['node'],
      },
      include: ['src/**/*.ts'],
      references: references.map((r) => ({ path: `../${r}/tsconfig.lib.json` })),
    })
  );
}

function packageJson(name: string, main: string, dependencies: Record<string, string>, library: boolean) {
  return {
    name: projectName(name),
    version: '0.0.1',
    private: true,
    type: 'module',
    main,
    ...(library
      ? {
          types: main.replace(/\.js$/, '.d.ts'),
          exports: {
            './package.json': './package.json',
            '.': { [`${SCOPE}/source`]: './src/index.ts', types: main.replace(/\.js$/, '.d.ts'), import: main, default: main },
          },
        }
      : {}),
    dependencies,
  };
}

export function sharedSource(version: string): string {
  return [
    `export const SHARED_VERSION = '${version}';`,
    '',
    '/** What every service says about itself. */',
    'export function describe(service: string): { service: string; shared: string; node: string } {',
    '  return { service, shared: SHARED_VERSION, node: process.version };',
    '}',
    '',
  ].join('\n');
}

export function serviceSource(service: Service, revision: number, extra: { importAdded?: boolean } = {}): string {
  const usesShared = USES_SHARED.includes(service);
  const lines = [
    "import { createServer } from 'node:http';",
    ...(usesShared ? [`import { describe } from '${projectName('shared')}';`] : []),
    ...(service === 'svc-b' ? [`import { nanoid } from '${SVC_B_DEPENDENCY.name}';`] : []),
    ...(extra.importAdded ? [`import pc from '${ADDED_DEPENDENCY.name}';`] : []),
    '',
    `const REVISION = ${revision};`,
    `const port = Number(process.env.PORT ?? ${SERVICE_PORT});`,
    '',
    'const server = createServer((req, res) => {',
    '  const body = {',
    usesShared ? `    ...describe('${service}'),` : `    service: '${service}',`,
    '    revision: REVISION,',
    '    path: req.url,',
    ...(service === 'svc-b' ? ['    requestId: nanoid(8),'] : []),
    ...(extra.importAdded ? ["    colors: pc.isColorSupported ? 'yes' : 'no',"] : []),
    '  };',
    "  res.writeHead(200, { 'content-type': 'application/json' });",
    '  res.end(JSON.stringify(body));',
    '});',
    `server.listen(port, () => console.log('${service} listening on ' + port));`,
    "for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.close(() => process.exit(0)));",
    '',
  ];
  return lines.join('\n');
}

/** Writes the library and the three services; the caller installs and commits. */
export function writeFixture(root: string): void {
  write(root, 'packages/shared/package.json', json(packageJson('shared', './dist/index.js', { tslib: '^2.3.0' }, true)));
  tsconfigs(root, 'packages/shared', []);
  write(root, 'packages/shared/src/index.ts', sharedSource('shared-1'));

  for (const service of SERVICES) {
    const deps: Record<string, string> = {};
    if (USES_SHARED.includes(service)) deps[projectName('shared')] = '*';
    if (service === 'svc-b') deps[SVC_B_DEPENDENCY.name] = SVC_B_DEPENDENCY.range;
    write(root, `${projectRoot(service)}/package.json`, json(packageJson(service, './dist/main.js', deps, false)));
    tsconfigs(root, projectRoot(service), USES_SHARED.includes(service) ? ['shared'] : []);
    write(root, `${projectRoot(service)}/src/main.ts`, serviceSource(service, 1));
  }

  const tsconfigPath = join(root, 'tsconfig.json');
  const tsconfig = JSON.parse(readFileSync(tsconfigPath, 'utf8'));
  tsconfig.references = ['shared', ...SERVICES].map((p) => ({ path: `./packages/${p}` }));
  writeFileSync(tsconfigPath, json(tsconfig));
}

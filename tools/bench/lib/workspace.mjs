// The synthetic workspace every contender builds: N express services on three shared libs,
// real npm dependencies, esbuild builds as `@nx/node:app` sets them up. Same source for all.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REALISTIC_DESCRIPTION, REALISTIC_DEV_DEPS, REALISTIC_P6_PACKAGES, REALISTIC_RUNTIME_DEPS, REALISTIC_TEMPLATE_EXTRA, realisticWorkspaceFiles } from './workspace-realistic.mjs';

/** pnpm version of the pnpm variant (root `packageManager`, template install, lockfiles). */
export const PNPM_VERSION = '9.15.9';

/** Runtime dependencies of the services (what ends up in the images). */
export const RUNTIME_DEPS = {
  express: '^4.21.2',
  zod: '^3.25.0',
  lodash: '^4.17.21',
  dayjs: '^1.11.13',
  tslib: '^2.8.1',
};

/** What every workspace needs to build; contenders add their own plugin packages. */
export const TOOLCHAIN_DEV_DEPS = {
  nx: '23.2.1',
  '@nx/js': '23.2.1',
  '@nx/esbuild': '23.2.1',
  esbuild: '^0.25.0',
  typescript: '~5.9.3',
  '@types/node': '^20.0.0',
  '@types/express': '^4.17.21',
  '@types/lodash': '^4.17.0',
};

export const serviceName = (i) => `svc${String(i + 1).padStart(2, '0')}`;

export function write(root, rel, text) {
  const abs = join(root, rel);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
}

const json = (value) => JSON.stringify(value, null, 2) + '\n';

export function rootPackageJson(devDependencies, profile = PROFILES.quick, pm = 'npm') {
  return json({
    name: '@bench/source',
    version: '0.0.0',
    private: true,
    ...(pm === 'pnpm' ? { packageManager: `pnpm@${PNPM_VERSION}` } : {}),
    dependencies: profile.runtimeDeps,
    devDependencies: { ...profile.devDeps, ...devDependencies },
  });
}

export function nxJson(plugins) {
  return json({
    $schema: './node_modules/nx/schemas/nx-schema.json',
    analytics: false,
    namedInputs: {
      default: ['{projectRoot}/**/*', 'sharedGlobals'],
      production: ['default', '!{projectRoot}/**/?(*.)+(spec|test).[jt]s?(x)'],
      sharedGlobals: [],
    },
    targetDefaults: {
      '@nx/esbuild:esbuild': { cache: true, dependsOn: ['^build'], inputs: ['production', '^production'] },
    },
    plugins,
  });
}

const LIBS = {
  util: {
    deps: ['lodash', 'dayjs'],
    files: {
      'src/index.ts': `export * from './lib/time';\nexport * from './lib/collections';\n`,
      'src/lib/time.ts': `import dayjs from 'dayjs';\n\nexport function stamp(date: Date = new Date()): string {\n  return dayjs(date).format('YYYY-MM-DDTHH:mm:ss');\n}\n\nexport function ageInDays(from: Date, to: Date = new Date()): number {\n  return dayjs(to).diff(dayjs(from), 'day');\n}\n`,
      'src/lib/collections.ts': `import { chunk, groupBy, uniqBy } from 'lodash';\n\nexport function pages<T>(items: T[], size = 20): T[][] {\n  return chunk(items, size);\n}\n\nexport function byKey<T>(items: T[], key: (item: T) => string): Record<string, T[]> {\n  return groupBy(items, key);\n}\n\nexport function unique<T>(items: T[], key: (item: T) => string): T[] {\n  return uniqBy(items, key);\n}\n`,
    },
  },
  model: {
    deps: ['zod'],
    files: {
      'src/index.ts': `export * from './lib/schemas';\n`,
      'src/lib/schemas.ts': `import { z } from 'zod';\n\nexport const Item = z.object({\n  id: z.string().min(1),\n  name: z.string().min(1).max(200),\n  price: z.number().nonnegative(),\n  tags: z.array(z.string()).default([]),\n  createdAt: z.string(),\n});\nexport type Item = z.infer<typeof Item>;\n\nexport const ItemInput = Item.omit({ id: true, createdAt: true });\nexport type ItemInput = z.infer<typeof ItemInput>;\n\nexport const Page = z.object({ page: z.coerce.number().int().min(0).default(0), size: z.coerce.number().int().min(1).max(100).default(20) });\n`,
    },
  },
  http: {
    deps: ['express'],
    files: {
      'src/index.ts': `export * from './lib/server';\n`,
      'src/lib/server.ts': `import express, { Express, NextFunction, Request, Response } from 'express';\n\nexport function createServer(name: string): Express {\n  const app = express();\n  app.use(express.json({ limit: '1mb' }));\n  app.get('/healthz', (_req, res) => res.json({ ok: true, service: name }));\n  return app;\n}\n\nexport function errors(err: Error, _req: Request, res: Response, _next: NextFunction): void {\n  res.status(400).json({ error: err.message });\n}\n\nexport function listen(app: Express, port = Number(process.env.PORT ?? 3000)): void {\n  app.listen(port, () => console.log(\`listening on \${port}\`));\n}\n`,
    },
  },
};

function libFiles(name, spec) {
  const root = `libs/${name}`;
  const files = {
    [`${root}/project.json`]: json({ name, $schema: '../../node_modules/nx/schemas/project-schema.json', sourceRoot: `${root}/src`, projectType: 'library', tags: [] }),
    [`${root}/tsconfig.json`]: json({ extends: '../../tsconfig.base.json', include: ['src/**/*.ts'] }),
  };
  for (const [rel, text] of Object.entries(spec.files)) files[`${root}/${rel}`] = text;
  return files;
}

/** Source of one service; `marker` is the line P1 changes. */
export function serviceMain(name, marker = 0) {
  return `import { createServer, errors, listen } from '@bench/http';\nimport { registerRoutes } from './app/routes';\n\n// The benchmark's one-line delta edits this constant.\nexport const BUILD_MARKER = ${marker};\n\nconst app = createServer('${name}');\nregisterRoutes(app, '${name}');\napp.get('/version', (_req, res) => res.json({ service: '${name}', marker: BUILD_MARKER }));\napp.use(errors);\nlisten(app);\n`;
}

/**
 * project.json and tsconfigs of a service as `nx g @nx/node:app --bundler=esbuild` writes them
 * (outputPath inside the project, as Nx 21+ does); both profiles build their services this way.
 */
export function esbuildAppFiles(name, root) {
  return {
      [`${root}/project.json`]: json({
        name,
        $schema: '../../node_modules/nx/schemas/project-schema.json',
        sourceRoot: `${root}/src`,
        projectType: 'application',
        tags: [],
        // What `nx g @nx/node:app --bundler=esbuild` writes (outputPath inside the project, as Nx 21+ does).
        targets: {
          build: {
            executor: '@nx/esbuild:esbuild',
            outputs: ['{options.outputPath}'],
            defaultConfiguration: 'production',
            options: {
              platform: 'node',
              outputPath: `${root}/dist`,
              format: ['cjs'],
              bundle: true,
              thirdParty: false,
              main: `${root}/src/main.ts`,
              tsConfig: `${root}/tsconfig.app.json`,
              generatePackageJson: true,
              // Type-checking is a separate CI step here; the build only bundles (same for every contender).
              skipTypeCheck: true,
              esbuildOptions: { sourcemap: false, outExtension: { '.js': '.js' } },
            },
            configurations: { development: {}, production: { esbuildOptions: { sourcemap: false, outExtension: { '.js': '.js' } } } },
          },
        },
      }),
      [`${root}/tsconfig.json`]: json({ extends: '../../tsconfig.base.json', files: [], references: [{ path: './tsconfig.app.json' }] }),
      [`${root}/tsconfig.app.json`]: json({ extends: './tsconfig.json', compilerOptions: { outDir: '../../dist/out-tsc', module: 'commonjs', types: ['node'] }, include: ['src/**/*.ts'] }),
  };
}

function serviceFiles(name, index) {
  const root = `apps/${name}`;
  return {
    ...esbuildAppFiles(name, root),
    [`${root}/src/main.ts`]: serviceMain(name),
    [`${root}/src/app/routes.ts`]: `import { Express } from 'express';\nimport { Item, ItemInput, Page } from '@bench/model';\nimport { byKey, pages, stamp, unique } from '@bench/util';\nimport { Store } from './store';\n\nexport function registerRoutes(app: Express, service: string): void {\n  const store = new Store(service);\n  app.get('/items', (req, res) => {\n    const { page, size } = Page.parse(req.query);\n    res.json({ items: pages(store.all(), size)[page] ?? [], at: stamp() });\n  });\n  app.get('/items/by-tag', (_req, res) => {\n    res.json(byKey(store.all().flatMap((i) => i.tags.map((t) => ({ ...i, tag: t }))), (i) => i.tag));\n  });\n  app.post('/items', (req, res) => {\n    const input = ItemInput.parse(req.body);\n    const item: Item = store.add(input);\n    res.status(201).json(item);\n  });\n  app.get('/items/unique', (_req, res) => res.json(unique(store.all(), (i) => i.name)));\n}\n`,
    [`${root}/src/app/store.ts`]: `import { Item, ItemInput } from '@bench/model';\nimport { stamp } from '@bench/util';\n\nexport class Store {\n  private readonly items = new Map<string, Item>();\n  private next = ${index * 1000};\n  constructor(readonly service: string) {}\n\n  add(input: ItemInput): Item {\n    const id = \`\${this.service}-\${++this.next}\`;\n    const item = Item.parse({ ...input, id, createdAt: stamp() });\n    this.items.set(id, item);\n    return item;\n  }\n\n  all(): Item[] {\n    return [...this.items.values()];\n  }\n}\n`,
  };
}

/** Files shared by every contender's copy of the workspace (plus their own package.json/nx.json). */
export function workspaceFiles({ services }) {
  const files = {
    '.gitignore': 'node_modules\ndist\n**/dist\n.nx\n.nx-docker-delta\ntmp\n',
    'tsconfig.base.json': json({
      compilerOptions: {
        rootDir: '.',
        target: 'es2022',
        module: 'commonjs',
        moduleResolution: 'node',
        esModuleInterop: true,
        skipLibCheck: true,
        strict: true,
        baseUrl: '.',
        paths: Object.fromEntries(Object.keys(LIBS).map((lib) => [`@bench/${lib}`, [`libs/${lib}/src/index.ts`]])),
      },
      exclude: ['node_modules', 'tmp'],
    }),
  };
  for (const [name, spec] of Object.entries(LIBS)) Object.assign(files, libFiles(name, spec));
  for (let i = 0; i < services; i++) Object.assign(files, serviceFiles(serviceName(i), i));
  return files;
}

export function writeFiles(root, files) {
  for (const [rel, text] of Object.entries(files)) write(root, rel, text);
}

/** Dependencies of the quick workload's express that P6 promotes, one per run, to a direct dependency of one service. */
const QUICK_P6_PACKAGES = ['ms', 'bytes', 'escape-html', 'depd', 'vary'];

/**
 * The two workloads. quick: today's light express services (the smoke test); realistic: NestJS
 * services with 100–200 MB of production node_modules each (the committed results).
 */
export const PROFILES = {
  quick: {
    id: 'quick',
    runtimeDeps: RUNTIME_DEPS,
    devDeps: TOOLCHAIN_DEV_DEPS,
    templateExtra: {},
    p6Packages: QUICK_P6_PACKAGES,
    files: ({ services }) => workspaceFiles({ services }),
    healthPath: '/healthz',
    description: 'express services on 3 shared libs (express, zod, lodash, dayjs), @nx/esbuild builds',
  },
  realistic: {
    id: 'realistic',
    runtimeDeps: REALISTIC_RUNTIME_DEPS,
    devDeps: REALISTIC_DEV_DEPS,
    templateExtra: REALISTIC_TEMPLATE_EXTRA,
    p6Packages: REALISTIC_P6_PACKAGES,
    files: ({ services }) => realisticWorkspaceFiles({ services, serviceName }),
    healthPath: '/health',
    description: REALISTIC_DESCRIPTION,
  },
};

// Writes the demo workspace: three real HTTP services (orders, payments, catalog) and a shared
// library in an Nx workspace that uses nx-docker-delta exactly as a user would (the plugin is
// installed as a package copy, its `init` and `dockerfile` generators write the Dockerfiles).
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const SERVICES = [
  { name: 'orders', port: 3000, usesShared: true, deps: { ms: '2.1.3' } },
  { name: 'payments', port: 3001, usesShared: true, deps: {} },
  { name: 'catalog', port: 3002, usesShared: false, deps: {} },
];

const write = (root, path, content) => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content, null, 2) + '\n');
};

function serviceSource(service) {
  const imports = [
    "const http = require('node:http');",
    ...(service.usesShared ? ["const { greeting } = require('@shop/shared');"] : []),
    ...(service.deps.ms ? ["const ms = require('ms');"] : []),
  ];
  const body = service.usesShared ? `greeting('${service.name}')` : `'${service.name} says hello'`;
  const extra = service.deps.ms ? ", uptime: ms(Math.round(process.uptime() * 1000))" : '';
  return `${imports.join('\n')}

const port = Number(process.env.PORT || ${service.port});
const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200).end('ok');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ service: '${service.name}', message: ${body}${extra} }));
});
server.listen(port, () => console.log('${service.name} listening on ' + port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;
}

/**
 * Writes the workspace's files at `dir`; linkNodeModules then provides nx and esbuild from the
 * repository by symlink and the built plugin by copy — a copy, not a link, so Nx loads it like an
 * installed package.
 */
export function writeWorkspace(dir) {
  write(dir, 'package.json', {
    name: '@shop/source',
    version: '0.0.0',
    private: true,
    dependencies: { ms: '2.1.3' },
  });
  write(dir, 'nx.json', {
    $schema: './node_modules/nx/schemas/nx-schema.json',
    namedInputs: {
      default: ['{projectRoot}/**/*', 'sharedGlobals'],
      production: ['default'],
      sharedGlobals: [],
    },
    targetDefaults: { build: { cache: true, dependsOn: ['^build'], inputs: ['production', '^production'] } },
    // Without @nx/js in package.json Nx does not read imports: the graph would not know that
    // orders uses `ms`, and its pruned manifest would miss it. `auto`: a dependency change makes
    // only the projects that use it affected.
    pluginsConfig: { '@nx/js': { analyzeSourceFiles: true, projectsAffectedByDependencyUpdates: 'auto' } },
  });
  write(dir, 'tsconfig.base.json', {
    compilerOptions: { baseUrl: '.', paths: { '@shop/shared': ['libs/shared/src/index.js'] } },
  });
  write(dir, '.gitignore', 'node_modules\ndist\n.nx\n.nx-docker-delta\n');
  write(dir, 'libs/shared/project.json', { name: 'shared', projectType: 'library', sourceRoot: 'libs/shared/src' });
  write(dir, 'libs/shared/src/index.js', "exports.greeting = (who) => `hello from ${who}`;\n");
  for (const service of SERVICES) {
    const root = `apps/${service.name}`;
    write(dir, `${root}/project.json`, {
      name: service.name,
      projectType: 'application',
      sourceRoot: `${root}/src`,
      targets: {
        build: {
          executor: 'nx:run-commands',
          outputs: [`{workspaceRoot}/dist/${root}`],
          options: {
            // esbuild bundles the app and the shared library; npm packages stay external (--packages=external) and are
            // installed in the image from the service's pruned lockfile.
            command: `esbuild ${root}/src/main.js --bundle --platform=node --target=node20 --packages=external --alias:@shop/shared=./libs/shared/src/index.js --outfile=dist/${root}/main.js --log-level=warning`,
          },
        },
      },
    });
    write(dir, `${root}/src/main.js`, serviceSource(service));
  }
}

/** Call after the lockfile is written: npm would record the symlinked packages as links. */
export function linkNodeModules(dir, repoRoot) {
  const modules = join(dir, 'node_modules');
  mkdirSync(modules, { recursive: true });
  for (const entry of readdirSync(join(repoRoot, 'node_modules'))) {
    if (entry === 'nx-docker-delta' || existsSync(join(modules, entry))) continue;
    symlinkSync(join(repoRoot, 'node_modules', entry), join(modules, entry));
  }
  const plugin = join(modules, 'nx-docker-delta');
  for (const file of ['package.json', 'executors.json', 'generators.json', 'dist']) {
    cpSync(join(repoRoot, 'packages/nx-docker-delta', file), join(plugin, file), { recursive: true });
  }
}

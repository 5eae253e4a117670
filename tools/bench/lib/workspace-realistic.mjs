// The realistic workload: N NestJS services (Nest + express platform, TypeORM + pg, class-validator,
// gRPC libraries, rxjs) on shared libraries, a few services with extra dependencies of their own
// (ioredis, kafkajs, the AWS S3 client). The code is small; the weight is in the dependencies
// (100–200 MB of production node_modules per service — run.mjs measures it in the images).
// Built by @nx/esbuild as `@nx/node:app --framework=nest --bundler=esbuild` sets it up:
// bundled, node_modules external, generatePackageJson.
//
// esbuild does not emit decorator metadata, so the code never relies on it: injection uses
// explicit `@Inject()` tokens and TypeORM columns name their types.

// A cycle (workspace.mjs imports this file for the profile): only a hoisted function is used, at call time.
import { esbuildAppFiles } from './workspace.mjs';

/**
 * Production dependencies of the services (what ends up in the images). No @nestjs/microservices:
 * it is an optional peer of @nestjs/core and has ioredis and kafkajs as optional peers, and Nx's
 * generatePackageJson adds root-installed optional peers to every service — the per-service
 * extras below would then be in every image (measured in the first realistic run).
 */
export const REALISTIC_RUNTIME_DEPS = {
  '@nestjs/common': '^10.4.15',
  '@nestjs/core': '^10.4.15',
  '@nestjs/platform-express': '^10.4.15',
  '@nestjs/config': '^3.3.0',
  '@nestjs/swagger': '^8.1.0',
  '@nestjs/typeorm': '^10.0.2',
  typeorm: '^0.3.20',
  pg: '^8.13.1',
  'class-validator': '^0.14.1',
  'class-transformer': '^0.5.1',
  '@grpc/grpc-js': '^1.12.5',
  '@grpc/proto-loader': '^0.7.13',
  rxjs: '^7.8.1',
  'reflect-metadata': '^0.2.2',
  tslib: '^2.8.1',
  // Extra dependencies of a few services only.
  ioredis: '^5.4.2',
  kafkajs: '^2.2.4',
  '@aws-sdk/client-s3': '^3.700.0',
};

/** Build toolchain (devDependencies) of the realistic workspace; contenders add their own plugins. */
export const REALISTIC_DEV_DEPS = {
  nx: '23.2.1',
  '@nx/js': '23.2.1',
  '@nx/esbuild': '23.2.1',
  esbuild: '^0.25.0',
  typescript: '~5.9.3',
  '@types/node': '^20.0.0',
  '@types/express': '^4.17.21',
};

/** P6 packages: not used by any service before; one per run becomes a dependency of svc01. */
export const REALISTIC_P6_PACKAGES = ['helmet', 'compression', 'cookie-parser'];

/** Packages installed into the template beyond the workspace's own (P6 promotes them later). */
export const REALISTIC_TEMPLATE_EXTRA = { helmet: '^8.0.0', compression: '^1.7.5', 'cookie-parser': '^1.4.7' };

/** Services with dependencies of their own (index → import line + use). */
const EXTRAS = {
  2: { pkg: 'ioredis', code: `import Redis from 'ioredis';\n\n// Constructed lazily: the benchmark starts the service without a Redis server.\nexport const cache = () => new Redis({ lazyConnect: true });\n` },
  5: { pkg: 'kafkajs', code: `import { Kafka, logLevel } from 'kafkajs';\n\nexport const kafka = new Kafka({ clientId: 'svc', brokers: ['kafka:9092'], logLevel: logLevel.NOTHING });\n` },
  8: { pkg: '@aws-sdk/client-s3', code: `import { S3Client } from '@aws-sdk/client-s3';\n\nexport const s3 = new S3Client({ region: 'eu-west-1' });\n` },
};

const json = (value) => JSON.stringify(value, null, 2) + '\n';

const LIBS = {
  // Nest module + health controller shared by every service.
  core: {
    'src/index.ts': `export * from './lib/core.module';\nexport * from './lib/health.controller';\nexport * from './lib/tokens';\n`,
    'src/lib/tokens.ts': `export const SERVICE_NAME = Symbol('SERVICE_NAME');\n`,
    'src/lib/health.controller.ts': `import { Controller, Get, Inject } from '@nestjs/common';\nimport { SERVICE_NAME } from './tokens';\n\n@Controller()\nexport class HealthController {\n  constructor(@Inject(SERVICE_NAME) private readonly service: string) {}\n\n  @Get('health')\n  health(): { ok: boolean; service: string } {\n    return { ok: true, service: this.service };\n  }\n}\n`,
    'src/lib/core.module.ts': `import { DynamicModule, Module } from '@nestjs/common';\nimport { ConfigModule } from '@nestjs/config';\nimport { HealthController } from './health.controller';\nimport { SERVICE_NAME } from './tokens';\n\n@Module({})\nexport class CoreModule {\n  static forService(name: string): DynamicModule {\n    return {\n      module: CoreModule,\n      imports: [ConfigModule.forRoot({ ignoreEnvFile: true })],\n      controllers: [HealthController],\n      providers: [{ provide: SERVICE_NAME, useValue: name }],\n      exports: [SERVICE_NAME],\n    };\n  }\n}\n`,
  },
  // TypeORM entity + data source factory (pg), never connected at start.
  db: {
    'src/index.ts': `export * from './lib/item.entity';\nexport * from './lib/data-source';\n`,
    'src/lib/item.entity.ts': `import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';\n\n@Entity({ name: 'items' })\nexport class ItemEntity {\n  @PrimaryGeneratedColumn('uuid')\n  id!: string;\n\n  @Column({ type: 'varchar', length: 200 })\n  name!: string;\n\n  @Column({ type: 'numeric', precision: 12, scale: 2 })\n  price!: string;\n\n  @CreateDateColumn({ type: 'timestamptz' })\n  createdAt!: Date;\n}\n`,
    'src/lib/data-source.ts': `import 'pg';\nimport { DataSource } from 'typeorm';\nimport { ItemEntity } from './item.entity';\n\nexport function dataSource(url = process.env.DATABASE_URL ?? 'postgres://app@db:5432/app'): DataSource {\n  return new DataSource({ type: 'postgres', url, entities: [ItemEntity], synchronize: false });\n}\n`,
  },
  // DTOs with class-validator / class-transformer.
  contracts: {
    'src/index.ts': `export * from './lib/item.dto';\n`,
    'src/lib/item.dto.ts': `import { Expose, Type } from 'class-transformer';\nimport { IsNumber, IsOptional, IsString, Length, Min } from 'class-validator';\n\nexport class CreateItemDto {\n  @Expose() @IsString() @Length(1, 200)\n  name!: string;\n\n  @Expose() @Type(() => Number) @IsNumber() @Min(0)\n  price!: number;\n\n  @Expose() @IsOptional() @IsString({ each: true })\n  tags?: string[];\n}\n`,
  },
  // gRPC client plumbing (@grpc/grpc-js + proto-loader), package definition built at start.
  grpc: {
    'src/index.ts': `export * from './lib/client';\n`,
    'src/lib/client.ts': `import { credentials, loadPackageDefinition } from '@grpc/grpc-js';\nimport { fromJSON } from '@grpc/proto-loader';\n\nconst descriptor = {\n  nested: {\n    items: {\n      nested: {\n        ItemRequest: { fields: { id: { type: 'string', id: 1 } } },\n        ItemReply: { fields: { id: { type: 'string', id: 1 }, name: { type: 'string', id: 2 } } },\n        Items: { methods: { Get: { requestType: 'ItemRequest', responseType: 'ItemReply' } } },\n      },\n    },\n  },\n};\n\nexport const grpcPackage = loadPackageDefinition(fromJSON(descriptor, { keepCase: true }));\nexport const insecure = () => credentials.createInsecure();\n`,
  },
};

function libFiles(name, files) {
  const root = `libs/${name}`;
  const out = {
    [`${root}/project.json`]: json({ name, $schema: '../../node_modules/nx/schemas/project-schema.json', sourceRoot: `${root}/src`, projectType: 'library', tags: [] }),
    [`${root}/tsconfig.json`]: json({ extends: '../../tsconfig.base.json', include: ['src/**/*.ts'] }),
  };
  for (const [rel, text] of Object.entries(files)) out[`${root}/${rel}`] = text;
  return out;
}

/** main.ts of one service; `marker` is the line P1 changes (same BUILD_MARKER contract as the quick profile). */
export function nestMain(name, marker = 0) {
  return `import 'reflect-metadata';\nimport { NestFactory } from '@nestjs/core';\nimport { AppModule } from './app/app.module';\n\n// The benchmark's one-line delta edits this constant.\nexport const BUILD_MARKER = ${marker};\n\nasync function bootstrap(): Promise<void> {\n  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });\n  app.enableShutdownHooks();\n  const port = Number(process.env.PORT ?? 3000);\n  await app.listen(port);\n  console.log(\`${name} listening on \${port} (marker \${BUILD_MARKER})\`);\n}\n\nbootstrap();\n`;
}

function serviceFiles(name, index) {
  const root = `apps/${name}`;
  const extra = EXTRAS[index];
  const files = {
    ...esbuildAppFiles(name, root),
    [`${root}/src/main.ts`]: nestMain(name),
    [`${root}/src/app/app.module.ts`]: `import { Module } from '@nestjs/common';\nimport { CoreModule } from '@bench/core';\nimport { ItemsController } from './items.controller';\nimport { ItemsService } from './items.service';\n\n@Module({\n  imports: [CoreModule.forService('${name}')],\n  controllers: [ItemsController],\n  providers: [ItemsService],\n})\nexport class AppModule {}\n`,
    [`${root}/src/app/items.service.ts`]: `import { Injectable } from '@nestjs/common';\nimport { plainToInstance } from 'class-transformer';\nimport { validateSync } from 'class-validator';\nimport { BehaviorSubject, map, Observable } from 'rxjs';\nimport { CreateItemDto } from '@bench/contracts';\nimport { dataSource, ItemEntity } from '@bench/db';\nimport { grpcPackage, insecure } from '@bench/grpc';\n${extra ? `import '../extra';\n` : ''}\n@Injectable()\nexport class ItemsService {\n  private readonly items$ = new BehaviorSubject<ItemEntity[]>([]);\n  private next = ${index * 1000};\n  readonly db = dataSource();\n  readonly grpc = { packages: Object.keys(grpcPackage), credentials: insecure() };\n\n  all(): Observable<ItemEntity[]> {\n    return this.items$.pipe(map((items) => [...items]));\n  }\n\n  add(body: unknown): ItemEntity | { errors: string[] } {\n    const dto = plainToInstance(CreateItemDto, body, { excludeExtraneousValues: true });\n    const errors = validateSync(dto);\n    if (errors.length) return { errors: errors.map((e) => e.property) };\n    const item = Object.assign(new ItemEntity(), { id: \`${name}-\${++this.next}\`, name: dto.name, price: String(dto.price), createdAt: new Date() });\n    this.items$.next([...this.items$.value, item]);\n    return item;\n  }\n}\n`,
    [`${root}/src/app/items.controller.ts`]: `import { Body, Controller, Get, Inject, Post } from '@nestjs/common';\nimport { ItemsService } from './items.service';\n\n@Controller('items')\nexport class ItemsController {\n  constructor(@Inject(ItemsService) private readonly items: ItemsService) {}\n\n  @Get()\n  list() {\n    return this.items.all();\n  }\n\n  @Post()\n  create(@Body() body: unknown) {\n    return this.items.add(body);\n  }\n}\n`,
  };
  if (extra) files[`${root}/src/extra.ts`] = `// ${name}'s own dependency (${extra.pkg}).\n${extra.code}`;
  return files;
}

/** Files of the realistic workspace (contenders add their package.json / nx.json / lockfile). */
export function realisticWorkspaceFiles({ services, serviceName }) {
  const files = {
    '.gitignore': 'node_modules\ndist\n**/dist\n.nx\n.nx-docker-delta\ntmp\n',
    'tsconfig.base.json': json({
      compilerOptions: {
        rootDir: '.',
        target: 'es2021',
        module: 'commonjs',
        moduleResolution: 'node',
        esModuleInterop: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
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

export const REALISTIC_DESCRIPTION =
  'NestJS services (@nestjs/core + platform-express + config + swagger, TypeORM + pg, class-validator/class-transformer, @grpc/grpc-js + proto-loader, rxjs) on 4 shared libs (core, db, contracts, grpc — every service imports all four); svc03 adds ioredis, svc06 kafkajs, svc09 the AWS S3 client; @nx/esbuild builds (bundled, node_modules external, generatePackageJson)';

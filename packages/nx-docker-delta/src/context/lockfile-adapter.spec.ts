import { linkWorkspaceModulesNpm, withoutWorkspaceModules } from './lockfile-adapter';

// Nx 20: @nx/js's createLockFile gets the manifest without workspace packages, then the plugin
// links them into the npm lockfile the way npm records `file:` folders.
const shared = { name: '@acme/shared', root: 'packages/shared', manifest: { name: '@acme/shared', version: '0.0.1', dependencies: { tslib: '^2.3.0' } } };
const manifest = { name: 'nx-docker-delta-service', version: '0.0.1', dependencies: { '@acme/shared': '*', nanoid: '^5.0.9' } };

describe('Nx 20 workspace packages in a pruned npm lockfile', () => {
  it('asks Nx for the npm dependencies only, including those the workspace packages bring', () => {
    expect(withoutWorkspaceModules(manifest, [shared]).dependencies).toEqual({ nanoid: '^5.0.9', tslib: '^2.3.0' });
  });

  it('links each workspace package and makes the root entry match the staged package.json', () => {
    const fromNx = JSON.stringify({
      name: 'nx-docker-delta-service',
      lockfileVersion: 3,
      packages: {
        '': { name: 'nx-docker-delta-service', version: '0.0.1', dependencies: { nanoid: '^5.0.9', tslib: '^2.3.0' } },
        'node_modules/tslib': { version: '2.9.1' },
        'node_modules/nanoid': { version: '5.1.6' },
      },
    });
    expect(JSON.parse(linkWorkspaceModulesNpm(fromNx, manifest, [shared]))).toEqual({
      name: 'nx-docker-delta-service',
      lockfileVersion: 3,
      packages: {
        '': { name: 'nx-docker-delta-service', version: '0.0.1', dependencies: { '@acme/shared': 'file:./workspace_modules/@acme/shared', nanoid: '^5.0.9' } },
        'node_modules/@acme/shared': { resolved: 'workspace_modules/@acme/shared', link: true },
        'node_modules/nanoid': { version: '5.1.6' },
        'node_modules/tslib': { version: '2.9.1' },
        'workspace_modules/@acme/shared': { name: '@acme/shared', version: '0.0.1', dependencies: { tslib: '^2.3.0' } },
      },
    });
    expect(linkWorkspaceModulesNpm(fromNx, manifest, [shared])).toBe(linkWorkspaceModulesNpm(fromNx, manifest, [shared]));
  });
});

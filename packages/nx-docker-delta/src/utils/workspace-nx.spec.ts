import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workspaceNxVersion } from './workspace-nx';

describe('workspaceNxVersion', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'nxdd-nx-version-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("reads the workspace's own node_modules/nx, and says nothing when nx is not installed there", () => {
    expect(workspaceNxVersion(root)).toBeUndefined();
    const other = join(root, 'ws');
    mkdirSync(join(other, 'node_modules', 'nx'), { recursive: true });
    writeFileSync(join(other, 'node_modules', 'nx', 'package.json'), JSON.stringify({ name: 'nx', version: '21.6.3' }));
    expect(workspaceNxVersion(other)).toBe('21.6.3');
  });
});

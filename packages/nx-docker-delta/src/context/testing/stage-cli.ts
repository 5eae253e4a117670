// Test helper: `node -r @swc-node/register stage-cli.ts '<json options>'` with cwd = a fixture workspace.
import { createProjectGraphAsync } from '@nx/devkit';
import { stagePrunedContext } from '../pruned-context';

(async () => {
  const o = JSON.parse(process.argv[2]);
  const projectGraph = await createProjectGraphAsync({ exitOnError: false });
  const node = projectGraph.nodes[o.projectName];
  try {
    const log: string[] = [];
    const r = await stagePrunedContext({ ...o, projectGraph, projectRoot: node?.data.root ?? '', log: (line: string) => log.push(line) });
    process.stdout.write('\n' + JSON.stringify({ ...r, log }) + '\n');
  } catch (e) {
    process.stdout.write('\n' + JSON.stringify({ dir: '', files: [], log: [], error: (e as Error).message }) + '\n');
  }
})();

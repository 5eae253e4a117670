#!/usr/bin/env node
// CLI for the test Nx remote cache server:
//   node tools/cache-server/server.mjs --port 0 --dir <dir> --token <t>
// First stdout line: "listening on http://127.0.0.1:<port>". Stops on SIGINT/SIGTERM.
// Point Nx at it with NX_SELF_HOSTED_REMOTE_CACHE_SERVER=<url> and
// NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN=<t>.
import { parseArgs } from 'node:util';
import { startCacheServer } from './index.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    dir: { type: 'string' },
    token: { type: 'string', default: '' },
  },
});
if (!values.dir) {
  console.error('usage: server.mjs --dir <folder for entries> [--port 0] [--token <bearer token>] [--host 127.0.0.1]');
  process.exit(2);
}
const server = await startCacheServer({ dir: values.dir, token: values.token, port: Number(values.port), host: values.host });
console.log(`listening on ${server.url}`);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => { await server.stop(); process.exit(0); });
}

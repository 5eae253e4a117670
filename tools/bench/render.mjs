#!/usr/bin/env node
// Re-renders a results markdown from its JSON (after a change to lib/report.mjs, or for an
// interrupted run): node tools/bench/render.mjs tools/bench/results/<date>-<profile>.json
import { readFileSync, writeFileSync } from 'node:fs';
import { renderMarkdown } from './lib/report.mjs';

const files = process.argv.slice(2);
if (!files.length) {
  process.stderr.write('Give the results JSON to render — e.g. node tools/bench/render.mjs tools/bench/results/2026-12-01-realistic.json\n');
  process.exit(1);
}
for (const file of files) {
  const md = file.replace(/\.json$/, '.md');
  writeFileSync(md, renderMarkdown(JSON.parse(readFileSync(file, 'utf8'))) + '\n');
  process.stdout.write(`wrote ${md}\n`);
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// schema.json is the source of truth; schema.d.ts must declare the same options with the same requiredness.
describe.each(['init', 'dockerfile', 'migrate-deps-image', 'ci', 'pin-bases'])('%s schema.json ↔ schema.d.ts', (name) => {
  const dir = join(__dirname, name);
  const json = JSON.parse(readFileSync(join(dir, 'schema.json'), 'utf8'));
  const dts = readFileSync(join(dir, 'schema.d.ts'), 'utf8');
  const declared = new Map([...dts.matchAll(/^\s+(\w+)(\?)?:/gm)].map((m) => [m[1], m[2] !== '?']));

  it('declares exactly the schema properties', () => {
    expect([...declared.keys()].sort()).toEqual(Object.keys(json.properties).sort());
  });

  it('marks exactly the required ones as required', () => {
    const required = [...declared].filter(([, req]) => req).map(([k]) => k).sort();
    expect(required).toEqual([...(json.required ?? [])].sort());
  });

  it('forbids unknown options and describes every option', () => {
    expect(json.additionalProperties).toBe(false);
    for (const [k, v] of Object.entries(json.properties)) expect([k, typeof (v as { description?: string }).description]).toEqual([k, 'string']);
  });
});

it('generators.json points at the generator folders', () => {
  const g = JSON.parse(readFileSync(join(__dirname, '../../generators.json'), 'utf8')).generators;
  expect(Object.keys(g).sort()).toEqual(['ci', 'dockerfile', 'init', 'migrate-deps-image', 'pin-bases']);
  for (const [name, e] of Object.entries(g) as [string, { factory: string; schema: string }][]) {
    expect(e.factory).toBe(`./dist/generators/${name}/${name}`);
    expect(e.schema).toBe(`./dist/generators/${name}/schema.json`);
  }
});

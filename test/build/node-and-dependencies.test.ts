/**
 * One Node line everywhere (Node 24 LTS: engines, .nvmrc, the Dockerfile, the Node running this
 * test), and one OpenTelemetry line: @temporalio/interceptors-opentelemetry is built on
 * OpenTelemetry 1.x, so our OpenTelemetry packages must be on the same majors, or the workflow
 * spans it makes and the SDK we export them with would be two different OpenTelemetry copies.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(__dirname, '../..');

interface Manifest {
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  version: string;
}
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Manifest;
const project = readJson(join(ROOT, 'package.json'));
const installed = (name: string) =>
  readJson(join(ROOT, 'node_modules', name, 'package.json')).version;
const major = (version: string) => Number(/(\d+)/.exec(version)?.[1]);

void test('Node 24 in engines, .nvmrc, the Dockerfile and the running process', () => {
  assert.equal(project.engines?.node, '>=24 <25');
  assert.equal(readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim(), '24');
  assert.match(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), /^ARG NODE_VERSION=24$/m);
  assert.equal(major(process.versions.node), 24, `running on Node ${process.versions.node}`);
  assert.equal(major(project.devDependencies?.['@types/node'] ?? ''), 24);
});

void test("OpenTelemetry packages are on the majors of the Temporal interceptor's", () => {
  const interceptor = readJson(
    join(ROOT, 'node_modules/@temporalio/interceptors-opentelemetry/package.json'),
  );
  const wanted = interceptor.dependencies ?? {};
  assert.ok(Object.keys(wanted).some((name) => name.startsWith('@opentelemetry/')));
  for (const [name, range] of Object.entries(wanted)) {
    if (!name.startsWith('@opentelemetry/')) continue;
    assert.equal(
      major(installed(name)),
      major(range),
      `${name} ${installed(name)} is not on the interceptor's ${range}`,
    );
  }
  // Our own stable OpenTelemetry packages (the 0.x ones are versioned alongside 1.x).
  for (const [name, version] of Object.entries(project.dependencies ?? {})) {
    if (!name.startsWith('@opentelemetry/') || major(version) === 0) continue;
    const theirs = wanted[name];
    if (theirs) assert.equal(major(version), major(theirs), name);
  }
});

/**
 * The CD pipeline (.github/workflows/cd.yml) cannot run here, so it is linted by actionlint
 * (provisioned into .tools/bin: workflow syntax, expressions, job needs and outputs, action
 * inputs) and checked for what it must do: the README's test command, the production image built
 * and pushed, the deploy webhook called from secrets only, and caches for the Go and npm builds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '../..');
const PIPELINE = join(ROOT, '.github/workflows/cd.yml');
const ACTIONLINT = join(ROOT, '.tools/bin/actionlint');

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, string | boolean>;
  env?: Record<string, string>;
}
interface Job {
  needs?: string | string[];
  steps: Step[];
  environment?: string;
}

const text = readFileSync(PIPELINE, 'utf8');
const pipeline = parse(text) as { on: Record<string, unknown>; jobs: Record<string, Job> };
const steps = Object.values(pipeline.jobs).flatMap((job) => job.steps);

function actionlint(file: string): { status: number | null; output: string } {
  assert.ok(
    existsSync(ACTIONLINT),
    `actionlint is missing at ${ACTIONLINT}: run npm run provision -- --actionlint (npm test does it)`,
  );
  const result = spawnSync(ACTIONLINT, ['-no-color', file], { cwd: ROOT, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

void test('actionlint passes the pipeline, and fails a broken copy of it', () => {
  const clean = actionlint(PIPELINE);
  assert.equal(clean.status, 0, clean.output);
  // A job that needs one that does not exist: actionlint must say so, or it checks nothing.
  const dir = mkdtempSync(join(tmpdir(), 'cd-'));
  const broken = join(dir, 'cd.yml');
  writeFileSync(broken, text.replace('needs: image', 'needs: imagee'));
  const result = actionlint(broken);
  assert.notEqual(result.status, 0);
  assert.match(result.output, /imagee/);
});

void test('runs on pushes to main: npm test, then the image, then the deploy', () => {
  assert.deepEqual((pipeline.on.push as { branches: string[] }).branches, ['main']);
  assert.ok(
    pipeline.jobs.test?.steps.some((s) => s.run?.trim() === 'npm test'),
    'the test job runs the README test command',
  );
  assert.equal(pipeline.jobs.image?.needs, 'test');
  assert.equal(pipeline.jobs.deploy?.needs, 'image');
  const setupNode = steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
  assert.equal(setupNode?.with?.['node-version-file'], '.nvmrc');
  assert.equal(readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim(), '24');
});

void test('builds and pushes the production target of the Dockerfile', () => {
  const build = steps.find((s) => s.uses?.startsWith('docker/build-push-action@'));
  assert.ok(build, 'no docker/build-push-action step');
  assert.equal(build.with?.target, 'production');
  assert.equal(build.with?.push, true);
  assert.match(String(build.with?.tags), /\$\{\{ github\.sha \}\}/, 'tagged with the commit');
});

void test('the deploy webhook comes from secrets, never from the file', () => {
  const deploy = pipeline.jobs.deploy?.steps.find((s) => s.run?.includes('DEPLOY_WEBHOOK_URL'));
  assert.ok(deploy, 'no step calls the deploy webhook');
  assert.equal(deploy.env?.DEPLOY_WEBHOOK_URL, '${{ secrets.DEPLOY_WEBHOOK_URL }}');
  assert.equal(deploy.env?.DEPLOY_WEBHOOK_TOKEN, '${{ secrets.DEPLOY_WEBHOOK_TOKEN }}');
  assert.equal(pipeline.jobs.deploy?.environment, 'production');
  // No address other than the registry's and no credential-looking literal in the file.
  for (const url of text.match(/https?:\/\/[^\s"']+/g) ?? []) {
    assert.fail(`the pipeline names an address: ${url}`);
  }
  assert.doesNotMatch(text, /(token|password|secret)\s*[:=]\s*['"]?[A-Za-z0-9_-]{12,}/i);
});

void test('caches the Go and npm builds', () => {
  const setupNode = steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
  assert.equal(setupNode?.with?.cache, 'npm');
  const cached = steps
    .filter((s) => s.uses?.startsWith('actions/cache@'))
    .map((s) => String(s.with?.path));
  assert.ok(
    cached.some((path) => path.includes('go/pkg/mod') && path.includes('go-build')),
    'no cache of the Go module and build caches',
  );
  assert.ok(
    cached.some((path) => path.trim() === '.tools'),
    'no cache of the provisioned tools',
  );
});

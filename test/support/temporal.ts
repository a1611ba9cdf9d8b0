import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  type WorkflowBundle,
} from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { FAILURE_CONVERTER_PATH } from '../../clients/codec';
import { searchAttributeDefinitions } from '../../clients/temporal';
import { orderStatusKey } from '../../domain/temporal';
import { testDataConverter } from './codec';

const ROOT = resolve(__dirname, '../..');
export const TEMPORAL_CLI = join(ROOT, '.tools/bin/temporal');
export const TEST_SERVER = join(ROOT, '.tools/bin/temporal-test-server');

function provisioned(path: string): string {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`npm run provision\` (npm test does it for you)`);
  }
  return path;
}

let runtimeInstalled = false;
/**
 * Only the SDK's errors: the tests fail activities on purpose, and each failed attempt is a warning.
 */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

/** Which keys the environment's client encrypts with: the test process's own by default. */
export interface EnvOptions {
  dataConverter?: DataConverter;
}

/** Temporal's Java test server: timers and retry backoffs are skipped while a result is awaited. */
export async function createTimeSkippingEnv(
  options: EnvOptions = {},
): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: provisioned(TEST_SERVER) } },
    client: { dataConverter: options.dataConverter ?? testDataConverter() },
  });
  // The test server starts with no custom search attributes (and cannot list them): register them.
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: searchAttributeDefinitions(),
  });
  return env;
}

/** The real dev server (the CLI's `server start-dev`), in memory, with visibility. */
export async function createDevServerEnv(
  options: EnvOptions = {},
): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    client: { dataConverter: options.dataConverter ?? testDataConverter() },
    server: {
      executable: { type: 'existing-path', path: provisioned(TEMPORAL_CLI) },
      ip: '127.0.0.1',
      searchAttributes: [orderStatusKey],
      extraArgs: ['--log-level', 'error'],
    },
  });
}

/**
 * One dev server for the enclosing `describe`: started before its tests, torn down after them.
 * Call the returned function inside hooks and tests, once the server is up.
 */
export function devServerForSuite(): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  before(async () => {
    env = await createDevServerEnv();
  });
  after(async () => {
    await env?.teardown();
  });
  return () => {
    if (!env) throw new Error('the dev server is not up yet: use it inside a hook or a test');
    return env;
  };
}

let bundle: Promise<WorkflowBundle> | null = null;
/** Bundling takes seconds: do it once per test process. */
export function orderWorkflowBundle(): Promise<WorkflowBundle> {
  quietRuntime();
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

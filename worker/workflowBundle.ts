/**
 * The prebuilt workflow bundles of the production build. `npm run build` writes them next to the
 * compiled worker (dist/worker/), so a built worker loads one instead of running webpack over
 * workflows/ at every start; run from source, no bundle sits next to this file and the worker
 * bundles at start as before. Two bundles, because interceptor modules cannot be added to a
 * prebuilt bundle: the traced one carries the OpenTelemetry workflow interceptors, which only
 * pay off when spans are exported (observability/tracing.ts).
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundleOption } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../clients/codec';

const BUNDLE_FILES = { plain: 'workflow-bundle.js', traced: 'workflow-bundle-traced.js' };

/** The OpenTelemetry plugin's workflow interceptors, as its `workflowModules` names them. */
const TRACING_WORKFLOW_MODULE =
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** Where the bundle for `traced` lives in `dir` (by default, next to this module). */
export function workflowBundlePath(traced: boolean, dir: string = __dirname): string {
  return join(dir, traced ? BUNDLE_FILES.traced : BUNDLE_FILES.plain);
}

/** The prebuilt bundle to load, or undefined when there is none (run from source). */
export function prebuiltWorkflowBundle(
  traced: boolean,
  dir: string = __dirname,
): WorkflowBundleOption | undefined {
  const codePath = workflowBundlePath(traced, dir);
  return existsSync(codePath) ? { codePath } : undefined;
}

/** Bundles workflows/ twice (plain and traced) into `dir`; returns the files written. */
export async function writeWorkflowBundles(dir: string): Promise<string[]> {
  const workflowsPath = require.resolve('../workflows');
  const logger = new DefaultLogger('WARN');
  const written: string[] = [];
  for (const traced of [false, true]) {
    const { code } = await bundleWorkflowCode({
      workflowsPath,
      workflowInterceptorModules: traced ? [TRACING_WORKFLOW_MODULE] : [],
      // The workflows' failures are encrypted like the workers' (a bundle fixes its converter).
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger,
    });
    const path = workflowBundlePath(traced, dir);
    await writeFile(path, code);
    written.push(path);
  }
  return written;
}

/**
 * `npm run build`: the production build in dist/. TypeScript compiled by tsc
 * (tsconfig.build.json: the services' folders, no scripts or tests), the dashboard's static files
 * copied beside the compiled API, and the workflow bundles prebuilt (worker/workflowBundle.ts),
 * so `node dist/<service>/main.js` needs neither tsx nor a bundling step at start-up.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { writeWorkflowBundles } from '../worker/workflowBundle';

const ROOT = resolve(__dirname, '..');
const DIST = join(ROOT, 'dist');

async function main(): Promise<void> {
  const started = Date.now();
  rmSync(DIST, { recursive: true, force: true });
  const tsc = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')],
    { cwd: ROOT, stdio: 'inherit' },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed (exit ${tsc.status ?? tsc.signal})`);
  // api/dashboard serves these from `<compiled api>/public`; tsconfig.json is for type checks.
  cpSync(join(ROOT, 'api/public'), join(DIST, 'api/public'), {
    recursive: true,
    filter: (source) => !source.endsWith('tsconfig.json'),
  });
  const bundles = await writeWorkflowBundles(join(DIST, 'worker'));
  const names = bundles.map((file) => relative(ROOT, file)).join(', ');
  console.log(`[build] dist/ with ${names} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(`[build] ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

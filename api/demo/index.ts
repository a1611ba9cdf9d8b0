/**
 * Demo tools, kept apart from the service: the dashboard's scenarios, the load generator and the
 * calls to the finance simulator's control endpoints. They place orders, make the finance
 * package fail and load the system on purpose, which is what a demonstration needs and what no
 * production deployment should offer; so they exist only when `DEMO_SCENARIOS=on` (`npm start`
 * sets it; the config's default, compose and the production image leave it off).
 */
import type { Router } from 'express';
import type { ApiDeps } from '../deps';
import { financeControl, type FinanceControl } from './finance';
import { LoadGenerator } from './load';
import { scenariosRouter } from './scenarios';

/** The demo tools of one API process: their routes, the simulator's controls and the load. */
export interface DemoTools {
  router: Router;
  finance: FinanceControl;
  load: LoadGenerator;
}

/** The demo tools when `DEMO_SCENARIOS` is on, otherwise null (and none of their routes). */
export function demoTools(deps: ApiDeps): DemoTools | null {
  if (deps.config.DEMO_SCENARIOS !== 'on') return null;
  const finance = financeControl(deps.config.FINANCE_URL);
  const load = new LoadGenerator();
  return { router: scenariosRouter({ deps, finance, load }), finance, load };
}

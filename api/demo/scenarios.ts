/**
 * The dashboard's demo scenarios as operator endpoints: `POST /api/scenarios/:name`. Each one is
 * reversible ("reset" undoes the finance mode and the load) and safe to trigger twice: modes are
 * set, not toggled, and a second load replaces the first instead of adding to it.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { actorOf, guardOf } from '../auth';
import { jsonBody } from '../body';
import type { ApiDeps } from '../deps';
import { ApiError, methodNotAllowed, parseOr400, unavailable } from '../errors';
import { isNoSimulator, type FinanceControl } from './finance';
import type { LoadGenerator, LoadPlan } from './load';
import { demoOrder, ownUrl, postOrder } from './self';
import { loadRequest, SCENARIOS } from '../schemas';

export { SCENARIOS };
export type Scenario = (typeof SCENARIOS)[number];

export const LOAD_PATH = '/api/load';
/** Dated in the future: the finance package refuses it for good, so the order fails (in red). */
export const BROKEN_ORDER_DATE = '3000-01-01T00:00:00Z';

export interface ScenarioDeps {
  deps: ApiDeps;
  finance: FinanceControl;
  load: LoadGenerator;
}

type LoadAsked = z.output<ReturnType<typeof loadRequest>>;

function loadPlan(deps: ApiDeps, scenario: Scenario, asked: LoadAsked): LoadPlan {
  const { config } = deps;
  // LOAD_RATE_PER_SECOND may exceed the ceiling; the ceiling wins, as the ramp's does below.
  const ratePerSecond = Math.min(
    asked.ratePerSecond ?? config.LOAD_RATE_PER_SECOND,
    config.LOAD_MAX_RATE_PER_SECOND,
  );
  const durationMs = asked.durationSeconds ? asked.durationSeconds * 1000 : config.LOAD_DURATION;
  const ramp = scenario === 'system-monitoring';
  return {
    scenario,
    // The ramp starts where "Monitoring load" left off and climbs from there.
    ratePerSecond: Math.min(
      config.LOAD_MAX_RATE_PER_SECOND,
      ramp ? 2 * ratePerSecond : ratePerSecond,
    ),
    stepPerSecond: ramp ? ratePerSecond : 0,
    stepEveryMs: ramp ? config.LOAD_RAMP_EVERY : 0,
    maxRatePerSecond: config.LOAD_MAX_RATE_PER_SECOND,
    durationMs,
  };
}

/** `POST /api/scenarios/:name` and `GET`/`DELETE /api/load`. */
export function scenariosRouter({ deps, finance, load }: ScenarioDeps): Router {
  const router = Router();
  const guard = guardOf(deps);
  const token = deps.auth?.internalClientToken ?? '';

  async function run(req: Request<{ name: string }>, res: Response): Promise<void> {
    const scenario = req.params.name as Scenario;
    if (!SCENARIOS.includes(scenario)) {
      throw new ApiError(
        404,
        'scenario_not_found',
        `No scenario "${req.params.name.slice(0, 50)}"`,
        [{ path: 'name', message: `must be one of ${SCENARIOS.join(', ')}` }],
      );
    }
    // Read for every scenario, so one body rule holds for the route whichever name it names.
    const asked = parseOr400(loadRequest(deps.config.LOAD_MAX_RATE_PER_SECOND), req.body ?? {});
    const answer = await apply(scenario, req, asked);
    deps.log.info('scenario triggered', { scenario, by: actorOf(req).label });
    res.json({ scenario, ...answer });
  }

  async function apply(
    scenario: Scenario,
    req: Request,
    asked: LoadAsked,
  ): Promise<Record<string, unknown>> {
    switch (scenario) {
      case 'broken-order': {
        const order = await postOrder(
          ownUrl(req),
          token,
          demoOrder({ datePlaced: BROKEN_ORDER_DATE }),
        ).catch((error: unknown) => {
          // The API's own intake refused it (its rate limit, a database outage): a 503 that
          // says so, not a 500.
          const said = error instanceof Error ? error.message : String(error);
          throw unavailable('order_refused', `The API refused the scenario's order (${said})`);
        });
        return { message: 'Placed an order dated in the year 3000: it will fail', order };
      }
      case 'queue-reliability':
        return {
          message: 'The finance package now fails at random; payments are retried',
          finance: await finance.setMode('flaky'),
        };
      case 'monitoring-load':
      case 'system-monitoring': {
        const plan = loadPlan(deps, scenario, asked);
        const api = ownUrl(req);
        const place = async () => void (await postOrder(api, token, demoOrder()));
        return { message: 'Load generator started', load: load.start(plan, place) };
      }
      case 'reset': {
        const stopped = load.stop();
        try {
          await finance.clearFaults();
          return {
            message: 'Finance back to normal, load stopped',
            finance: await finance.setMode('normal'),
            load: stopped,
          };
        } catch (error) {
          // A real finance package has no mode to reset; stopping the load is all there is.
          if (!isNoSimulator(error)) throw error;
          return { message: 'Load stopped (no simulator to reset)', finance: null, load: stopped };
        }
      }
    }
  }

  router
    .route('/api/scenarios/:name')
    .post(guard('POST', '/api/scenarios/:name'), jsonBody({ required: false }), run)
    .all(methodNotAllowed('POST'));
  router
    .route(LOAD_PATH)
    .get(guard('GET', LOAD_PATH), (_req, res) => {
      res.json(load.status());
    })
    .delete(guard('DELETE', LOAD_PATH), (_req, res) => {
      res.json(load.stop());
    })
    .all(methodNotAllowed('GET', 'HEAD', 'DELETE'));
  return router;
}

/**
 * `/api/bulk-actions`: one operator action (retry or cancel) over every order a filter matches.
 * POST without `confirm` previews (count and sample); with `confirm: true` it writes the batch
 * and its items and starts the batch's workflow. Progress, outcomes, pause, resume and cancel.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/common';
import {
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { Router, type Request, type Response } from 'express';
import {
  BULK_ITEMS_PER_RUN,
  BULK_PAGE_SIZE,
  controlBulkWorkflow,
  queryBulkProgress,
  startBulkWorkflow,
  type BulkControl,
} from '../clients/bulk';
import type { BulkActionRecord } from '../db/bulk';
import { isFinishedBulkState, type BulkState } from '../domain/bulk';
import { workflowIdForBulkAction } from '../domain/temporal';
import { actorOf, guardOf, routeActions } from './auth';
import { jsonBody } from './body';
import { temporalTimeout, type ApiDeps } from './deps';
import {
  ApiError,
  isTemporalUnavailable,
  methodNotAllowed,
  parseOr400,
  temporalUnavailable,
  unavailable,
  validationError,
} from './errors';
import { orderFilterOf } from './filters';
import { presentOrder } from './present';
import {
  BULK_SAMPLE_SIZE,
  bulkActionRequest,
  bulkItemsQuery,
  bulkListQuery,
  encodeCursor,
  retryOrderRequest,
  type BulkActionResponse,
} from './schemas';

export const BULK_ACTIONS_PATH = '/api/bulk-actions';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function present(
  batch: BulkActionRecord,
  counts: BulkActionResponse['counts'],
  state: BulkState,
): BulkActionResponse {
  const done = counts.applied + counts.refused + counts.failed;
  const left = Math.max(0, batch.matched - done);
  return {
    id: batch.id,
    workflowId: workflowIdForBulkAction(batch.id),
    action: batch.action,
    filter: { ...batch.filter },
    reason: batch.reason,
    startedBy: batch.startedBy,
    state,
    matched: batch.matched,
    done,
    counts,
    ratePerSecond: batch.ratePerSecond,
    etaSeconds: state === 'running' ? Math.ceil(left / batch.ratePerSecond) : null,
    createdAt: batch.createdAt,
    finishedAt: batch.finishedAt,
  };
}

export function bulkRouter(deps: ApiDeps): Router {
  const { db, temporal, config, log } = deps;
  const router = Router();
  const guard = guardOf(deps);
  const timeoutMs = () => temporalTimeout(deps);

  async function findBatch(id: string): Promise<BulkActionRecord> {
    // Batch ids are UUIDs: anything else names no batch, and never reaches the database.
    const batch = UUID.test(id) ? await db.bulk.get(id) : null;
    if (!batch) {
      throw new ApiError(
        404,
        'bulk_action_not_found',
        `No bulk action with id "${id.slice(0, 100)}"`,
      );
    }
    return batch;
  }

  /** SQL's counts; the state from the workflow itself while it runs, else SQL's record. */
  async function progressOf(batch: BulkActionRecord): Promise<BulkActionResponse> {
    const counts = await db.bulk.counts(batch.id);
    let state = batch.state;
    if (!isFinishedBulkState(state)) {
      const live = await queryBulkProgress(temporal, batch.id, { timeoutMs: timeoutMs() }).catch(
        () => null,
      );
      if (live) state = live.state;
    }
    return present(batch, counts, state);
  }

  async function create(req: Request, res: Response): Promise<void> {
    const body = parseOr400(bulkActionRequest, req.body);
    const filter = orderFilterOf(body.filter);
    if (Object.keys(filter).length === 0) {
      throw validationError([
        { path: 'filter', message: 'must narrow the orders by at least one field' },
      ]);
    }
    if (!body.confirm) {
      const [matched, sample] = await Promise.all([
        db.orders.count(filter),
        db.orders.list({ ...filter, limit: BULK_SAMPLE_SIZE }),
      ]);
      res.json({
        action: body.action,
        matched,
        sample: sample.map(presentOrder),
        message: `${matched} orders match; send the same request with "confirm": true to ${body.action} them`,
      });
      return;
    }
    const startedBy = actorOf(req).label;
    const ratePerSecond = body.ratePerSecond ?? config.BULK_RATE_PER_SECOND;
    const batch = await db.bulk.create({
      id: randomUUID(),
      action: body.action,
      filter,
      reason: body.reason ?? null,
      startedBy,
      ratePerSecond,
    });
    try {
      await startBulkWorkflow(
        temporal,
        { orderTaskQueue: config.TEMPORAL_TASK_QUEUE, timeoutMs: timeoutMs() },
        {
          batchId: batch.id,
          action: batch.action,
          // A retry takes no reason: the batch keeps it as the operator's note.
          ...(batch.reason && batch.action === 'cancel' ? { reason: batch.reason } : {}),
          ratePerSecond,
          pageSize: BULK_PAGE_SIZE,
          itemsPerRun: BULK_ITEMS_PER_RUN,
        },
      );
    } catch (error) {
      // Nothing was touched: the batch is closed as never started, and the operator asks again.
      await db.bulk.setState(batch.id, 'not_started');
      log.warn('bulk action not started', {
        batchId: batch.id,
        reason: error instanceof Error ? error.message : String(error),
      });
      throw isTemporalUnavailable(error) ? temporalUnavailable() : error;
    }
    log.info('bulk action started', {
      batchId: batch.id,
      action: batch.action,
      filter,
      matched: batch.matched,
      startedBy,
      ratePerSecond,
    });
    res
      .status(201)
      .location(`${BULK_ACTIONS_PATH}/${batch.id}`)
      .json(present(batch, { applied: 0, refused: 0, failed: 0 }, 'running'));
  }

  async function list(req: Request, res: Response): Promise<void> {
    const query = parseOr400(bulkListQuery, req.query);
    const rows = await db.bulk.list({
      limit: query.limit + 1,
      ...(query.cursor ? { after: query.cursor } : {}),
    });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const bulkActions = await Promise.all(
      page.map(async (batch) => present(batch, await db.bulk.counts(batch.id), batch.state)),
    );
    res.json({
      bulkActions,
      nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null,
    });
  }

  async function detail(req: Request<{ id: string }>, res: Response): Promise<void> {
    res.json(await progressOf(await findBatch(req.params.id)));
  }

  async function items(req: Request<{ id: string }>, res: Response): Promise<void> {
    const query = parseOr400(bulkItemsQuery, req.query);
    const batch = await findBatch(req.params.id);
    const rows = await db.bulk.items(batch.id, {
      limit: query.limit + 1,
      ...(query.outcome ? { outcome: query.outcome } : {}),
      ...(query.after !== undefined ? { afterSeq: query.after } : {}),
    });
    const page = rows.slice(0, query.limit);
    res.json({
      items: page,
      nextAfter: rows.length > query.limit ? (page.at(-1)?.seq ?? null) : null,
    });
  }

  function control(which: BulkControl) {
    return async (req: Request<{ id: string }>, res: Response): Promise<void> => {
      parseOr400(retryOrderRequest, req.body ?? {});
      const batch = await findBatch(req.params.id);
      if (isFinishedBulkState(batch.state)) {
        throw new ApiError(409, 'bulk_action_finished', `The bulk action is ${batch.state}`);
      }
      try {
        await controlBulkWorkflow(temporal, batch.id, which, { timeoutMs: timeoutMs() });
      } catch (error) {
        if (error instanceof WorkflowUpdateFailedError) {
          const why = error.cause instanceof Error ? error.cause.message : 'The batch refused';
          throw new ApiError(409, 'bulk_action_refused', why);
        }
        if (error instanceof WorkflowNotFoundError) {
          throw new ApiError(409, 'bulk_action_finished', 'The bulk action has finished');
        }
        if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
          throw unavailable(
            'workflow_unresponsive',
            `The bulk action's workflow did not answer within ${timeoutMs()} ms (no worker?)`,
          );
        }
        throw error;
      }
      log.info('bulk action control', {
        batchId: batch.id,
        control: which,
        by: actorOf(req).label,
      });
      res.status(202).json(await progressOf(batch));
    };
  }

  router
    .route(BULK_ACTIONS_PATH)
    .get(guard('GET', BULK_ACTIONS_PATH), list)
    .post(guard('POST', BULK_ACTIONS_PATH), jsonBody({ required: true }), create)
    .all(methodNotAllowed('GET', 'HEAD', 'POST'));
  router
    .route(`${BULK_ACTIONS_PATH}/:id`)
    .get(guard('GET', `${BULK_ACTIONS_PATH}/:id`), detail)
    .all(methodNotAllowed('GET', 'HEAD'));
  router
    .route(`${BULK_ACTIONS_PATH}/:id/items`)
    .get(guard('GET', `${BULK_ACTIONS_PATH}/:id/items`), items)
    .all(methodNotAllowed('GET', 'HEAD'));
  routeActions(router, guard, BULK_ACTIONS_PATH, ['pause', 'resume', 'cancel'] as const, control);
  return router;
}

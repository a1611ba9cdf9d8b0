/**
 * `/api/orders`: place, list and inspect orders; operators cancel and retry them. A client (an API
 * key) sees only the orders it placed: another client's order is answered 404, as if it did not
 * exist. `customerId` is the client's own reference for its customer, stored as sent.
 */
import { createHash, randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/common';
import { Router, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { UniqueConstraintError } from 'sequelize';
import {
  applyOrderAction,
  OrderActionFailure,
  type OrderActionDeps,
} from '../clients/order-actions';
import { describeOrderWorkflow, orderWorkflowSettings } from '../clients/temporal';
import type { StoredOrder } from '../db/orders';
import type { OrderAction, OrderActionAccepted } from '../domain/order';
import { temporalUiWorkflowUrl, workflowIdForOrder } from '../domain/temporal';
import { actorOf, guardOf, routeActions, type Actor } from './auth';
import { jsonBody } from './body';
import { temporalTimeout, type ApiDeps } from './deps';
import {
  ApiError,
  isTemporalUnavailable,
  issueDetails,
  methodNotAllowed,
  parseOr400,
  temporalUnavailable,
  unavailable,
  validationError,
} from './errors';
import { exportOrdersCsv } from './export';
import { orderFilterOf } from './filters';
import { formatCents } from './money';
import { presentOrder, presentWorkflow } from './present';
import {
  cancelOrderRequest,
  createOrderRequest,
  encodeCursor,
  exportOrdersQuery,
  idempotencyKeyHeader,
  listOrdersQuery,
  retryOrderRequest,
  type ActionAcceptedResponse,
  type CreateOrderInput,
  type OrderDetailResponse,
} from './schemas';

export const ORDERS_PATH = '/api/orders';
/** The filtered listing as CSV, streamed. */
export const ORDERS_EXPORT_PATH = `${ORDERS_PATH}/export.csv`;
const orderLocation = (id: string) => `${ORDERS_PATH}/${encodeURIComponent(id)}`;

/** Ids are UUIDs (64 characters at most in SQL): a longer one cannot name an order. */
const MAX_ID_LENGTH = 64;

/**
 * SHA-256 of the request as the API understood it, so `12.5` and `"12.50"`, or the same instant
 * written with two offsets, are the same request. An absent `datePlaced` stays absent (it
 * defaults to "now", which differs between a request and its replay).
 */
function requestHash(input: CreateOrderInput): string {
  const canonical = [
    input.customerId,
    input.product,
    input.quantity,
    input.unitPrice,
    input.currency,
    input.datePlaced ?? null,
  ];
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

function idempotencyKeyOf(req: Request): string | undefined {
  const parsed = idempotencyKeyHeader.safeParse(req.get('idempotency-key'));
  if (!parsed.success) throw validationError(issueDetails(parsed.error.issues, 'Idempotency-Key'));
  return parsed.data;
}

/** The optional body of cancel (`{ reason? }`) or retry (`{}`); absent means empty. */
function actionReason(action: 'cancel' | 'retry', body: unknown): string | undefined {
  if (action === 'retry') {
    parseOr400(retryOrderRequest, body ?? {});
    return undefined;
  }
  return parseOr400(cancelOrderRequest, body ?? {}).reason;
}

/** The HTTP answer of an action that was not applied. */
export function actionFailureAnswer(failure: OrderActionFailure): ApiError {
  switch (failure.kind) {
    case 'refused':
      return new ApiError(
        409,
        failure.action === 'cancel' ? 'not_cancellable' : 'not_retryable',
        failure.message,
      );
    case 'not_started':
      return new ApiError(404, 'workflow_not_found', failure.message);
    case 'temporal_unavailable':
      return temporalUnavailable();
    case 'workflow_unresponsive':
      return unavailable('workflow_unresponsive', failure.message);
  }
}

/** The shared action path wired from the API's dependencies. */
export function orderActionDeps(deps: ApiDeps): OrderActionDeps {
  return {
    temporal: deps.temporal,
    orders: deps.db.orders,
    taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
    settings: orderWorkflowSettings(deps.config),
    timeoutMs: temporalTimeout(deps),
  };
}

/** Per client address, in memory: one API process; several would each allow the limit. */
function orderRateLimit(perMinute: number) {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, _res, next) => {
      next(
        new ApiError(
          429,
          'rate_limited',
          `More than ${perMinute} orders per minute from this client; retry after the Retry-After seconds`,
        ),
      );
    },
  });
}

export function ordersRouter(deps: ApiDeps): Router {
  const { db, temporal, config, log } = deps;
  const now = deps.clock ?? (() => new Date());
  const router = Router();
  const guard = guardOf(deps);

  /** What a caller may read: a client only the orders it placed, staff every order. */
  const ownOrders = (actor: Actor): string | undefined =>
    actor.role === 'client' ? actor.placedBy : undefined;

  async function findOrder(id: string, actor: Actor): Promise<StoredOrder> {
    const own = ownOrders(actor);
    const found = id.length <= MAX_ID_LENGTH ? await db.orders.get(id) : null;
    const order = found && (own === undefined || found.placedBy === own) ? found : null;
    if (!order)
      throw new ApiError(404, 'order_not_found', `No order with id "${id.slice(0, 100)}"`);
    return order;
  }

  /** The first order sent with this key, if the request is the same; 409 if it is not. */
  async function replay(key: string, hash: string, actor: Actor): Promise<StoredOrder | null> {
    const existing = await db.orders.findByIdempotencyKey(key);
    if (!existing) return null;
    if (existing.order.placedBy !== actor.placedBy) {
      // Keys are one namespace in SQL: someone else's order is never replayed, nor named.
      throw new ApiError(
        409,
        'idempotency_key_reused',
        'This Idempotency-Key was already used; send a new random key',
      );
    }
    if (existing.requestHash !== hash) {
      throw new ApiError(
        409,
        'idempotency_key_reused',
        'This Idempotency-Key was already used for a different order',
        [{ path: 'Idempotency-Key', message: `already used by order ${existing.order.id}` }],
      );
    }
    return existing.order;
  }

  async function createOrder(req: Request, res: Response): Promise<void> {
    const actor = actorOf(req);
    const input = parseOr400(createOrderRequest, req.body);
    const key = idempotencyKeyOf(req);
    const hash = requestHash(input);
    const earlier = key ? await replay(key, hash, actor) : null;
    if (earlier) {
      res.status(200).location(orderLocation(earlier.id)).json(presentOrder(earlier));
      return;
    }
    let order: StoredOrder;
    try {
      order = await db.orders.create({
        id: randomUUID(),
        customerId: input.customerId,
        product: input.product,
        quantity: input.quantity,
        unitPrice: formatCents(input.unitPrice),
        amount: formatCents(input.quantity * input.unitPrice),
        currency: input.currency,
        datePlaced: input.datePlaced ?? now().toISOString(),
        idempotencyKey: key ?? null,
        requestHash: hash,
        placedBy: actor.placedBy,
      });
    } catch (error) {
      // Two requests with the same new key raced: the loser answers like a replay.
      const winner =
        key && error instanceof UniqueConstraintError ? await replay(key, hash, actor) : null;
      if (!winner) throw error;
      res.status(200).location(orderLocation(winner.id)).json(presentOrder(winner));
      return;
    }
    deps.hooks?.afterOrderInsert?.(order);
    // The row and its outbox entry are committed: the launcher starts the workflow from here.
    deps.launcher?.notify(order.id);
    log.info('order accepted', {
      orderId: order.id,
      placedBy: actor.label,
      workflowId: workflowIdForOrder(order.id),
    });
    deps.metrics?.ordersCreated.inc();
    res.status(201).location(orderLocation(order.id)).json(presentOrder(order));
  }

  async function listOrders(req: Request, res: Response): Promise<void> {
    const query = parseOr400(listOrdersQuery, req.query);
    const own = ownOrders(actorOf(req));
    // One extra row says whether there is a next page without a COUNT.
    const rows = await db.orders.list({
      ...orderFilterOf(query),
      ...(own !== undefined ? { placedBy: own } : {}),
      ...(query.cursor ? { after: query.cursor } : {}),
      limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    res.json({
      orders: page.map(presentOrder),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null,
    });
  }

  async function workflowFacts(order: StoredOrder): Promise<OrderDetailResponse['temporal']> {
    try {
      const facts = await describeOrderWorkflow(temporal, order.id, {
        timeoutMs: temporalTimeout(deps),
      });
      return presentWorkflow(facts);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        return {
          error: {
            code: 'workflow_not_found',
            message: 'The workflow has not been started yet; the launcher will start it shortly',
          },
        };
      }
      if (!isTemporalUnavailable(error)) throw error;
      return { error: { code: 'temporal_unavailable', message: 'Temporal is unreachable' } };
    }
  }

  async function orderDetail(req: Request<{ id: string }>, res: Response): Promise<void> {
    const order = await findOrder(req.params.id, actorOf(req));
    const body: OrderDetailResponse = {
      ...presentOrder(order),
      temporalUiUrl: temporalUiWorkflowUrl(
        config.TEMPORAL_UI_URL,
        config.TEMPORAL_NAMESPACE,
        order.id,
      ),
      temporal: await workflowFacts(order),
    };
    res.json(body);
  }

  /**
   * The workflow decides (`applyOrderAction`, shared with bulk actions); its refusal is a 409
   * with the workflow's own words, and a workflow that cannot be reached is a 503.
   */
  async function applyAction(
    action: OrderAction,
    order: StoredOrder,
    reason: string | undefined,
  ): Promise<{ accepted: OrderActionAccepted; resumed: boolean }> {
    try {
      return await applyOrderAction(orderActionDeps(deps), action, order, { reason });
    } catch (error) {
      throw error instanceof OrderActionFailure ? actionFailureAnswer(error) : error;
    }
  }

  function operatorAction(action: OrderAction) {
    return async (req: Request<{ id: string }>, res: Response): Promise<void> => {
      const actor = actorOf(req);
      const reason = actionReason(action, req.body);
      const order = await findOrder(req.params.id, actor);
      const { accepted, resumed } = await applyAction(action, order, reason);
      log.info('operator action accepted', {
        action,
        by: actor.label,
        orderId: order.id,
        workflowId: workflowIdForOrder(order.id),
        status: accepted.status,
        resumed,
        reason,
      });
      const answer: ActionAcceptedResponse = {
        orderId: order.id,
        workflowId: workflowIdForOrder(order.id),
        action,
        status: accepted.status,
        message: accepted.message,
      };
      res.status(202).location(orderLocation(order.id)).json(answer);
    };
  }

  router
    .route(ORDERS_PATH)
    .get(guard('GET', ORDERS_PATH), listOrders)
    .post(
      guard('POST', ORDERS_PATH),
      orderRateLimit(config.ORDER_RATE_LIMIT_PER_MINUTE),
      jsonBody({ required: true }),
      createOrder,
    )
    .all(methodNotAllowed('GET', 'HEAD', 'POST'));
  // Before `/:id`, which would take `export.csv` for an order id.
  router
    .route(ORDERS_EXPORT_PATH)
    .get(guard('GET', ORDERS_EXPORT_PATH), (req, res) =>
      exportOrdersCsv(db.orders, orderFilterOf(parseOr400(exportOrdersQuery, req.query)), res),
    )
    .all(methodNotAllowed('GET', 'HEAD'));
  router
    .route(`${ORDERS_PATH}/:id`)
    .get(guard('GET', `${ORDERS_PATH}/:id`), orderDetail)
    .all(methodNotAllowed('GET', 'HEAD'));
  routeActions(router, guard, ORDERS_PATH, ['cancel', 'retry'] as const, operatorAction);
  return router;
}

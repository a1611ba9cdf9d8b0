/** `/api/orders`: place, list and inspect orders; operators cancel and retry them. */
import { createHash, randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/common';
import { Router, type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { UniqueConstraintError } from 'sequelize';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import {
  describeOrderWorkflow,
  orderWorkflowSettings,
  resumeOrderWorkflow,
  updateOrderWorkflow,
} from '../clients/temporal';
import type { StoredOrder } from '../db/orders';
import {
  statusRefusal,
  type OrderAction,
  type OrderActionAccepted,
  type OrderStatus,
} from '../domain/order';
import { temporalUiWorkflowUrl, workflowIdForOrder } from '../domain/temporal';
import { requireOperator } from './auth';
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
import { formatCents } from './money';
import { presentOrder, presentWorkflow } from './present';
import {
  cancelOrderRequest,
  createOrderRequest,
  encodeCursor,
  idempotencyKeyHeader,
  listOrdersQuery,
  retryOrderRequest,
  type ActionAcceptedResponse,
  type CreateOrderInput,
  type OrderDetailResponse,
} from './schemas';

export const ORDERS_PATH = '/api/orders';
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

function refusalCode(action: OrderAction): string {
  return action === 'cancel' ? 'not_cancellable' : 'not_retryable';
}

/** 409 with the workflow's own words: its validator refused the action. */
function refused(action: OrderAction, error: WorkflowUpdateFailedError): ApiError {
  const reason = error.cause instanceof Error ? error.cause.message : 'The workflow refused';
  return new ApiError(409, refusalCode(action), reason);
}

/**
 * For an order whose workflow has closed, the same rules the workflow applies, on the SQL status
 * it left: only a `failed` order can still be retried or cancelled.
 */
function closedOrderRefusal(action: OrderAction, status: OrderStatus): string | null {
  const refused = statusRefusal(action, status);
  if (refused || status === 'failed') return refused;
  return `The order's workflow is closed while the order is ${status}; nothing can be done to it`;
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
  const operator = requireOperator(config.OPERATOR_TOKEN);

  async function findOrder(id: string): Promise<StoredOrder> {
    const order = id.length <= MAX_ID_LENGTH ? await db.orders.get(id) : null;
    if (!order)
      throw new ApiError(404, 'order_not_found', `No order with id "${id.slice(0, 100)}"`);
    return order;
  }

  /** The first order sent with this key, if the request is the same; 409 if it is not. */
  async function replay(key: string, hash: string): Promise<StoredOrder | null> {
    const existing = await db.orders.findByIdempotencyKey(key);
    if (!existing) return null;
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
    const input = parseOr400(createOrderRequest, req.body);
    const key = idempotencyKeyOf(req);
    const hash = requestHash(input);
    const earlier = key ? await replay(key, hash) : null;
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
      });
    } catch (error) {
      // Two requests with the same new key raced: the loser answers like a replay.
      const winner = key && error instanceof UniqueConstraintError ? await replay(key, hash) : null;
      if (!winner) throw error;
      res.status(200).location(orderLocation(winner.id)).json(presentOrder(winner));
      return;
    }
    deps.hooks?.afterOrderInsert?.(order);
    // The row and its outbox entry are committed: the launcher starts the workflow from here.
    deps.launcher?.notify(order.id);
    log.info('order accepted', { orderId: order.id, workflowId: workflowIdForOrder(order.id) });
    deps.metrics?.ordersCreated.inc();
    res.status(201).location(orderLocation(order.id)).json(presentOrder(order));
  }

  async function listOrders(req: Request, res: Response): Promise<void> {
    const query = parseOr400(listOrdersQuery, req.query);
    // One extra row says whether there is a next page without a COUNT.
    const rows = await db.orders.list({
      ...(query.status ? { status: query.status } : {}),
      ...(query.customerId !== undefined ? { customerId: query.customerId } : {}),
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
    const order = await findOrder(req.params.id);
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

  async function temporalReachable(): Promise<boolean> {
    try {
      await temporal.withDeadline(Date.now() + temporalTimeout(deps), () =>
        temporal.workflowService.getSystemInfo({}),
      );
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The workflow decides: its Update accepts or refuses with its own reason, so two operators
   * racing, or a retry racing a payment that just went through, get the truth. Only when the
   * workflow has closed does SQL speak: a `failed` order then gets a new run carrying the action.
   */
  async function applyAction(
    action: OrderAction,
    order: StoredOrder,
    reason: string | undefined,
  ): Promise<{ accepted: OrderActionAccepted; resumed: boolean }> {
    const timeoutMs = temporalTimeout(deps);
    try {
      const accepted = await updateOrderWorkflow(temporal, order.id, action, {
        ...(reason ? { reason } : {}),
        timeoutMs,
      });
      return { accepted, resumed: false };
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) throw refused(action, error);
      if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
        // The same error whether Temporal itself is unreachable or no worker took the update.
        if (!(await temporalReachable())) {
          throw temporalUnavailable();
        }
        throw unavailable(
          'workflow_unresponsive',
          `The order's workflow did not answer within ${timeoutMs} ms (no worker?); the ${action} ` +
            'may still be applied when one does: check the order before trying again',
        );
      }
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    // No running workflow: not started yet, or closed.
    const current = (await db.orders.get(order.id)) ?? order;
    if (!current.workflowStartedAt) {
      throw new ApiError(
        404,
        'workflow_not_found',
        "The order's workflow has not been started yet; the launcher will start it shortly: try again in a moment",
      );
    }
    const ruleBroken = closedOrderRefusal(action, current.status);
    if (ruleBroken) throw new ApiError(409, refusalCode(action), ruleBroken);
    try {
      await resumeOrderWorkflow(
        temporal,
        {
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          settings: orderWorkflowSettings(config),
          timeoutMs,
        },
        current,
        action,
        reason,
      );
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      throw new ApiError(
        409,
        refusalCode(action),
        `Another ${action === 'cancel' ? 'cancel or retry' : 'retry or cancel'} of this order started its workflow again just now`,
      );
    }
    return {
      accepted: {
        orderId: current.id,
        action,
        status: current.status,
        message:
          action === 'cancel'
            ? "Cancel accepted: the order's workflow had closed, a new run refunds anything charged and ends it cancelled"
            : "Retry accepted: the order's workflow had closed, a new run charges it again under the same idempotency key",
      },
      resumed: true,
    };
  }

  function operatorAction(action: OrderAction) {
    return async (req: Request<{ id: string }>, res: Response): Promise<void> => {
      const reason = actionReason(action, req.body);
      const order = await findOrder(req.params.id);
      const { accepted, resumed } = await applyAction(action, order, reason);
      log.info('operator action accepted', {
        action,
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
    .get(listOrders)
    .post(
      orderRateLimit(config.ORDER_RATE_LIMIT_PER_MINUTE),
      jsonBody({ required: true }),
      createOrder,
    )
    .all(methodNotAllowed('GET', 'HEAD', 'POST'));
  router.route(`${ORDERS_PATH}/:id`).get(orderDetail).all(methodNotAllowed('GET', 'HEAD'));
  for (const action of ['cancel', 'retry'] as const) {
    router
      .route(`${ORDERS_PATH}/:id/${action}`)
      .post(operator, jsonBody({ required: false }), operatorAction(action))
      .all(methodNotAllowed('POST'));
  }
  return router;
}

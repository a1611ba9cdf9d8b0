/**
 * Customer verification: every rule an order must pass before it is charged, in one place.
 * The rules are pure; the activity gathers the facts and the toggles and records the verdict in
 * the workflow history, so a replay gives the same answer after a toggle flips.
 */

export interface VerificationPolicy {
  /** Customers who may not order at all (fraud, chargebacks). */
  blockedCustomers: readonly string[];
  /** Largest order amount accepted without a manual check, in the order's currency units. */
  maxOrderAmount: number;
  /** NEW_VERIFICATION: most orders one customer may place within a minute. */
  maxOrdersPerMinute: number;
}

export const DEFAULT_VERIFICATION_POLICY: VerificationPolicy = {
  blockedCustomers: ['cust-blocked'],
  maxOrderAmount: 10_000,
  maxOrdersPerMinute: 5,
};

export interface VerificationFacts {
  customerId: string;
  amount: string;
  currency: string;
  /** Orders the same customer placed in the minute up to this one, this one included. */
  ordersInLastMinute: number;
}

export type VerificationRule = 'blocked_customer' | 'amount_limit' | 'order_velocity';

export type Verdict =
  | { approved: true; newVerification: boolean }
  | { approved: false; rule: VerificationRule; reason: string; newVerification: boolean };

/** Applies the rules in order; the first that fails decides. */
export function verifyCustomer(
  facts: VerificationFacts,
  policy: VerificationPolicy,
  toggles: { newVerification: boolean },
): Verdict {
  const { newVerification } = toggles;
  if (policy.blockedCustomers.includes(facts.customerId)) {
    return {
      approved: false,
      rule: 'blocked_customer',
      reason: `customer ${facts.customerId} is blocked`,
      newVerification,
    };
  }
  if (Number(facts.amount) > policy.maxOrderAmount) {
    return {
      approved: false,
      rule: 'amount_limit',
      reason: `amount ${facts.amount} ${facts.currency} is above the ${policy.maxOrderAmount} limit per order`,
      newVerification,
    };
  }
  if (newVerification && facts.ordersInLastMinute > policy.maxOrdersPerMinute) {
    return {
      approved: false,
      rule: 'order_velocity',
      reason: `customer ${facts.customerId} placed ${facts.ordersInLastMinute} orders within a minute (limit ${policy.maxOrdersPerMinute})`,
      newVerification,
    };
  }
  return { approved: true, newVerification };
}

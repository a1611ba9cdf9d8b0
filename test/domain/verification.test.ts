import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_VERIFICATION_POLICY as policy,
  verifyCustomer,
  type VerificationFacts,
} from '../../domain/verification';

const facts = (overrides: Partial<VerificationFacts> = {}): VerificationFacts => ({
  customerId: 'cust-1',
  amount: '25.00',
  currency: 'GBP',
  ordersInLastMinute: 1,
  ...overrides,
});

for (const newVerification of [false, true]) {
  void test(`an ordinary order is approved (NEW_VERIFICATION ${newVerification ? 'on' : 'off'})`, () => {
    assert.deepEqual(verifyCustomer(facts(), policy, { newVerification }), {
      approved: true,
      newVerification,
    });
  });

  void test(`a blocked customer is rejected whatever the toggle (${newVerification ? 'on' : 'off'})`, () => {
    const verdict = verifyCustomer(facts({ customerId: 'cust-blocked' }), policy, {
      newVerification,
    });
    assert.equal(verdict.approved, false);
    assert.equal(!verdict.approved && verdict.rule, 'blocked_customer');
  });

  void test(`an amount above the limit is rejected with the amount in the reason (${newVerification ? 'on' : 'off'})`, () => {
    const verdict = verifyCustomer(facts({ amount: '10000.01' }), policy, { newVerification });
    assert.ok(!verdict.approved);
    assert.equal(verdict.rule, 'amount_limit');
    assert.match(verdict.reason, /10000\.01 GBP is above the 10000 limit/);
  });
}

void test('the velocity rule applies only when NEW_VERIFICATION is on', () => {
  const busy = facts({ ordersInLastMinute: policy.maxOrdersPerMinute + 1 });
  assert.equal(verifyCustomer(busy, policy, { newVerification: false }).approved, true);
  const verdict = verifyCustomer(busy, policy, { newVerification: true });
  assert.ok(!verdict.approved);
  assert.equal(verdict.rule, 'order_velocity');
  assert.equal(
    verifyCustomer(facts({ ordersInLastMinute: policy.maxOrdersPerMinute }), policy, {
      newVerification: true,
    }).approved,
    true,
  );
});

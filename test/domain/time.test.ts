import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatInZone,
  parseDuration,
  writtenOffsetMinutes,
  zoneOffsetMinutes,
} from '../../domain/time';

void test('London is UTC+1 in summer and UTC in winter', () => {
  assert.equal(zoneOffsetMinutes(new Date('2026-07-01T12:00:00Z'), 'Europe/London'), 60);
  assert.equal(zoneOffsetMinutes(new Date('2026-01-01T12:00:00Z'), 'Europe/London'), 0);
});

void test('an instant is written as local time with its offset', () => {
  assert.equal(
    formatInZone(new Date('2026-07-01T09:00:00Z'), 'Europe/London'),
    '2026-07-01T10:00:00+01:00',
  );
  assert.equal(
    formatInZone(new Date('2026-07-01T09:00:00Z'), 'America/New_York'),
    '2026-07-01T05:00:00-04:00',
  );
  assert.equal(
    formatInZone(new Date('2026-07-01T09:00:00Z'), 'Asia/Kolkata'),
    '2026-07-01T14:30:00+05:30',
  );
  // Orders placed just after midnight in Sydney (the old app sent them at +10/+11, docs/background.md)
  // are still the previous day in London, which is what the finance package wants to see.
  assert.equal(
    formatInZone(new Date('2026-03-31T13:30:00Z'), 'Europe/London'),
    '2026-03-31T14:30:00+01:00',
  );
  assert.equal(
    formatInZone(new Date('3000-01-01T00:00:00Z'), 'Europe/London'),
    '3000-01-01T00:00:00+00:00',
  );
});

void test('the offset written in a date is read back; Z and no offset are not an offset', () => {
  assert.equal(writtenOffsetMinutes('2026-07-01T10:00:00+01:00'), 60);
  assert.equal(writtenOffsetMinutes('2026-07-01T05:00:00-04:00'), -240);
  assert.equal(writtenOffsetMinutes('2026-07-01T09:00:00Z'), null);
  assert.equal(writtenOffsetMinutes('2026-07-01T09:00:00'), null);
});

void test('durations are read with their unit; anything else is refused', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration('7'), null);
  assert.equal(parseDuration('-1s'), null);
  assert.equal(parseDuration('1.5h'), null);
});

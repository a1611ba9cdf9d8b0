/** Names of the recorded replay fixtures that both the recorder and the replay test need. */

/**
 * Paths recorded again with local status writes and verification and the first status carried
 * by the start (FEWER_ROUND_TRIPS_PATCH): `local-steps-<path>.json` beside `<path>.json`.
 */
export const LOCAL_STEPS_PATHS = [
  'processed',
  'rejected-by-new-verification',
  'failed-then-retried-by-update-then-processed',
  'cancelled-in-flight-then-refunded',
  'answer-lost-then-looked-up-then-processed',
  'failed-then-completed-after-wait',
  'resumed-after-close-then-processed',
];

/** The fixture name of a path recorded on the local-steps path. */
export const localStepsFixture = (path: string) => `local-steps-${path}`;

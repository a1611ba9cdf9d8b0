/**
 * The tests' encryption keys: never a development or production key. Live systems get a key
 * generated per test process; the encrypted replay fixtures were recorded under the fixed
 * fixture key below, which has to stay as it is for them to decode.
 */
import { randomBytes } from 'node:crypto';
import type { DataConverter } from '@temporalio/common';
import { encryptedDataConverter } from '../../clients/codec';
import { formatCodecKey, parseCodecKeys, type CodecKeyring } from '../../domain/codec-keys';

/** The key the encrypted fixtures (test/fixtures/histories-encrypted) were recorded under. */
export const FIXTURE_CODEC_KEYS = 'fixture-1:vG7+lqhaB5D5eBZXr3rVPkaPXYPKKBd7BmT3xZnAPR4=';

/** This test process's key, as `TEMPORAL_CODEC_KEYS` takes it (for processes a test starts). */
export const TEST_CODEC_KEYS = formatCodecKey(`test-${process.pid}`, randomBytes(32));

/** A keyring of one `TEMPORAL_CODEC_KEYS` value, its first key current. */
export function keyringOf(keys: string): CodecKeyring {
  const parsed = parseCodecKeys(keys);
  return { keys: parsed, currentKeyId: parsed[0]?.id ?? '' };
}

/** The data converter of in-process clients and workers: `keys` default to the process's own. */
export function testDataConverter(keys: string = TEST_CODEC_KEYS): DataConverter {
  return encryptedDataConverter(keyringOf(keys));
}

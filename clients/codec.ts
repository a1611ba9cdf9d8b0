/**
 * Encryption of everything the service hands Temporal: workflow and activity inputs and results,
 * the static summary, query and update payloads, and failure messages and stack traces. The
 * Temporal server, its database and its Web UI see ciphertext; only a process holding the keys
 * (the worker, the API, and the API's codec endpoint for the Web UI) reads the orders.
 *
 * Each payload becomes AES-256-GCM over the original Payload message (metadata and data,
 * protobuf-encoded), under a fresh random 12-byte IV: `data` = IV ‖ ciphertext ‖ 16-byte tag,
 * `metadata.encoding` = `binary/encrypted`, `metadata.encryption-key-id` = the key's id.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import {
  METADATA_ENCODING_KEY,
  type DataConverter,
  type Payload,
  type PayloadCodec,
} from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ConfigError, type Config } from '../domain/config';
import type { CodecKey, CodecKeyring } from '../domain/codec-keys';

/** The encoding of an encrypted payload, as Temporal's samples and tools name it. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key that carries the id of the key a payload was encrypted with. */
export const KEY_ID_METADATA = 'encryption-key-id';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const PayloadMessage = temporal.api.common.v1.Payload;
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A payload the codec could not decrypt: unknown key id, or data that fails authentication. */
export class PayloadDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

function metadataText(payload: Payload, key: string): string | undefined {
  const value = payload.metadata?.[key];
  return value ? text.decode(value) : undefined;
}

/** Encrypts with the keyring's current key; decrypts with whichever key a payload names. */
export class EncryptionCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly current: CodecKey;

  constructor(keyring: CodecKeyring) {
    this.keys = new Map(keyring.keys.map(({ id, key }) => [id, key]));
    const key = this.keys.get(keyring.currentKeyId);
    if (!key) throw new Error(`the current codec key "${keyring.currentKeyId}" is not listed`);
    this.current = { id: keyring.currentKeyId, key };
  }

  /** The id new payloads are encrypted under. */
  get currentKeyId(): string {
    return this.current.id;
  }

  // Synchronous work; an error thrown in the executor becomes the rejection.
  encode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.encrypt(payload))));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((payload) => this.decrypt(payload))));
  }

  private encrypt(payload: Payload): Payload {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.current.key, iv);
    const plain = PayloadMessage.encode(payload).finish();
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: utf8.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8.encode(this.current.id),
      },
      data: sealed,
    };
  }

  /** Payloads that are not encrypted (histories from before, the CLI's JSON) pass through. */
  private decrypt(payload: Payload): Payload {
    if (metadataText(payload, METADATA_ENCODING_KEY) !== ENCRYPTED_ENCODING) return payload;
    const id = metadataText(payload, KEY_ID_METADATA);
    if (!id) throw new PayloadDecryptionError('an encrypted payload carries no key id');
    const key = this.keys.get(id);
    if (!key) {
      throw new PayloadDecryptionError(
        `a payload is encrypted with key "${id}", which TEMPORAL_CODEC_KEYS does not list`,
      );
    }
    const data = Buffer.from(payload.data ?? []);
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`an encrypted payload (key "${id}") is too short`);
    }
    const decipher = createDecipheriv(ALGORITHM, key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new PayloadDecryptionError(
        `a payload encrypted with key "${id}" fails authentication: another key of that id, or altered data`,
      );
    }
    return PayloadMessage.decode(plain);
  }
}

/** The keyring the config asks for; a ConfigError naming TEMPORAL_CODEC_KEYS when unset. */
export function codecKeyring(
  config: Partial<Pick<Config, 'TEMPORAL_CODEC_KEYS' | 'TEMPORAL_CODEC_KEY_ID'>>,
): CodecKeyring {
  const keys = config.TEMPORAL_CODEC_KEYS;
  const first = keys?.[0];
  if (!keys || !first) {
    throw new ConfigError([
      {
        variable: 'TEMPORAL_CODEC_KEYS',
        message:
          'must be set: <id>:<base64 of 32 random bytes>, e.g. k1:$(openssl rand -base64 32)',
      },
    ]);
  }
  return { keys, currentKeyId: config.TEMPORAL_CODEC_KEY_ID ?? first.id };
}

/**
 * Failure messages and stack traces go into an encrypted payload too (a decline reason names
 * what the finance package said about the customer): this module's `failureConverter`.
 */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/** The data converter of every client and worker: the codec, and encoded failure attributes. */
export function encryptedDataConverter(keyring: CodecKeyring): DataConverter {
  return {
    payloadCodecs: [new EncryptionCodec(keyring)],
    failureConverterPath: FAILURE_CONVERTER_PATH,
  };
}

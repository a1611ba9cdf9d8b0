/**
 * The keys that encrypt what the service stores in Temporal, as the config gives them:
 * `TEMPORAL_CODEC_KEYS` is a comma-separated list of `<id>:<base64 of 32 bytes>`. The key named by
 * `TEMPORAL_CODEC_KEY_ID` (by default the first) encrypts; every listed key decrypts, so a key is
 * rotated by adding a new one, making it current, and keeping the old one while histories
 * encrypted with it are still retained.
 */

/** One AES-256 key and the id written next to every payload it encrypts. */
export interface CodecKey {
  id: string;
  key: Buffer;
}

/** Every key that may decrypt, and the one that encrypts. */
export interface CodecKeyring {
  currentKeyId: string;
  keys: readonly CodecKey[];
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const KEY_BYTES = 32;

/**
 * Parses the key list; throws an Error whose message says which entry is wrong (never the key
 * itself), for the config to report under the variable's name.
 */
export function parseCodecKeys(text: string): CodecKey[] {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('must list at least one key as <id>:<base64>');
  const keys: CodecKey[] = [];
  for (const [index, entry] of entries.entries()) {
    const separator = entry.indexOf(':');
    const id = separator < 0 ? '' : entry.slice(0, separator);
    const encoded = separator < 0 ? '' : entry.slice(separator + 1);
    const where = `entry ${index + 1}`;
    if (!KEY_ID.test(id)) {
      throw new Error(
        `${where} must be <id>:<base64>, the id 1-64 letters, digits, ".", "_" or "-"`,
      );
    }
    const key = BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) {
      throw new Error(
        `key "${id}" must be ${KEY_BYTES} random bytes in base64 (openssl rand -base64 32)`,
      );
    }
    if (keys.some((known) => known.id === id)) throw new Error(`key id "${id}" appears twice`);
    keys.push({ id, key });
  }
  return keys;
}

/** One entry of `TEMPORAL_CODEC_KEYS`: `<id>:<base64>`. */
export function formatCodecKey(id: string, key: Buffer): string {
  return `${id}:${key.toString('base64')}`;
}

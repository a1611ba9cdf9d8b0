/**
 * The failure converter of the workflows (bundled with them), the workers and the clients:
 * failure messages and stack traces travel as an encoded payload, which the encryption codec
 * (clients/codec.ts) then encrypts. Loaded by path, so it imports nothing but the SDK.
 */
import { DefaultFailureConverter } from '@temporalio/common';

/** The SDK's converter with the message and stack trace moved into an encoded payload. */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });

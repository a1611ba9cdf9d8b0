import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import type { Logger } from '@temporalio/common';

/** For MockActivityEnvironment: the SDK's own "Activity failed" warnings would drown the report. */
export const quietSdkLogger: Logger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A free loopback port: listen on port 0, note the port, close. Nothing listens there after. */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) =>
    server.close((error) => (error ? reject(error) : resolve())),
  );
  return port;
}

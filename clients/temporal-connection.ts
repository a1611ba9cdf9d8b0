/**
 * How every process reaches Temporal: the address, and TLS and an API key when the config asks
 * for them (a cluster with mTLS, Temporal Cloud). The API's client, the worker's NativeConnection
 * and the scripts all build their connection from this, so they are secured the same way.
 */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { Config } from '../domain/config';

/** The settings a connection needs; TLS and the API key are optional for tests and scripts. */
export type TemporalConnectionConfig = Pick<Config, 'TEMPORAL_ADDRESS'> &
  Partial<
    Pick<
      Config,
      | 'TEMPORAL_TLS_CA'
      | 'TEMPORAL_TLS_CERT'
      | 'TEMPORAL_TLS_KEY'
      | 'TEMPORAL_TLS_SERVER_NAME'
      | 'TEMPORAL_API_KEY'
    >
  >;

/** What `Connection` and `NativeConnection` take in common: address, tls, apiKey. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

/**
 * Connection options from the config. The files are read here, once per connection, so a renewed
 * certificate is picked up by the next process start. An API key alone also turns TLS on: Temporal
 * Cloud only accepts it over TLS.
 */
export function temporalConnectionOptions(
  config: TemporalConnectionConfig,
): TemporalConnectionOptions {
  const { TEMPORAL_TLS_CA: ca, TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key } = config;
  const serverName = config.TEMPORAL_TLS_SERVER_NAME;
  const secured = Boolean(ca || cert || key || serverName || config.TEMPORAL_API_KEY);
  const tls: TLSConfig | undefined = secured
    ? {
        ...(ca ? { serverRootCACertificate: readFileSync(ca) } : {}),
        ...(cert && key
          ? { clientCertPair: { crt: readFileSync(cert), key: readFileSync(key) } }
          : {}),
        ...(serverName ? { serverNameOverride: serverName } : {}),
      }
    : undefined;
  return {
    address: config.TEMPORAL_ADDRESS,
    ...(tls ? { tls } : {}),
    ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}),
  };
}

/**
 * Throwaway certificates for the mTLS tests, made with openssl in a folder of the test's own: a
 * CA, the frontend's server certificate (for the name `temporal-frontend` and 127.0.0.1) and a
 * client certificate, all signed by that CA and valid for a day.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClusterTls } from '../../scripts/lib/cluster';

const run = promisify(execFile);

/** The name in the server certificate; clients check the frontend against it. */
export const FRONTEND_NAME = 'temporal-frontend';

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeout: 30_000 });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A CA of its own (`<name>-ca.pem`) and a certificate it signed (`<name>.pem`, `<name>.key`). */
async function signed(
  dir: string,
  ca: string,
  name: string,
  extensions: string,
): Promise<{ cert: string; key: string }> {
  await openssl(
    dir,
    ['req', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`].concat([
      '-subj',
      `/CN=${name}`,
    ]),
  );
  writeFileSync(join(dir, `${name}.ext`), extensions);
  await openssl(
    dir,
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`]
      .concat(['-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-sha256'])
      .concat(['-extfile', `${name}.ext`, '-out', `${name}.pem`]),
  );
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
}

async function authority(dir: string, name: string): Promise<string> {
  await openssl(
    dir,
    ['req', '-x509', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`]
      .concat(['-days', '1', '-subj', `/CN=${name}`, '-sha256'])
      .concat(['-addext', 'basicConstraints=critical,CA:TRUE'])
      .concat(['-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
  );
  return join(dir, `${name}.pem`);
}

export interface TestCertificates extends ClusterTls {
  /** A client certificate from another CA, which the frontend must refuse. */
  strangerCert: string;
  strangerKey: string;
}

/** Makes the certificates in `dir`. */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  const ca = await authority(dir, 'orders-test-ca');
  const server = await signed(
    dir,
    'orders-test-ca',
    'frontend',
    `subjectAltName=DNS:${FRONTEND_NAME},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`,
  );
  const client = await signed(dir, 'orders-test-ca', 'client', 'extendedKeyUsage=clientAuth\n');
  await authority(dir, 'stranger-ca');
  const stranger = await signed(dir, 'stranger-ca', 'stranger', 'extendedKeyUsage=clientAuth\n');
  return {
    ca,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    serverName: FRONTEND_NAME,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
  };
}

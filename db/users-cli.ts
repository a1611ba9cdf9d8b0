/**
 * Staff users and API keys: `npm run users -- <command>` (scripts/users.ts), or in the production
 * image `node dist/db/users-cli.js <command>`. Reads DATABASE_URL like the services (default
 * `sqlite:.data/orders.sqlite`). Passwords and keys are printed once and never stored.
 *
 *   add-user <username> <viewer|operator|admin>   a user with a random password
 *   add-key <client> [client|viewer|operator|admin] an API key (role client unless given)
 *   list                                           users and keys, revoked ones marked
 *   revoke-user <username>                         at once, with every session of theirs
 *   revoke-key <key id>
 */
import { openDatabase } from '.';
import { CREDENTIAL_ROLES, CredentialError, type CredentialRole } from './credentials';
import { loadConfigOrExit } from '../domain/config';

const USAGE = `Usage: npm run users -- <command>
  add-user <username> <viewer|operator|admin>     a user with a random password (shown once)
  add-key <client> [client|viewer|operator|admin] an API key, role client unless given (shown once)
  list                                            users and keys
  revoke-user <username>                          revokes the user and ends their sessions
  revoke-key <key id>                             revokes the key`;

function roleOf(text: string | undefined, allowed: readonly CredentialRole[]): CredentialRole {
  const role = allowed.find((r) => r === text);
  if (!role) throw new CredentialError(`The role must be one of ${allowed.join(', ')}`);
  return role;
}

async function main(args: string[]): Promise<void> {
  const [command, first, second] = args;
  if (!command || command === 'help' || command === '--help') {
    console.log(USAGE);
    return;
  }
  const config = loadConfigOrExit();
  const db = await openDatabase(config.DATABASE_URL);
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new CredentialError(`${command} needs ${what}\n${USAGE}`);
    return value;
  };
  try {
    switch (command) {
      case 'add-user': {
        const username = need(first, 'a username');
        const role = roleOf(second, ['viewer', 'operator', 'admin']);
        const { password } = await db.credentials.addUser(username, role);
        console.log(`User ${username} (${role}) added. Password, shown once: ${password}`);
        break;
      }
      case 'add-key': {
        const client = need(first, 'a client name');
        const role = second === undefined ? 'client' : roleOf(second, CREDENTIAL_ROLES);
        const { key, secret } = await db.credentials.addKey(client, role);
        console.log(`API key ${key.id} for ${client} (${role}) added. Key, shown once:\n${secret}`);
        console.log('Send it as "Authorization: Bearer <key>".');
        break;
      }
      case 'list': {
        for (const user of await db.credentials.listUsers()) {
          const state = user.revokedAt ? `revoked ${user.revokedAt}` : 'active';
          console.log(`user ${user.username.padEnd(24)} ${user.role.padEnd(9)} ${state}`);
        }
        for (const key of await db.credentials.listKeys()) {
          const state = key.revokedAt ? `revoked ${key.revokedAt}` : 'active';
          console.log(`key  ${key.id} ${key.client.padEnd(7)} ${key.role.padEnd(9)} ${state}`);
        }
        break;
      }
      case 'revoke-user': {
        const user = await db.credentials.revokeUser(need(first, 'a username'));
        console.log(`User ${user.username} revoked; their sessions have ended.`);
        break;
      }
      case 'revoke-key': {
        const key = await db.credentials.revokeKey(need(first, 'a key id'));
        console.log(`API key ${key.id} (${key.client}) revoked.`);
        break;
      }
      default:
        throw new CredentialError(`Unknown command "${command}"\n${USAGE}`);
    }
  } finally {
    await db.close();
  }
}

/** Runs one command; a mistake in it exits 1 with the message, nothing else. */
export function runUsersCli(args: string[]): void {
  main(args).catch((error: unknown) => {
    console.error(error instanceof CredentialError ? error.message : error);
    process.exit(1);
  });
}

if (require.main === module) runUsersCli(process.argv.slice(2));

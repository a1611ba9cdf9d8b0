/** `npm run users -- <command>`: staff users and API keys (db/users-cli.ts says which commands). */
import { runUsersCli } from '../db/users-cli';

runUsersCli(process.argv.slice(2));

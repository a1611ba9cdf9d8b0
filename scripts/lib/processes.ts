/**
 * Child processes of the supervisor, the benchmark and the fault suite: each part of the system
 * runs from its own entry point with its output appended to a log file, and can be stopped,
 * SIGKILLed and started again under the same name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
}

/** `node --import tsx <file>`: how every TypeScript entry point is started. */
export function tsxArgs(file: string): string[] {
  return ['--import', 'tsx', file];
}

export class Service {
  private child: ChildProcess | null = null;
  /** Called when the process exits without `stop()` or `kill()` having been asked for. */
  onUnexpectedExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | null = null;

  constructor(readonly spec: ServiceSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.child) throw new Error(`${this.name} is already running`);
    const log = createWriteStream(this.spec.logFile, { flags: 'a' });
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: this.spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.child = child;
    child.once('exit', (code, signal) => {
      const expected = this.child !== child;
      if (this.child === child) this.child = null;
      if (!expected) this.onUnexpectedExit?.(code, signal);
    });
  }

  /** SIGTERM, then SIGKILL when it has not exited after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.detach();
    if (!child) return;
    const exited = exitOf(child);
    child.kill('SIGTERM');
    if ((await Promise.race([exited, sleep(graceMs, 'timeout' as const)])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** SIGKILL: the process gets no chance to clean up, as in a crash or an OOM kill. */
  async kill(): Promise<void> {
    const child = this.detach();
    if (!child) return;
    const exited = exitOf(child);
    child.kill('SIGKILL');
    await exited;
  }

  /** The last lines of its log, for error messages. */
  tail(count = 15): string {
    try {
      return readFileSync(this.spec.logFile, 'utf8').trimEnd().split('\n').slice(-count).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Forgets the running child, so its exit does not count as unexpected. */
  private detach(): ChildProcess | null {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return null;
    return child;
  }
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Polls `check` until it returns true (errors count as false) or `timeoutMs` passes. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs = 60_000, everyMs = 250 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline)
      throw new Error(`${what} was not ready within ${timeoutMs / 1000} s`);
    await sleep(everyMs);
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await response.body?.cancel();
  return response.ok;
}

export function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

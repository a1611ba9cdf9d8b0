// @ts-check
/**
 * Signing in, shared by the dashboard and the admin page: the username and password go to the
 * API once, which answers with an HttpOnly session cookie the page never sees; the page only asks
 * who is signed in. Signing out ends the session on the server, not just in this browser.
 */
import { byId, byIdAs } from './dom.js';
import { api, ApiError } from './http.js';

/** @typedef {{ username: string, role: 'client' | 'viewer' | 'operator' | 'admin' }} User */

const RANK = { client: 0, viewer: 1, operator: 2, admin: 3 };
const ROLE_LABEL = { client: 'Client', viewer: 'Viewer', operator: 'Operator', admin: 'Admin' };

/**
 * Whether `user` may do what `role` may (admin ⊃ operator ⊃ viewer).
 * @param {User | null} user @param {'viewer' | 'operator' | 'admin'} role
 */
export function atLeast(user, role) {
  return user !== null && RANK[user.role] >= RANK[role];
}

/** An answer that says the session is gone (expired, signed out elsewhere, user revoked). */
export const sessionEnded = (/** @type {unknown} */ error) =>
  error instanceof ApiError && error.status === 401;

export class Session {
  /** @param {(user: User | null) => void} changed called whenever who is signed in changes */
  constructor(changed) {
    /** @type {User | null} */
    this.user = null;
    this.changed = changed;
    this.form = byIdAs('sign-in', HTMLFormElement);
    this.username = byIdAs('username', HTMLInputElement);
    this.password = byIdAs('password', HTMLInputElement);
    this.message = byId('session-message');
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.signIn();
    });
    byId('sign-out').addEventListener('click', () => void this.signOut());
  }

  /** Asks the API who is signed in: the page cannot read an HttpOnly cookie. */
  async load() {
    try {
      /** @type {{ user: User | null }} */
      const answer = await api('/api/session');
      this.apply(answer.user);
    } catch {
      this.apply(null);
    }
  }

  /** @param {User | null} user */
  apply(user) {
    this.user = user;
    this.form.hidden = user !== null;
    byId('signed-in').hidden = user === null;
    byId('who').textContent = user?.username ?? '';
    const badge = byId('role');
    badge.textContent = user ? ROLE_LABEL[user.role] : '';
    badge.className = `badge badge-role badge-${user?.role ?? 'none'}`;
    this.changed(user);
  }

  async signIn() {
    try {
      /** @type {{ user: User }} */
      const answer = await api('/api/session', {
        method: 'POST',
        body: { username: this.username.value.trim(), password: this.password.value },
      });
      this.password.value = '';
      this.message.textContent = '';
      this.apply(answer.user);
    } catch (error) {
      this.message.textContent = error instanceof Error ? error.message : String(error);
      this.password.focus();
    }
  }

  async signOut() {
    await api('/api/session', { method: 'DELETE' }).catch(() => undefined);
    this.apply(null);
    this.username.focus();
  }

  /** A call was refused for want of a session: back to the sign-in form, saying why. */
  ended() {
    this.apply(null);
    this.message.textContent = 'Your session has ended: sign in again.';
    this.username.focus();
  }
}

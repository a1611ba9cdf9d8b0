// @ts-check
/* global document, fetch */
/**
 * The admin page: feature toggles and who changed them. Reading and flipping both need an admin's
 * session (the same sign-in as the dashboard's); anyone else is told so and sees no toggle.
 */
import { byId, formatDateTime, h } from './dom.js';
import { api, ApiError } from './http.js';
import { atLeast, Session, sessionEnded } from './session.js';

/**
 * @typedef {import('../schemas').FeatureListResponse} FeatureList
 * @typedef {import('../schemas').FeatureToggleResponse} FeatureToggle
 * @typedef {import('./session.js').User} User
 */

const FEATURES_PATH = '/api/admin/features';
/** Bounds the flip like every other call (see http.js). */
const TIMEOUT_MS = 8000;

const message = byId('admin-message');

/** @param {HTMLElement} element @param {string} text @param {boolean} [failed] */
function say(element, text, failed = false) {
  element.className = failed ? 'message error' : 'message';
  element.textContent = text;
}

/** @param {unknown} error */
const messageOf = (error) => (error instanceof Error ? error.message : String(error));

/** @param {boolean} enabled */
const stateLabel = (enabled) => (enabled ? 'On' : 'Off');

/** @param {User | null} user */
function applySession(user) {
  const admin = atLeast(user, 'admin');
  byId('admin-sign-in-hint').hidden = admin;
  if (!admin) {
    byId('features').replaceChildren();
    byId('changes').replaceChildren();
    byId('changes-empty').hidden = true;
    say(
      message,
      user ? `Signed in as ${user.username} (${user.role}): toggles need an admin.` : '',
    );
    return;
  }
  say(message, '');
  void load().catch(fail);
}

/**
 * PUT that reports the API's details in its message, which http.js's `api` does not.
 * @param {string} name @param {boolean} enabled @returns {Promise<FeatureToggle>}
 */
async function setFeature(name, enabled) {
  /** @type {Response} */
  let response;
  try {
    response = await fetch(`${FEATURES_PATH}/${encodeURIComponent(name)}`, {
      method: 'PUT',
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        'x-operator-session': '1',
      },
      body: JSON.stringify({ enabled }),
      credentials: 'same-origin',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'The API is unreachable');
  }
  /** @type {unknown} */
  const body = await response.json().catch(() => null);
  const answer =
    /** @type {{ error?: { code?: unknown, message?: unknown, details?: unknown } } | null} */ (
      body
    );
  if (!response.ok) {
    const error = answer?.error;
    /** @type {{ message?: unknown }[]} */
    const listed = Array.isArray(error?.details) ? error.details : [];
    const details = listed.flatMap((d) => (typeof d?.message === 'string' ? [d.message] : []));
    const text =
      typeof error?.message === 'string' ? error.message : 'The API answered with an error';
    throw new ApiError(
      response.status,
      typeof error?.code === 'string' ? error.code : 'http_error',
      details.length ? `${text}: ${details.join('; ')}` : text,
    );
  }
  return /** @type {FeatureToggle} */ (answer);
}

/** @param {FeatureToggle} feature */
function featureRow(feature) {
  const button = h(
    'button',
    {
      type: 'button',
      role: 'switch',
      class: `toggle-switch${feature.enabled ? ' on' : ''}`,
      'aria-checked': String(feature.enabled),
      'aria-label': feature.name,
      'data-feature': feature.name,
    },
    stateLabel(feature.enabled),
  );
  button.addEventListener('click', () => void flip(feature.name, !feature.enabled, button));
  return h(
    'tr',
    { 'data-feature': feature.name },
    h('th', { scope: 'row', class: 'mono' }, feature.name),
    h('td', {}, feature.description),
    h('td', {}, button),
    h(
      'td',
      { 'data-label': 'Last changed' },
      feature.updatedBy
        ? `${formatDateTime(feature.updatedAt)} by ${feature.updatedBy}`
        : 'Never (default)',
    ),
  );
}

/** @param {FeatureList['changes'][number]} change */
function changeRow(change) {
  return h(
    'tr',
    { 'data-feature': change.name },
    h('td', {}, h('time', { datetime: change.changedAt }, formatDateTime(change.changedAt))),
    h('td', { class: 'mono' }, change.name),
    h(
      'td',
      {},
      h(
        'span',
        { class: `badge badge-${change.enabled ? 'on' : 'off'}` },
        stateLabel(change.enabled),
      ),
    ),
    h('td', { class: 'changed-by' }, change.changedBy),
  );
}

async function load() {
  /** @type {FeatureList} */
  const list = await api(FEATURES_PATH);
  byId('features').replaceChildren(...list.features.map(featureRow));
  byId('changes').replaceChildren(...list.changes.map(changeRow));
  byId('changes-empty').hidden = list.changes.length > 0;
}

/** Shows what went wrong; a lost session goes back to the sign-in form. @param {unknown} error */
function fail(error) {
  if (sessionEnded(error)) {
    session.ended();
    return;
  }
  say(message, messageOf(error), true);
}

/** @param {string} name @param {boolean} enabled @param {HTMLElement} button */
async function flip(name, enabled, button) {
  if (button instanceof HTMLButtonElement) button.disabled = true;
  try {
    const toggle = await setFeature(name, enabled);
    say(message, `${toggle.name} is now ${stateLabel(toggle.enabled).toLowerCase()}.`);
    await load();
    // The row was redrawn: keep the keyboard where it was.
    const again = document.querySelector(`button[data-feature="${name}"]`);
    if (again instanceof HTMLElement) again.focus();
  } catch (error) {
    fail(error);
    if (button instanceof HTMLButtonElement) button.disabled = false;
  }
}

const session = new Session(applySession);
await session.load();

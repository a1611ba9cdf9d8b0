// @ts-check
/* global document */
/** DOM building and formatting. Text goes in as text nodes, never as HTML: order fields are user input. */

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @param {string} tag
 * @param {Record<string, string | boolean | undefined>} [attributes]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === undefined) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  element.append(...children.flat().filter(isPresent).map(toNode));
  return element;
}

/** @param {Child} child @returns {child is string | number | Node} */
function isPresent(child) {
  return child !== null && child !== undefined && child !== false;
}

/** @param {string | number | Node} child */
function toNode(child) {
  return child instanceof Node ? child : document.createTextNode(String(child));
}

/** @param {string} id @returns {HTMLElement} */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element;
}

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
export function byIdAs(id, type) {
  const element = byId(id);
  if (!(element instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return element;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'medium',
});

/** @param {string | null | undefined} iso */
export function formatTime(iso) {
  return iso ? timeFormat.format(new Date(iso)) : '—';
}

/** @param {string | null | undefined} iso */
export function formatDateTime(iso) {
  return iso ? dateTimeFormat.format(new Date(iso)) : '—';
}

/** @param {number} bytes */
export function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  for (; value >= 1024 && unit < units.length - 1; unit += 1) value /= 1024;
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** @param {number} ms */
export function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** @param {number} value */
export function formatRate(value) {
  return `${value.toFixed(value < 10 ? 2 : 0)}/s`;
}

/** The first part of a UUID: enough to tell orders apart on screen. */
export function shortId(/** @type {string} */ id) {
  return id.slice(0, 8);
}

/** @param {string} status */
export function statusLabel(status) {
  return status.charAt(0).toUpperCase() + status.slice(1);
}

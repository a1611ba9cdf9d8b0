// @ts-check
/**
 * uPlot, loaded by index.html as a classic script that the API serves from node_modules/uplot:
 * no CDN, so the page works offline. Typed from the package's own declarations.
 */
const loaded = /** @type {{ uPlot?: typeof import('uplot') }} */ (
  /** @type {unknown} */ (globalThis)
);
if (!loaded.uPlot) throw new Error('uPlot did not load: /vendor/uplot/uPlot.iife.min.js');
export const uPlot = loaded.uPlot;

/**
 * How the series of a chart are told apart: each gets a palette colour and a line dash, so that colour is never the
 * only difference (the README's promise, for readers who cannot tell two of the palette's colours apart, and for
 * two blues in the light theme).
 *
 * Pure data and one function, so the rule is unit-tested without a browser (tests/js/series.test.mjs).
 */

/**
 * How many colours the theme defines (`--series-0` … in style.css): the Okabe-Ito set, which stays distinct for
 * the common colour-vision deficiencies, tuned per theme for contrast.
 */
export const PALETTE_SIZE = 8;

/**
 * Line dashes, in CSS pixels: as many as colours, so that the series a chart draws at first (up to eight) each have
 * a dash of their own. Each repeats within 22 px, so that a 28 px legend marker shows its pattern.
 */
export const DASHES = Object.freeze([
  Object.freeze([]), // solid
  Object.freeze([6, 3]), // dashed
  Object.freeze([2, 3]), // dotted
  Object.freeze([8, 3, 2, 3]), // dash-dot
  Object.freeze([14, 4]), // long dashes
  Object.freeze([6, 2, 2, 2, 2, 2]), // dash-dot-dot
  Object.freeze([2, 2, 2, 7]), // pairs of dots
  Object.freeze([12, 3, 4, 3]), // long-short
]);

/**
 * How series `index` of a chart is drawn: a palette colour (an index into the theme's) and a dash. The first
 * PALETTE_SIZE series differ from each other in both; past them the dash shifts by one each round of the palette,
 * so no two of the first PALETTE_SIZE * DASHES.length series share colour and dash.
 */
export function seriesStyle(index) {
  return {
    color: index % PALETTE_SIZE,
    dash: DASHES[(index + Math.floor(index / PALETTE_SIZE)) % DASHES.length],
  };
}

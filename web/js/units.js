/** The conversion factors between units that several of the page's modules need, each defined here once. */

export const MILLISECONDS_PER_SECOND = 1000;
export const SECONDS_PER_MINUTE = 60;
/** A ratio times this is a percentage. */
export const PERCENT = 100;

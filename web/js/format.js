/**
 * Unit-aware number formatting for chart axes and readouts.
 *
 * Units are the short labels that /api/feeds gives each field (`%`, `B/s`, `B`, `$`, `shares`, or "" for a plain
 * number). Any other label still formats, as a plain number followed by the label, so a feed added later with a
 * new unit needs no change here.
 */

import { MILLISECONDS_PER_SECOND, SECONDS_PER_MINUTE } from "./units.js";

export const UNIT_PERCENT = "%";
export const UNIT_BYTE_RATE = "B/s";
export const UNIT_BYTES = "B";
export const UNIT_DOLLAR = "$";
export const UNIT_SHARES = "shares";
export const UNIT_PLAIN = "";

/** What a readout shows for a field that has no value yet. */
export const MISSING_TEXT = "—";

const UNIT_TITLES = new Map([
  [UNIT_PERCENT, "Percent"],
  [UNIT_BYTE_RATE, "Bytes per second"],
  [UNIT_BYTES, "Bytes"],
  ["s", "Seconds"],
  [UNIT_DOLLAR, "Price"],
  [UNIT_SHARES, "Shares"],
  [UNIT_PLAIN, "Value"],
]);

// Decimal (SI) prefixes, as network and disk rates are usually quoted: 1 MB/s = 1,000,000 B/s.
const BYTE_PREFIXES = ["", "k", "M", "G", "T", "P", "E"];
const BYTE_PREFIX_STEP = 1000;

const READOUT_SIGNIFICANT_DIGITS = 3;
const MAX_DECIMALS = 6;
const PERCENT_READOUT_DECIMALS = 1;
const DOLLAR_READOUT_DECIMALS = 2;
// An axis increment is 1, 2, 2.5 or 5 times a power of ten; this tolerance absorbs float noise when counting the
// decimals it needs.
const INCREMENT_EPSILON = 1e-9;

// Intl.NumberFormat is expensive to build and the keys are few (a unit kind times a handful of decimal counts).
const formatters = new Map();

function numberFormat(decimals, { fixed = false, currency = false } = {}) {
  const key = `${decimals}:${fixed}:${currency}`;
  let format = formatters.get(key);
  if (format === undefined) {
    format = new Intl.NumberFormat(undefined, {
      ...(currency ? { style: "currency", currency: "USD" } : {}),
      minimumFractionDigits: fixed ? decimals : 0,
      maximumFractionDigits: decimals,
    });
    formatters.set(key, format);
  }
  return format;
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

/** The fewest decimals that write every multiple of `increment` exactly (0.25 -> 2, 5 -> 0). */
export function decimalsForIncrement(increment) {
  if (!(increment > 0) || !Number.isFinite(increment)) {
    return 0;
  }
  for (let decimals = 0; decimals < MAX_DECIMALS; decimals++) {
    const scaled = increment * 10 ** decimals;
    if (Math.abs(scaled - Math.round(scaled)) < INCREMENT_EPSILON * scaled) {
      return decimals;
    }
  }
  return MAX_DECIMALS;
}

function significantDecimals(value) {
  const magnitude = Math.abs(value);
  if (magnitude === 0 || !Number.isFinite(magnitude)) {
    return 0;
  }
  return clamp(READOUT_SIGNIFICANT_DIGITS - 1 - Math.floor(Math.log10(magnitude)), 0, MAX_DECIMALS);
}

function bytePrefixIndex(magnitude) {
  let index = 0;
  while (magnitude >= BYTE_PREFIX_STEP && index < BYTE_PREFIXES.length - 1) {
    magnitude /= BYTE_PREFIX_STEP;
    index++;
  }
  return index;
}

/** Bytes or a byte rate with a decimal prefix: "1.23 MB/s", "4.5 GB". */
function formatBytes(value, prefixIndex, decimals, unit) {
  const scaled = value / BYTE_PREFIX_STEP ** prefixIndex;
  return `${numberFormat(decimals, { fixed: true }).format(scaled)} ${BYTE_PREFIXES[prefixIndex]}${unit}`;
}

/** A caption for the chart of one unit: "Percent", "Bytes per second", or the label itself. */
export function describeUnit(unit) {
  return UNIT_TITLES.get(unit) ?? unit;
}

/** One value with its unit, for the readout: "12.3%", "1.23 MB/s", "$191.37", "1,200 shares", "0.53". */
export function formatValue(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) {
    return MISSING_TEXT;
  }
  switch (unit) {
    case UNIT_PERCENT:
      return `${numberFormat(PERCENT_READOUT_DECIMALS, { fixed: true }).format(value)}${UNIT_PERCENT}`;
    case UNIT_BYTE_RATE:
    case UNIT_BYTES: {
      const prefixIndex = bytePrefixIndex(Math.abs(value));
      const scaled = value / BYTE_PREFIX_STEP ** prefixIndex;
      return formatBytes(value, prefixIndex, prefixIndex === 0 ? 0 : significantDecimals(scaled), unit);
    }
    case UNIT_DOLLAR:
      return numberFormat(DOLLAR_READOUT_DECIMALS, { fixed: true, currency: true }).format(value);
    case UNIT_SHARES:
      return `${numberFormat(0).format(value)} ${UNIT_SHARES}`;
    case UNIT_PLAIN:
      return numberFormat(significantDecimals(value)).format(value);
    default:
      return `${numberFormat(significantDecimals(value)).format(value)} ${unit}`;
  }
}

/**
 * A uPlot `axes[].values` function for `unit`. All tick labels of one axis share their decimals (and, for byte
 * rates, their prefix), so a column of labels reads evenly: "0 kB/s, 250 kB/s, 500 kB/s".
 */
export function axisValues(unit) {
  return (chart, splits, axisIndex, foundSpace, increment) => {
    switch (unit) {
      case UNIT_PERCENT: {
        const format = numberFormat(decimalsForIncrement(increment), { fixed: true });
        return splits.map((split) => `${format.format(split)}${UNIT_PERCENT}`);
      }
      case UNIT_BYTE_RATE:
      case UNIT_BYTES: {
        const largest = Math.max(...splits.map((split) => Math.abs(split)));
        const prefixIndex = bytePrefixIndex(largest);
        const decimals = decimalsForIncrement(increment / BYTE_PREFIX_STEP ** prefixIndex);
        return splits.map((split) => formatBytes(split, prefixIndex, decimals, unit));
      }
      case UNIT_DOLLAR: {
        // Cents or whole dollars: "$191.5" reads as a typo.
        const decimals = decimalsForIncrement(increment) === 0 ? 0 : DOLLAR_READOUT_DECIMALS;
        const format = numberFormat(decimals, { fixed: true, currency: true });
        return splits.map((split) => format.format(split));
      }
      default: {
        const format = numberFormat(decimalsForIncrement(increment), { fixed: true });
        return splits.map((split) => format.format(split));
      }
    }
  };
}

const CHANGE_DECIMALS = 2;
// Ages under this many seconds keep a decimal: "1.2 s", then "14 s".
const AGE_DECIMAL_SECONDS = 10;

/** A percent change with its sign: "+1.25%", "−0.40%", "0.00%". */
export function formatChange(value) {
  if (value === null || value === undefined || Number.isNaN(value)) {
    return MISSING_TEXT;
  }
  const text = `${numberFormat(CHANGE_DECIMALS, { fixed: true }).format(Math.abs(value))}${UNIT_PERCENT}`;
  // Rounded to zero, a change has no sign; otherwise a true minus sign, as typeset figures have.
  if (Number(Math.abs(value).toFixed(CHANGE_DECIMALS)) === 0) {
    return text;
  }
  return value > 0 ? `+${text}` : `\u2212${text}`;
}

/** An age in milliseconds, for freshness readouts: "80 ms", "1.2 s", "14 s", "3 min". */
export function formatAge(milliseconds) {
  const seconds = milliseconds / MILLISECONDS_PER_SECOND;
  if (milliseconds < MILLISECONDS_PER_SECOND) {
    return `${Math.max(0, Math.round(milliseconds))} ms`;
  }
  if (seconds < AGE_DECIMAL_SECONDS) {
    return `${seconds.toFixed(1)} s`;
  }
  if (seconds < SECONDS_PER_MINUTE) {
    return `${Math.round(seconds)} s`;
  }
  return `${Math.round(seconds / SECONDS_PER_MINUTE)} min`;
}

const twoDigits = (number) => String(number).padStart(2, "0");

/**
 * A moment (Unix seconds) as the reader's clock shows it: "14:03:27" on the day of `nowSeconds`, with its date
 * before it on any other day ("2026-12-07 14:03:27"), so that a link to an old range never reads as today's.
 */
export function formatMoment(seconds, nowSeconds) {
  const date = new Date(seconds * MILLISECONDS_PER_SECOND);
  const now = new Date(nowSeconds * MILLISECONDS_PER_SECOND);
  const time = `${twoDigits(date.getHours())}:${twoDigits(date.getMinutes())}:${twoDigits(date.getSeconds())}`;
  const today =
    date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
  if (today) {
    return time;
  }
  return `${date.getFullYear()}-${twoDigits(date.getMonth() + 1)}-${twoDigits(date.getDate())} ${time}`;
}

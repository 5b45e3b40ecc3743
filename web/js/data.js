/**
 * Tick decoding and bounded, columnar storage of a feed's recent ticks.
 *
 * A binary frame (docs/protocol.md, "Binary data frames") is read with one DataView for the header and one
 * Float64Array view for the values, without copying. Ticks are kept in a fixed-capacity ring of time buckets
 * (min, max, last and sum per field), stored column by column, so memory stays flat however long the page runs and
 * however fast a feed ticks. A missed stretch (a new run or a jump in seq) is stored as a gap bucket whose values
 * are NaN; uPlot draws nulls as gaps, so the ring hands its columns to charts with NaN turned into null. A new run
 * (the server restarted: its values owe nothing to the last run's) also starts afresh what is measured from a start:
 * percent changes are measured from the new run's first value, and `lastRunStart` tells where the run shown began.
 */

import { PERCENT } from "./units.js";

export const FRAME_LAYOUT_VERSION = 1;

const HEADER_BYTES = 32;
const VALUE_ALIGNMENT_BYTES = 8;
const VALUE_BYTES = Float64Array.BYTES_PER_ELEMENT;
const OFFSET_VERSION = 0;
const OFFSET_NAME_LENGTH = 2;
const OFFSET_COUNT = 4;
const OFFSET_SEQ = 8;
const OFFSET_TS = 16;
const OFFSET_RUN = 24;
const LITTLE_ENDIAN = true;

const nameDecoder = new TextDecoder();

/** A tick as the rest of the page uses it: `values` follow the feed's `fields` order. */
export function makeTick(feed, run, seq, ts, values) {
  return { feed, run, seq, ts, values };
}

/** Decodes one binary data frame; throws on a frame that does not follow the layout. */
export function decodeFrame(buffer) {
  if (buffer.byteLength < HEADER_BYTES) {
    throw new Error(`binary frame too short: ${buffer.byteLength} bytes`);
  }
  const view = new DataView(buffer);
  const version = view.getUint8(OFFSET_VERSION);
  if (version !== FRAME_LAYOUT_VERSION) {
    throw new Error(`unknown binary frame layout ${version}, expected ${FRAME_LAYOUT_VERSION}`);
  }
  const nameLength = view.getUint16(OFFSET_NAME_LENGTH, LITTLE_ENDIAN);
  const count = view.getUint32(OFFSET_COUNT, LITTLE_ENDIAN);
  const valuesOffset = HEADER_BYTES + Math.ceil(nameLength / VALUE_ALIGNMENT_BYTES) * VALUE_ALIGNMENT_BYTES;
  const expectedLength = valuesOffset + VALUE_BYTES * count;
  if (buffer.byteLength !== expectedLength) {
    throw new Error(`binary frame is ${buffer.byteLength} bytes, its header says ${expectedLength}`);
  }
  return makeTick(
    nameDecoder.decode(new Uint8Array(buffer, HEADER_BYTES, nameLength)),
    view.getUint32(OFFSET_RUN, LITTLE_ENDIAN),
    Number(view.getBigUint64(OFFSET_SEQ, LITTLE_ENDIAN)),
    view.getFloat64(OFFSET_TS, LITTLE_ENDIAN),
    new Float64Array(buffer, valuesOffset, count),
  );
}

/** Turns a JSON `data` message into a tick, its values in `fields` order (missing ones are NaN). */
export function tickFromMessage(message, fields) {
  const values = new Float64Array(fields.length);
  fields.forEach((field, index) => {
    values[index] = message.values[field] ?? NaN;
  });
  return makeTick(message.feed, message.run, message.seq, message.ts, values);
}

/** How many buckets make a window: a few more than a wide chart has pixel columns. */
export const BUCKETS_PER_WINDOW = 1200;
// Buckets kept past the window, so that a chart paused (or zoomed) a little while ago still has its data.
const WINDOW_HEADROOM = 1.25;

/**
 * A fixed-capacity ring of time buckets, stored column by column. Each bucket covers one `bucketSeconds` slice of
 * time (aligned to multiples of it) and holds, per column, the smallest, largest, last value and sum of the ticks
 * that fell in it, plus the times of its first and last tick. A window of any length is then drawn from at most
 * BUCKETS_PER_WINDOW buckets, as min/max per pixel column, however many ticks it covers. A bucket of no tick is a
 * gap (NaN values). Pushing onto a full ring overwrites the oldest bucket.
 */
export class BucketRing {
  constructor(columnCount, capacity, bucketSeconds) {
    this.capacity = capacity;
    this.bucketSeconds = bucketSeconds;
    this.xs = new Float64Array(capacity);
    this.xEnds = new Float64Array(capacity);
    this.counts = new Uint32Array(capacity);
    const columns = () => Array.from({ length: columnCount }, () => new Float64Array(capacity));
    this.mins = columns();
    this.maxs = columns();
    this.lasts = columns();
    this.sums = columns();
    // Per column and bucket, 1 when its maximum came after its minimum: the order a line visits them in.
    this.maxLater = Array.from({ length: columnCount }, () => new Uint8Array(capacity));
    // Per bucket, 1 for the gap before a new run's first tick.
    this.runStarts = new Uint8Array(capacity);
    this.start = 0;
    this.length = 0;
    this.ticks = 0; // ticks held in the buckets
  }

  /** The ring slot of the `index`th bucket, oldest first. */
  slot(index) {
    return (this.start + index) % this.capacity;
  }

  /** Adds a tick at `x`: into the newest bucket when it covers `x`, else into a new one. */
  add(x, values) {
    const newest = this.length === 0 ? -1 : this.slot(this.length - 1);
    const sameBucket =
      newest >= 0 &&
      this.counts[newest] > 0 &&
      Math.floor(x / this.bucketSeconds) === Math.floor(this.xs[newest] / this.bucketSeconds);
    if (!sameBucket) {
      this.#open(x, values, 1);
      return;
    }
    this.xEnds[newest] = x;
    this.counts[newest]++;
    this.ticks++;
    for (let column = 0; column < this.mins.length; column++) {
      const value = values[column];
      this.lasts[column][newest] = value;
      if (Number.isNaN(value)) {
        continue;
      }
      // A NaN minimum (the bucket's first ticks had no value) gives way to the first real value.
      const min = this.mins[column][newest];
      const max = this.maxs[column][newest];
      if (Number.isNaN(min)) {
        this.mins[column][newest] = value;
        this.maxs[column][newest] = value;
      } else if (value > max) {
        this.maxs[column][newest] = value;
        this.maxLater[column][newest] = 1;
      } else if (value < min) {
        this.mins[column][newest] = value;
        this.maxLater[column][newest] = 0;
      }
      this.sums[column][newest] = (Number.isNaN(this.sums[column][newest]) ? 0 : this.sums[column][newest]) + value;
    }
  }

  /** Adds a gap at `x`: a bucket of no tick, drawn as a break in the lines; `newRun` when a new run follows it. */
  addGap(x, gapRow, { newRun = false } = {}) {
    this.#open(x, gapRow, 0);
    this.runStarts[this.slot(this.length - 1)] = newRun ? 1 : 0;
  }

  #open(x, values, count) {
    let slot;
    if (this.length < this.capacity) {
      slot = this.slot(this.length);
      this.length++;
    } else {
      slot = this.start;
      this.ticks -= this.counts[slot];
      this.start = (this.start + 1) % this.capacity;
    }
    this.xs[slot] = x;
    this.xEnds[slot] = x;
    this.counts[slot] = count;
    this.runStarts[slot] = 0;
    this.ticks += count;
    for (let column = 0; column < this.mins.length; column++) {
      const value = values[column];
      this.mins[column][slot] = value;
      this.maxs[column][slot] = value;
      this.lasts[column][slot] = value;
      this.sums[column][slot] = value;
      this.maxLater[column][slot] = 1;
    }
  }

  /** A copy, which later ticks added to this ring do not touch. */
  clone() {
    const copy = new BucketRing(this.mins.length, this.capacity, this.bucketSeconds);
    copy.xs.set(this.xs);
    copy.xEnds.set(this.xEnds);
    copy.counts.set(this.counts);
    copy.runStarts.set(this.runStarts);
    for (const name of ["mins", "maxs", "lasts", "sums", "maxLater"]) {
      this[name].forEach((column, index) => copy[name][index].set(column));
    }
    copy.start = this.start;
    copy.length = this.length;
    copy.ticks = this.ticks;
    return copy;
  }

  clear() {
    this.start = 0;
    this.length = 0;
    this.ticks = 0;
  }

  /** The index of the first bucket whose last tick is at or after `x` (`length` when none is). */
  firstFrom(x) {
    let low = 0;
    let high = this.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.xEnds[this.slot(middle)] < x) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low;
  }

  /**
   * The buckets that draw the time range [from, to] (with one more on each side, so that lines run to the edges),
   * as [first, end) bucket indexes.
   */
  span(from, to) {
    const first = Math.max(0, this.firstFrom(from) - 1);
    const end = Math.min(this.length, this.firstFrom(to) + 1);
    return [first, Math.max(first, end)];
  }

  /**
   * Where the newest run within [from, to] began: the time of its first tick's gap when a new run started in the
   * range, else `from`. What measures from a start (a change, a sparkline, a total) of the run now shown starts here.
   */
  lastRunStart(from, to) {
    const first = this.firstFrom(from);
    for (let index = Math.min(this.length, this.firstFrom(to) + 1) - 1; index >= first; index--) {
      const slot = this.slot(index);
      if (this.runStarts[slot] === 1 && this.xs[slot] <= to) {
        return this.xs[slot];
      }
    }
    return from;
  }

  /** Each column's first value in [from, to]: where a "change over the window" starts. */
  firstValues(from, to, columnIndexes, out) {
    const first = this.firstFrom(from);
    const end = this.span(from, to)[1];
    columnIndexes.forEach((columnIndex, position) => {
      out[position] = NaN;
      for (let index = first; index < end; index++) {
        const value = this.lasts[columnIndex][this.slot(index)];
        if (!Number.isNaN(value)) {
          out[position] = value;
          break;
        }
      }
    });
    return out;
  }

  /**
   * Each column's last value in [from, to] (of the last bucket begun by `to`): where a chart of the range ends, the
   * quote table's figures while the view is paused.
   */
  lastValues(from, to, columnIndexes, out) {
    const first = this.firstFrom(from);
    const end = Math.min(this.length, this.firstFrom(to) + 1);
    columnIndexes.forEach((columnIndex, position) => {
      out[position] = NaN;
      for (let index = end - 1; index >= first; index--) {
        const slot = this.slot(index);
        const value = this.lasts[columnIndex][slot];
        if (this.xs[slot] <= to && !Number.isNaN(value)) {
          out[position] = value;
          break;
        }
      }
    });
    return out;
  }

  /**
   * Writes the buckets that draw [from, to] into `target` in uPlot's shape: `target[0]` the xs, `target[1 + i]`
   * the column `columnIndexes[i]`, NaN as null. A bucket of one tick gives one point; one of several gives two,
   * its minimum and its maximum in the order they came, at its first and its last tick's time, so the line spans
   * the range it covered.
   * With `bases`, values become percent changes from them, and after a new run's gap from that run's first value.
   * The target arrays are reused from call to call.
   */
  fillLines(target, columnIndexes, from, to, bases = null) {
    const [first, end] = this.span(from, to);
    const xs = target[0];
    let row = 0;
    for (let index = first; index < end; index++) {
      const slot = this.slot(index);
      xs[row++] = this.xs[slot];
      if (this.counts[slot] > 1) {
        xs[row++] = this.xEnds[slot];
      }
    }
    // Column by column: each inner loop walks a few typed arrays in order, the fast way through 50 series.
    for (let position = 0; position < columnIndexes.length; position++) {
      const out = target[position + 1];
      const lasts = this.lasts[columnIndexes[position]];
      const mins = this.mins[columnIndexes[position]];
      const maxs = this.maxs[columnIndexes[position]];
      const maxLater = this.maxLater[columnIndexes[position]];
      const percent = bases !== null;
      let base = percent ? bases[position] : NaN;
      let rebase = false; // past a new run's gap: its first value is the base from then on
      let outRow = 0;
      for (let index = first; index < end; index++) {
        const slot = this.slot(index);
        if (this.runStarts[slot] === 1) {
          rebase = percent;
        } else if (rebase && !Number.isNaN(lasts[slot])) {
          rebase = false;
          base = lasts[slot];
        }
        if (this.counts[slot] > 1) {
          const later = maxLater[slot] === 1;
          out[outRow++] = scaled(later ? mins[slot] : maxs[slot], base, percent);
          out[outRow++] = scaled(later ? maxs[slot] : mins[slot], base, percent);
        } else {
          out[outRow++] = scaled(lasts[slot], base, percent);
        }
      }
    }
    for (const column of target) {
      column.length = row;
    }
  }

  /**
   * Writes bars into `target` ([xs, sums]): the sum over `columnIndexes` of every bucket in [from, to], added up
   * per `barSeconds` (aligned to multiples of it), each bar at the middle of its slice. The first bar counts its
   * whole slice, the part before `from` included, so that it is not drawn short.
   */
  fillBars(target, columnIndexes, from, to, barSeconds) {
    const first = this.firstFrom(Math.floor(from / barSeconds) * barSeconds);
    const end = this.span(from, to)[1];
    const [xs, sums] = target;
    let row = -1;
    let bar = NaN;
    for (let index = first; index < end; index++) {
      const slot = this.slot(index);
      if (this.counts[slot] === 0) {
        continue;
      }
      const slice = Math.floor(this.xs[slot] / barSeconds);
      if (slice !== bar) {
        bar = slice;
        row++;
        xs[row] = (slice + 0.5) * barSeconds;
        sums[row] = 0;
      }
      for (const columnIndex of columnIndexes) {
        const value = this.sums[columnIndex][slot];
        if (!Number.isNaN(value)) {
          sums[row] += value;
        }
      }
    }
    xs.length = row + 1;
    sums.length = row + 1;
  }

  /** The sum of a column's values over [from, to]. */
  total(columnIndex, from, to) {
    let sum = 0;
    for (let index = this.firstFrom(from); index < this.length; index++) {
      const slot = this.slot(index);
      if (this.xs[slot] > to) {
        break;
      }
      const value = this.sums[columnIndex][slot];
      if (this.counts[slot] > 0 && !Number.isNaN(value)) {
        sum += value;
      }
    }
    return sum;
  }
}

/**
 * A stored value as uPlot takes it: null for a gap, else itself, or (`percent`) its percent change from `base`,
 * null when there is no base to change from.
 */
function scaled(value, base, percent) {
  if (Number.isNaN(value)) {
    return null;
  }
  if (!percent) {
    return value;
  }
  return Number.isNaN(base) || base === 0 ? null : ((value - base) / base) * PERCENT;
}

/** What `FeedHistory.append` did with a tick. */
export const Appended = Object.freeze({
  CONTINUED: "continued",
  AFTER_GAP: "after_gap",
  RESTARTED: "restarted",
  DUPLICATE: "duplicate",
});

/**
 * One feed's ticks over a window (and a little more), in buckets, plus what is needed to tell a continuous stream
 * from a broken one: the last (run, seq), compared as a pair because seq starts again at 1 in every run.
 */
export class FeedHistory {
  constructor(fieldCount, windowSeconds, { buckets = BUCKETS_PER_WINDOW } = {}) {
    this.windowSeconds = windowSeconds;
    this.ring = new BucketRing(fieldCount, Math.ceil(buckets * WINDOW_HEADROOM), windowSeconds / buckets);
    this.gapRow = new Float64Array(fieldCount).fill(NaN);
    this.latest = new Float64Array(fieldCount).fill(NaN);
    this.lastRun = null;
    this.lastSeq = 0;
    this.lastTs = -Infinity;
    this.gaps = 0; // gap points stored so far: missed stretches the server could not fill
    this.firstSeq = null; // the seq of the first tick stored
  }

  /**
   * An empty store for a view paused on [from, to] before it had any tick (a link to a past range): as fine as
   * the window's, coarser when the range is longer than the window, so that it holds the range whatever its length.
   */
  static forRange(fieldCount, windowSeconds, [from, to]) {
    return new FeedHistory(fieldCount, Math.max(windowSeconds, to - from));
  }

  /** A copy, which later ticks appended to this history do not touch: what a paused view goes on drawing. */
  clone() {
    const copy = new FeedHistory(this.latest.length, this.windowSeconds, { buckets: 1 });
    copy.ring = this.ring.clone();
    copy.latest.set(this.latest);
    copy.lastRun = this.lastRun;
    copy.lastSeq = this.lastSeq;
    copy.lastTs = this.lastTs;
    copy.gaps = this.gaps;
    copy.firstSeq = this.firstSeq;
    return copy;
  }

  /** The time of the oldest tick held (Infinity when none is). */
  get firstTs() {
    return this.ring.length === 0 ? Infinity : this.ring.xs[this.ring.slot(0)];
  }

  /** How many ticks the history holds. */
  get length() {
    return this.ring.ticks;
  }

  append(tick) {
    const sameRun = tick.run === this.lastRun;
    if (sameRun && tick.seq <= this.lastSeq) {
      return Appended.DUPLICATE;
    }
    let outcome = Appended.CONTINUED;
    if (tick.ts <= this.lastTs) {
      // uPlot needs ascending x: a clock that went back starts the chart over rather than folding it onto itself.
      this.ring.clear();
      this.firstSeq = null;
      outcome = Appended.RESTARTED;
    } else if (this.lastRun !== null && (!sameRun || tick.seq !== this.lastSeq + 1)) {
      this.ring.addGap((this.lastTs + tick.ts) / 2, this.gapRow, { newRun: !sameRun });
      this.gaps++;
      outcome = Appended.AFTER_GAP;
    }
    this.ring.add(tick.ts, tick.values);
    this.firstSeq ??= tick.seq;
    this.latest.set(tick.values);
    this.lastRun = tick.run;
    this.lastSeq = tick.seq;
    this.lastTs = tick.ts;
    return outcome;
  }
}

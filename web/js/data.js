/**
 * Tick decoding and bounded, columnar storage of a feed's recent ticks.
 *
 * A binary frame (docs/protocol.md, "Binary data frames") is read with one DataView for the header and one
 * Float64Array view for the values, without copying. Ticks are kept in a fixed-capacity ring of Float64Arrays, one
 * column per field plus one for the time, so memory stays flat however long the page runs. A missed stretch (a new
 * run or a jump in seq) is stored as a gap point whose values are NaN; uPlot draws nulls as gaps, so the ring hands
 * its columns to charts with NaN turned into null.
 */

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

/** The fewest points a feed keeps, so a slow feed still shows a line. */
export const MIN_CAPACITY = 64;
/** The most points a feed keeps, whatever its interval: a fast feed shows less than the window instead. */
export const MAX_CAPACITY = 4096;
// Room for ticks that arrive faster than the nominal interval and for gap points.
const CAPACITY_HEADROOM = 1.25;

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

/** How many points a feed keeps to cover `windowSeconds` at one tick per `intervalSeconds`, within the caps. */
export function capacityFor(windowSeconds, intervalSeconds) {
  if (!(intervalSeconds > 0)) {
    return MAX_CAPACITY;
  }
  const points = Math.ceil((windowSeconds / intervalSeconds) * CAPACITY_HEADROOM);
  return Math.min(MAX_CAPACITY, Math.max(MIN_CAPACITY, points));
}

/**
 * A fixed-capacity ring of rows (x, value per column), stored column by column. Pushing onto a full ring
 * overwrites the oldest row.
 */
export class ColumnarRing {
  constructor(columnCount, capacity) {
    this.capacity = capacity;
    this.xs = new Float64Array(capacity);
    this.columns = Array.from({ length: columnCount }, () => new Float64Array(capacity));
    this.start = 0;
    this.length = 0;
  }

  /** Appends a row; `values` is indexable by column (NaN marks a gap). */
  push(x, values) {
    const slot = (this.start + this.length) % this.capacity;
    this.xs[slot] = x;
    for (let column = 0; column < this.columns.length; column++) {
      this.columns[column][slot] = values[column];
    }
    if (this.length < this.capacity) {
      this.length++;
    } else {
      this.start = (this.start + 1) % this.capacity;
    }
  }

  clear() {
    this.start = 0;
    this.length = 0;
  }

  /**
   * Writes the rows, oldest first, into `target` in uPlot's shape: `target[0]` the xs, `target[1 + i]` the column
   * `columnIndexes[i]`, NaN as null. The target arrays are reused from call to call and never exceed the capacity.
   */
  copyInto(target, columnIndexes) {
    const xs = target[0];
    xs.length = this.length;
    for (let row = 0; row < this.length; row++) {
      xs[row] = this.xs[(this.start + row) % this.capacity];
    }
    columnIndexes.forEach((columnIndex, position) => {
      const source = this.columns[columnIndex];
      const out = target[position + 1];
      out.length = this.length;
      for (let row = 0; row < this.length; row++) {
        const value = source[(this.start + row) % this.capacity];
        out[row] = Number.isNaN(value) ? null : value;
      }
    });
  }
}

/** What `FeedHistory.append` did with a tick. */
export const Appended = Object.freeze({
  CONTINUED: "continued",
  AFTER_GAP: "after_gap",
  RESTARTED: "restarted",
  DUPLICATE: "duplicate",
});

/**
 * One feed's recent ticks plus what is needed to tell a continuous stream from a broken one: the last (run, seq),
 * compared as a pair because seq starts again at 1 in every run.
 */
export class FeedHistory {
  constructor(fieldCount, capacity) {
    this.ring = new ColumnarRing(fieldCount, capacity);
    this.gapRow = new Float64Array(fieldCount).fill(NaN);
    this.latest = new Float64Array(fieldCount).fill(NaN);
    this.lastRun = null;
    this.lastSeq = 0;
    this.lastTs = -Infinity;
    this.gaps = 0; // gap points stored so far: missed stretches the server could not fill
    this.firstSeq = null; // the seq of the first tick stored (the oldest, until the ring wraps)
  }

  get length() {
    return this.ring.length;
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
      this.ring.push((this.lastTs + tick.ts) / 2, this.gapRow);
      this.gaps++;
      outcome = Appended.AFTER_GAP;
    }
    this.ring.push(tick.ts, tick.values);
    this.firstSeq ??= tick.seq;
    this.latest.set(tick.values);
    this.lastRun = tick.run;
    this.lastSeq = tick.seq;
    this.lastTs = tick.ts;
    return outcome;
  }
}

/**
 * The spans when the page was disconnected, which every chart shades. They are kept in the server's time: an outage
 * runs from the newest tick the page had before the close, for as long as the page was away (the page's own clock
 * measures how long; it cannot know the server's time while it cannot ask). Spans too old for any window to show are
 * forgotten, and past MAX_OUTAGES the oldest are too, so the list stays small however often the connection drops.
 */

// Disconnected spans past this many are forgotten, oldest first.
export const MAX_OUTAGES = 64;

export class Outages {
  #keepSeconds;
  #max;
  #spans = []; // [from, to] in the server's seconds, oldest first
  #ongoing = null; // the one going on: { span, closedAt }, closedAt in the server's seconds too

  /** Spans that ended more than `keepSeconds` before the newest one are forgotten (the longest window). */
  constructor({ keepSeconds, max = MAX_OUTAGES }) {
    this.#keepSeconds = keepSeconds;
    this.#max = max;
  }

  /** The spans, [from, to] in seconds, oldest first: the one going on (if any) last, up to now. */
  get spans() {
    return this.#spans;
  }

  /** The end of the outage going on (up to the last `update`), or null when the page is connected. */
  get ongoingEnd() {
    return this.#ongoing?.span[1] ?? null;
  }

  /** The connection closed at `now`; the newest tick the page had was at `from` (both in the server's seconds). */
  begin(from, now) {
    if (this.#ongoing !== null) {
      return;
    }
    this.#ongoing = { span: [from, from], closedAt: now };
    this.#spans.push(this.#ongoing.span);
    if (this.#spans.length > this.#max) {
      this.#spans.shift();
    }
  }

  /** Stretches the outage going on, if any, up to `now`. */
  update(now) {
    if (this.#ongoing !== null) {
      this.#ongoing.span[1] = this.#ongoing.span[0] + (now - this.#ongoing.closedAt);
    }
  }

  /** The connection is back at `now`: ends the outage going on. Returns whether there was one. */
  end(now) {
    if (this.#ongoing === null) {
      return false;
    }
    this.update(now);
    this.#ongoing = null;
    const newest = this.#spans.at(-1)[1];
    this.#spans = this.#spans.filter(([, to]) => to >= newest - this.#keepSeconds);
    return true;
  }
}

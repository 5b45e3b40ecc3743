/**
 * The server's clock, the one that stamps the ticks, as far as the page can tell: the page's own clock plus an
 * offset. Each pong carries the server's time; the offset is taken from the pong of the shortest round trip among
 * the last few (its midpoint is the surest), so that a slow reply now and then does not move it. A freshness that
 * subtracted a tick's `ts` from the page's own clock would be off by however far the two clocks disagree.
 */

import { MILLISECONDS_PER_SECOND } from "./units.js";

const CLOCK_SAMPLES = 8;

export class ServerClock {
  #wallNow;
  #samples = []; // {roundTrip, offset} of the latest pongs, in ms
  #offsetMs = 0;
  #known = false;

  /** `wallNow()` is the page's clock in milliseconds (Date.now). */
  constructor({ wallNow = () => Date.now() } = {}) {
    this.#wallNow = wallNow;
  }

  /** Whether a pong has told the server's time yet: until then `nowMs` is only the page's own clock. */
  get known() {
    return this.#known;
  }

  /** Milliseconds to add to the page's clock to read the server's: 0 until the first pong. */
  get offsetMs() {
    return this.#offsetMs;
  }

  /** Now on the server's clock, in milliseconds. */
  nowMs() {
    return this.#wallNow() + this.#offsetMs;
  }

  /** Now on the server's clock, in seconds (as the ticks' `ts`). */
  now() {
    return this.nowMs() / MILLISECONDS_PER_SECOND;
  }

  /**
   * A pong that says the server's time `ts` (seconds), answering a ping sent at `sentAtMs` on the page's clock that
   * took `roundTripMs` (on the monotonic clock) to come back: one more sample of how far the page's clock is off.
   */
  sample(ts, sentAtMs, roundTripMs) {
    if (typeof ts !== "number" || !Number.isFinite(ts)) {
      return; // a server from before pongs told the time
    }
    const offset = ts * MILLISECONDS_PER_SECOND - (sentAtMs + roundTripMs / 2);
    this.#samples.push({ roundTrip: roundTripMs, offset });
    if (this.#samples.length > CLOCK_SAMPLES) {
      this.#samples.shift();
    }
    const surest = this.#samples.reduce((best, sample) => (sample.roundTrip < best.roundTrip ? sample : best));
    this.#offsetMs = surest.offset;
    this.#known = true;
  }

  /**
   * A new connection may be to another server, or come after the page's clock stepped (a laptop waking): its pongs
   * set the offset afresh. Until the first, the last offset stands.
   */
  restart() {
    this.#samples = [];
  }
}

/**
 * When the page draws: at most once per animation frame, and new ticks at most every DATA_FRAME_MS, all panels'
 * together. The scheduler keeps what is owed (panels with new ticks, panels resized, a redraw of everything, a
 * catch-up of panels left behind by the moving range) and, in each frame it asks for, tells the page's draw function
 * what each panel draws; the page decides how. Nothing is drawn while it is held (a drag selects a range across the
 * charts). No DOM: `requestAnimationFrame` and the monotonic clock are injected, so tests can drive them.
 */

// New ticks are drawn at most this often (20 frames a second): the panels whose ticks came in between draw together,
// so that a frame's fixed cost (its commit to the compositor, the layers it updates) is paid once for all of them. A
// tick waits at most that long for its frame. A frame of the display may come a little early, hence the slack (at
// 60 Hz, every third frame draws).
export const DATA_FRAME_MS = 50;
const FRAME_SLACK_MS = 5;

/** What a panel draws in a frame: nothing, its new ticks, or everything (charts and readouts). */
export const Draw = Object.freeze({
  NONE: "none",
  DATA: "data",
  FULL: "full",
});

export class FrameScheduler {
  #draw;
  #requestAnimationFrame;
  #now;
  #catchUpMs;
  #requested = false;
  #held = false;
  #everything = false;
  #catchUp = false;
  #dirty = new Set(); // panels with ticks not drawn yet
  #resized = new Set(); // panels to resize, and draw in full
  #lastDataFrame = -Infinity; // now() of the last frame that drew a panel

  /**
   * `draw(frame)` draws one frame (see Frame). `catchUpMs` is how often the page asks for `catchUp()`. Panels are
   * any objects with a `drawnAt`: the `now()` when their charts last drew.
   */
  constructor(
    draw,
    {
      catchUpMs,
      requestAnimationFrame = (callback) => globalThis.requestAnimationFrame(callback),
      now = () => performance.now(),
    },
  ) {
    this.#draw = draw;
    this.#catchUpMs = catchUpMs;
    this.#requestAnimationFrame = requestAnimationFrame;
    this.#now = now;
  }

  /** `panel` has new ticks: drawn at the next data frame. */
  dataChanged(panel) {
    this.#dirty.add(panel);
    this.request();
  }

  /** `panel` changed size (or came into view): resized and drawn in full at the next frame. */
  resized(panel) {
    this.#resized.add(panel);
    this.request();
  }

  /** Every shown panel draws again at the next frame (the view changed, not the data). */
  redraw() {
    this.#everything = true;
    this.request();
  }

  /**
   * Panels that have not drawn for a while draw at the next frame. A panel draws when its own ticks come; the others
   * catch up with the moving range here, so that a 20 Hz feed costs its own panel 20 draws a second, not every panel
   * on the page, and a silent feed's line visibly stops short of the edge.
   */
  catchUp() {
    this.#catchUp = true;
    this.request();
  }

  /** `panel` is gone: nothing is owed to it. */
  forget(panel) {
    this.#dirty.delete(panel);
    this.#resized.delete(panel);
  }

  /** Draws nothing until `release()` (the ticks go on being stored). */
  hold() {
    this.#held = true;
  }

  /** Ends a `hold()`: everything draws again. */
  release() {
    if (this.#held) {
      this.#held = false;
      this.redraw();
    }
  }

  request() {
    if (!this.#requested) {
      this.#requested = true;
      this.#requestAnimationFrame(() => this.#frame());
    }
  }

  #frame() {
    this.#requested = false;
    if (this.#held) {
      return; // drawn again on release
    }
    const frame = new Frame({
      now: this.#now(),
      lastDataFrame: this.#lastDataFrame,
      everything: this.#everything,
      // A panel that drew within the last catch-up period, less a data frame, has moved with the range already.
      behindMs: this.#catchUp ? this.#catchUpMs - DATA_FRAME_MS : null,
      dirty: this.#dirty,
      resized: this.#resized,
    });
    this.#draw(frame);
    if (frame.drew) {
      this.#lastDataFrame = frame.now;
    }
    this.#resized.clear();
    this.#everything = false;
    this.#catchUp = false;
    if (this.#dirty.size > 0) {
      this.request(); // their ticks wait for the next data frame
    }
  }
}

/** One animation frame, as the page's draw function sees it. */
export class Frame {
  #dataDue;
  #behindMs;
  #dirty;

  constructor({ now, lastDataFrame, everything, behindMs, dirty, resized }) {
    /** The monotonic clock at the start of the frame. */
    this.now = now;
    /** The panels to resize before anything draws. */
    this.resized = resized;
    this.everything = everything;
    this.drew = false;
    this.#dataDue = now - lastDataFrame >= DATA_FRAME_MS - FRAME_SLACK_MS;
    this.#behindMs = behindMs; // null: no catch-up in this frame
    this.#dirty = dirty;
  }

  /** Every shown panel draws in full (the view changed as this frame began: a paused range moved). */
  drawAll() {
    this.everything = true;
  }

  /** What `panel`, shown on screen, draws in this frame; a panel that draws has nothing more owed. */
  drawOf(panel) {
    const behind = this.#behindMs !== null && this.now - panel.drawnAt >= this.#behindMs;
    let draw = Draw.NONE;
    if (this.everything || behind || this.resized.has(panel)) {
      draw = Draw.FULL;
    } else if (this.#dirty.has(panel) && this.#dataDue) {
      draw = Draw.DATA;
    }
    if (draw !== Draw.NONE) {
      this.#dirty.delete(panel);
      this.drew = true;
    }
    return draw;
  }

  /** `panel` is not drawn in this frame (hidden, or scrolled away): its new ticks wait for no frame. */
  skip(panel) {
    this.#dirty.delete(panel);
  }
}

/**
 * The grid of panels: which panel shows which feed, in the server's order, and which of them are on screen.
 *
 * It keeps the panels by feed name, mounts and destroys them, and watches their size and whether they are in view
 * (panels scrolled out of sight store their ticks but do not draw; they draw as they come into view). What a panel
 * is made of, and what must forget a panel when it goes, the page's wiring says (`create`, `removed`).
 */

// Panels this close to the viewport count as in view, so that scrolling finds them drawn.
const OFFSCREEN_MARGIN = "200px";

export class PanelGrid {
  #element;
  #panels = new Map();
  #byChartsElement = new WeakMap();
  #byElement = new WeakMap();
  #onScreen = new WeakSet();
  #resizeObserver;
  #visibilityObserver;
  #create;
  #removed;
  #changed;

  /**
   * `create(feed)` builds a feed's panel; `removed(panel)` is told of a panel taken out; `changed(panel)` of a
   * panel whose size changed or that came into view (it must be drawn in full), then `changed()` once a batch is in.
   */
  constructor(element, { create, removed, changed }) {
    this.#element = element;
    this.#create = create;
    this.#removed = removed;
    this.#changed = changed;
    this.#resizeObserver = new ResizeObserver((entries) => this.#onResize(entries));
    this.#visibilityObserver = new IntersectionObserver((entries) => this.#onVisibility(entries), {
      rootMargin: OFFSCREEN_MARGIN,
    });
  }

  get(name) {
    return this.#panels.get(name);
  }

  get size() {
    return this.#panels.size;
  }

  names() {
    return this.#panels.keys();
  }

  /** The panels, in the server's order. */
  values() {
    return this.#panels.values();
  }

  isOnScreen(panel) {
    return this.#onScreen.has(panel);
  }

  /**
   * Makes the panels match `feeds`: keeps unchanged ones (and their history), rebuilds those whose description
   * changed (`signature(feed)` differs from the panel's), adds new ones, removes the others.
   */
  sync(feeds, signature) {
    const wanted = new Set(feeds.map((feed) => feed.name));
    for (const [name, panel] of this.#panels) {
      if (!wanted.has(name)) {
        this.remove(panel);
      }
    }
    for (const feed of feeds) {
      let panel = this.#panels.get(feed.name);
      if (panel !== undefined && panel.signature !== signature(feed)) {
        this.remove(panel);
        panel = undefined;
      }
      if (panel === undefined) {
        this.#add(feed);
      } else {
        panel.describe(feed);
        // Appending an existing node moves it, so the page follows the server's order.
        this.#element.append(panel.element);
      }
    }
  }

  #add(feed) {
    const panel = this.#create(feed, this.#element);
    this.#panels.set(feed.name, panel);
    this.#byChartsElement.set(panel.chartsElement, panel);
    this.#byElement.set(panel.element, panel);
    this.#resizeObserver.observe(panel.chartsElement);
    this.#visibilityObserver.observe(panel.element);
  }

  remove(panel) {
    this.#removed(panel);
    this.#resizeObserver.unobserve(panel.chartsElement);
    this.#visibilityObserver.unobserve(panel.element);
    this.#panels.delete(panel.name);
    panel.destroy();
  }

  #onResize(entries) {
    // Resizing a chart inside the observer's callback would resize what it observes again: the wiring defers it.
    for (const entry of entries) {
      const panel = this.#byChartsElement.get(entry.target);
      if (panel !== undefined) {
        this.#changed(panel);
      }
    }
    this.#changed();
  }

  #onVisibility(entries) {
    for (const entry of entries) {
      const panel = this.#byElement.get(entry.target);
      if (panel === undefined) {
        continue;
      }
      if (entry.isIntersecting) {
        this.#onScreen.add(panel);
        this.#changed(panel); // drawn in full at the next frame
      } else {
        this.#onScreen.delete(panel);
      }
    }
    this.#changed();
  }
}

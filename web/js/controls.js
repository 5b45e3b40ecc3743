/**
 * The controls in the page's top bar: the time windows, Live (and Escape, which does the same while paused), what
 * the view shows, the feed toggles and the theme. They show the view and the theme (`render`) and pass the reader's
 * choices on to the dashboard; they change nothing themselves.
 */

import { formatMoment } from "./format.js";
import { element } from "./dom.js";
import { describeFeedName, feedNameNodes, splitFeedName } from "./feedname.js";
import { MILLISECONDS_PER_SECOND } from "./units.js";
import { WINDOWS } from "./view.js";

const nowSeconds = () => Date.now() / MILLISECONDS_PER_SECOND;

export class Controls {
  #elements;
  #handlers;
  #windowButtons;
  #paused = false;

  /**
   * `elements` are the containers in index.html: `windows`, `live`, `viewState`, `feedToggles`, `themes` (with a
   * button per theme choice). `handlers`: `window(choice)` (one of WINDOWS), `live()`, `theme(choice)`, `feed(name)`.
   */
  constructor(elements, handlers) {
    this.#elements = elements;
    this.#handlers = handlers;
    const { windows, live, themes } = elements;
    this.#windowButtons = WINDOWS.map((each) => {
      const button = element("button", {
        type: "button",
        class: "button",
        text: each.label,
        dataset: { window: each.key },
      });
      button.addEventListener("click", () => handlers.window(each));
      return button;
    });
    windows.append(...this.#windowButtons);
    live.addEventListener("click", () => handlers.live());
    live.ownerDocument.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.#paused) {
        handlers.live();
      }
    });
    for (const button of themes.querySelectorAll("button")) {
      button.addEventListener("click", () => handlers.theme(button.dataset.choice));
    }
  }

  /** Shows `view` (a View) and the theme `themeChoice` as the state of the controls. */
  render(view, themeChoice) {
    const { live, viewState, themes, feedToggles } = this.#elements;
    this.#paused = view.paused;
    for (const button of this.#windowButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.window === view.window.key));
    }
    live.setAttribute("aria-pressed", String(!view.paused));
    // aria-disabled rather than disabled: a focused Live button keeps the focus once pressed.
    live.setAttribute("aria-disabled", String(!view.paused));
    viewState.dataset.paused = String(view.paused);
    viewState.textContent = view.paused
      ? `Paused: ${formatMoment(view.range[0], nowSeconds())} – ${formatMoment(view.range[1], nowSeconds())} (Esc for live)`
      : `last ${view.window.label}`;
    for (const button of themes.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.choice === themeChoice));
    }
    for (const button of feedToggles.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(view.isShown(button.dataset.feed)));
    }
  }

  /**
   * A toggle per feed, in the server's order. Returns whether they changed (then they need a `render`); unchanged,
   * they are not rebuilt, which would take the keyboard focus away from a toggle.
   */
  setFeeds(names) {
    const { feedToggles } = this.#elements;
    const key = names.join(",");
    if (feedToggles.dataset.feeds === key) {
      return false;
    }
    feedToggles.dataset.feeds = key;
    feedToggles.replaceChildren(
      ...names.map((name) => {
        const button = element(
          "button",
          { type: "button", class: "button", dataset: { feed: name } },
          ...feedNameNodes(name),
        );
        if (splitFeedName(name).host !== null) {
          // Read whole: the feed and its host are two pieces of text with no space between them.
          button.setAttribute("aria-label", describeFeedName(name));
        }
        button.addEventListener("click", () => this.#handlers.feed(name));
        return button;
      }),
    );
    return true;
  }
}

/**
 * Light and dark: the page follows the system's `prefers-color-scheme` until its reader picks one, and remembers
 * the pick. The colours themselves live in style.css, under `:root[data-theme=…]`; this module only decides which
 * applies and tells the charts (which read their colours from the stylesheet) when it changes. theme-boot.js makes
 * the same decision before the first paint: keep the two in step.
 */

export const ThemeChoice = Object.freeze({ AUTO: "auto", LIGHT: "light", DARK: "dark" });

const STORAGE_KEY = "dashboard.theme";
const PREFERS_LIGHT = "(prefers-color-scheme: light)";

export class Theme {
  #storage;
  #media;
  #onChange;

  constructor(root, storage, matchMedia, onChange) {
    this.root = root;
    this.#storage = storage;
    this.#media = matchMedia(PREFERS_LIGHT);
    this.#onChange = onChange;
    const stored = storage.getItem(STORAGE_KEY);
    this.choice = Object.values(ThemeChoice).includes(stored) ? stored : ThemeChoice.AUTO;
    this.#media.addEventListener("change", () => this.#apply());
    this.#apply(false);
  }

  /** The theme in force: `light` or `dark`. */
  get resolved() {
    if (this.choice !== ThemeChoice.AUTO) {
      return this.choice;
    }
    return this.#media.matches ? ThemeChoice.LIGHT : ThemeChoice.DARK;
  }

  choose(choice) {
    this.choice = choice;
    if (choice === ThemeChoice.AUTO) {
      this.#storage.removeItem(STORAGE_KEY);
    } else {
      this.#storage.setItem(STORAGE_KEY, choice);
    }
    this.#apply();
  }

  #apply(notify = true) {
    const resolved = this.resolved;
    const changed = this.root.dataset.theme !== resolved;
    this.root.dataset.theme = resolved;
    this.root.dataset.themeChoice = this.choice;
    if (notify && changed) {
      this.#onChange(resolved);
    }
  }
}

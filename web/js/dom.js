/** Small DOM helpers shared by the page's modules. */

/**
 * Builds an element: `attributes` go through setAttribute, except `dataset`, `text` and `style` (an object of
 * properties, set through the CSSOM: the page's Content-Security-Policy refuses style attributes).
 */
export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") {
      node.textContent = value;
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "style") {
      for (const [property, propertyValue] of Object.entries(value)) {
        node.style.setProperty(property, propertyValue);
      }
    } else {
      node.setAttribute(name, value);
    }
  }
  node.append(...children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Builds an SVG element (a legend's marker, a sparkline): every attribute goes through setAttribute. */
export function svgElement(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, String(value));
  }
  node.append(...children);
  return node;
}

/** Shows `text` in a message element (a notice, an error, a health line), or hides it when `text` is null. */
export function showMessage(messageElement, text) {
  messageElement.textContent = text ?? "";
  messageElement.hidden = text === null;
}

/** Sets a text node's content only when it changes: most redraws change few of a panel's many numbers. */
export function setText(node, text) {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

/**
 * A Storage (localStorage, sessionStorage) that forgets instead of throwing: a browser in a privacy mode may
 * refuse storage, and the page must work without remembering.
 */
export function forgivingStorage(getStorage) {
  const attempt = (action, fallback = null) => {
    try {
      return action(getStorage());
    } catch {
      return fallback;
    }
  };
  return {
    getItem: (key) => attempt((storage) => storage.getItem(key)),
    setItem: (key, value) => attempt((storage) => storage.setItem(key, value)),
    removeItem: (key) => attempt((storage) => storage.removeItem(key)),
  };
}

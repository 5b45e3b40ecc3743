/**
 * The page's access token, when the server asks for one (docs/security.md).
 *
 * It is taken from the page's own URL (`/?token=...`) and removed from the address bar at once, so that it is not
 * bookmarked, shared or left on screen; it is kept in the tab's session storage, so that a reload still has it
 * (another tab, or this one once closed, does not). The socket passes it as `?token=` (a browser cannot set headers
 * on a WebSocket), fetches as an `Authorization: Bearer` header.
 */

const STORAGE_KEY = "dashboard.token";
const PARAMETER = "token";

/** The token of this page: from its URL (which loses it), else from the tab's storage; null when there is none. */
export function takeToken(location, history, storage) {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get(PARAMETER);
  if (fromUrl !== null) {
    url.searchParams.delete(PARAMETER);
    history.replaceState(history.state, "", `${url.pathname}${url.search}${url.hash}`);
    remember(storage, fromUrl || null);
  }
  try {
    return storage.getItem(STORAGE_KEY);
  } catch {
    return fromUrl || null; // storage refused (a privacy mode): this page view still has it
  }
}

function remember(storage, token) {
  try {
    if (token === null) {
      storage.removeItem(STORAGE_KEY);
    } else {
      storage.setItem(STORAGE_KEY, token);
    }
  } catch {
    // Storage refused: a reload will need the link again, nothing worse.
  }
}

/** `url` with the token as its `token` query parameter, or as it is without one. */
export function withToken(url, token) {
  if (token === null) {
    return url;
  }
  const separator = url.includes("?") ? "&" : "?";
  return `${url}${separator}${PARAMETER}=${encodeURIComponent(token)}`;
}

/** The headers that carry the token on a fetch. */
export function authHeaders(token) {
  return token === null ? {} : { Authorization: `Bearer ${token}` };
}

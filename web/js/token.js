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

/**
 * The `exp` claim of a JSON Web Token, in Unix seconds, read without checking its signature (only the server can):
 * null when the token has none or is no JWT.
 */
export function expiryOf(token) {
  const payload = token.split(".")[1];
  if (payload === undefined) {
    return null;
  }
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const exp = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="))).exp;
    return Number.isFinite(exp) ? exp : null;
  } catch {
    return null; // not base64 or not JSON: a token cut short, mistyped
  }
}

/**
 * Why the server refuses this page's token, as far as the page can tell: `none` (the page has no token), `expired`
 * (its `exp` is past at `nowSeconds`, the server's time; `expiredAt` in Unix seconds), else `refused` (signed with
 * another secret, cut short, mistyped).
 */
export function refusalOf(token, nowSeconds) {
  if (token === null) {
    return { reason: "none" };
  }
  const expiredAt = expiryOf(token);
  if (expiredAt !== null && expiredAt <= nowSeconds) {
    return { reason: "expired", expiredAt };
  }
  return { reason: "refused" };
}

/** What the page says when it is signed out for `refusal` (from `refusalOf`). */
export function refusalText(refusal) {
  switch (refusal.reason) {
    case "none":
      return "This dashboard needs an access token, and this page was opened without one: open it with the link you were given (…/?token=…).";
    case "expired": {
      const when =
        refusal.expiredAt === null || refusal.expiredAt === undefined
          ? ""
          : ` at ${new Date(refusal.expiredAt * 1000).toLocaleString()}`;
      return `Your access token expired${when}: opening the same link again will not help, ask for a new one.`;
    }
    case "refused":
      return "The server does not accept this page's access token (cut short, mistyped, or made for another server): open the dashboard with the exact link you were given, or ask for a new one.";
    default:
      throw new Error(`unknown refusal ${refusal.reason}`);
  }
}

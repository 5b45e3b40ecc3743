/**
 * What a panel's badge and banner, and the page's connection badge, say: the connection's state on this page and
 * the feed's health as the server reports it (`status` in docs/protocol.md), brought together in one word.
 *
 * The two are apart on purpose. The connection can be up while a feed sends nothing: its sample fails (`failing`),
 * or, in a cluster, no server produces it (`stale`: its leader stopped and none has taken over yet, or this server
 * lost its broker). Then the feed's panel says so, and the page's badge, which is the connection's, stays live.
 */

export const State = Object.freeze({
  CONNECTING: "connecting",
  LIVE: "live",
  // Connected and subscribed, but the feed sends nothing: silent for several of its intervals, or stale by the
  // server's word.
  STALE: "stale",
  RECONNECTING: "reconnecting",
  // Connected and subscribed, but the feed itself fails: no data is coming, and the badge says so.
  FAILING: "failing",
  // The server refused the page's token, or it expired: no reconnecting until the page is opened again.
  SIGNED_OUT: "signed-out",
  // Connected, but the feed has not produced its first sample: its fields are unknown, so it cannot be subscribed yet.
  WAITING: "waiting",
});

// A feed's own health, apart from the connection: see `status` in docs/protocol.md.
export const Health = Object.freeze({
  STARTING: "starting",
  OK: "ok",
  FAILING: "failing",
  // In a cluster: no server produces the feed now; `error` says why.
  STALE: "stale",
});

// "Live" names the view that follows the newest ticks (the top bar's Live button); the connection, and a feed whose
// ticks come on it, are "Connected", so that a paused view never reads "Live" but on the button that returns to it.
export const STATE_LABELS = Object.freeze({
  [State.CONNECTING]: "Connecting…",
  [State.LIVE]: "Connected",
  [State.STALE]: "Stale",
  [State.RECONNECTING]: "Reconnecting…",
  [State.FAILING]: "Feed failing",
  [State.SIGNED_OUT]: "Not signed in",
  [State.WAITING]: "Waiting for first sample",
});

// The feed's health a subscribed panel shows instead of its connection state: the server's word on why no tick comes.
const SHOWN_HEALTH = Object.freeze({ [Health.FAILING]: State.FAILING, [Health.STALE]: State.STALE });

/**
 * The state a panel shows: its connection `state`, unless the feed is `subscribed` (or waiting for its first sample,
 * its health fresh from the feed list the wait fetches) and its `health` says why no ticks come (failing, stale). A
 * health is only the feed's news on a subscription: before one, or while reconnecting, it may be old.
 */
export function shownState(state, health, subscribed) {
  return ((subscribed || state === State.WAITING) && SHOWN_HEALTH[health]) || state;
}

/**
 * The banner under a panel's title for a feed's `health`, or null for none: the server's reason while it fails or
 * is stale, and a word while a feed without declared fields waits for its first sample (`hasFields` false).
 */
export function healthNotice(health, error, hasFields) {
  switch (health) {
    case Health.FAILING:
      return `Feed failing: ${error}`;
    case Health.STALE:
      return `Feed stale: ${error}`;
    case Health.STARTING:
      return hasFields ? null : "Waiting for the feed's first sample…";
    default:
      return null;
  }
}

/**
 * Whether a panel shows that the connection works: ticks came on it (live, or stale since), or, subscribed, its
 * feed's health says why none come. The page's badge is live while the connection is open and any panel is.
 */
export function isConnectedPanel(state, health, subscribed) {
  if (state === State.LIVE || state === State.STALE || state === State.WAITING) {
    return true;
  }
  return subscribed && SHOWN_HEALTH[health] !== undefined;
}

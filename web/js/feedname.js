/**
 * A feed's name as the page shows it. In a cluster, a feed that measures the machine it runs on is published once
 * per machine as `NAME@NODE` (`system@node-1.example`): its panel and its toggle show the feed's name with the host
 * beside it, so that two hosts' panels are told apart at a glance. The full name stays the feed's key everywhere
 * else (the protocol, the URL, `data-feed`).
 */

import { element } from "./dom.js";

const HOST_SEPARATOR = "@";

/**
 * `{ feed, host }` for a feed name: `host` is the part after `@`, or null for a feed that is not per host. Feed
 * names never hold an `@` of their own, nor node names, so the first one splits.
 */
export function splitFeedName(name) {
  const at = name.indexOf(HOST_SEPARATOR);
  if (at <= 0 || at === name.length - 1) {
    return { feed: name, host: null };
  }
  return { feed: name.slice(0, at), host: name.slice(at + 1) };
}

/** The feed's name for a screen reader: "system feed on node-1.example", or "stocks feed". */
export function describeFeedName(name) {
  const { feed, host } = splitFeedName(name);
  return host === null ? `${feed} feed` : `${feed} feed on ${host}`;
}

/** The feed's name as nodes to show: the feed, then its host (if any) in a span of its own. */
export function feedNameNodes(name) {
  const { feed, host } = splitFeedName(name);
  return host === null ? [feed] : [feed, element("span", { class: "feed-host", "data-testid": "host", text: host })];
}

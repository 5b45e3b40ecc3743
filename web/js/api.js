/** The server's HTTP API as the page uses it: the feed list, and whether the server refuses the page's token. */

import { authHeaders } from "./token.js";

export const FEEDS_URL = "/api/feeds";
const HTTP_UNAUTHORIZED = 401;

function getFeeds(token) {
  return fetch(FEEDS_URL, { cache: "no-store", headers: authHeaders(token) });
}

/** The feeds (/api/feeds) as the server lists them; rejects with what the server answered when it is not a list. */
export async function fetchFeeds(token) {
  const response = await getFeeds(token);
  if (!response.ok) {
    throw new Error(`${FEEDS_URL} answered ${response.status} ${response.statusText}`);
  }
  return response.json();
}

/**
 * Whether the server refuses `token`: a refused WebSocket handshake says nothing to a page, the feed list answers
 * 401 when the token is the cause. False when the server cannot be reached (the reconnecting goes on, and says so).
 */
export async function isTokenRefused(token) {
  try {
    return (await getFeeds(token)).status === HTTP_UNAUTHORIZED;
  } catch {
    return false;
  }
}

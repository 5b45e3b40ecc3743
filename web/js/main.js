/**
 * The dashboard page: wires the connection (socket.js) to one panel per feed (panel.js) and draws at most once per
 * animation frame.
 *
 * On every connection the page fetches /api/feeds again, so feeds the server gained while the page was away get
 * panels, then subscribes to every feed in binary: with the feed's held ticks for the chart's window on a first
 * subscription, with every tick after its last one after a reconnect (a gap the server could not fill is drawn as
 * a gap, never joined by a line). A panel is `live` only between its first tick on an open
 * connection and that connection's close. When the server asks for a token (token.js), one it refuses, or one that
 * expires, ends the reconnecting: the page says so and waits for a new link rather than knocking forever.
 */

import { readTheme } from "./chart.js";
import { Health, Panel, State, feedSignature, setBadgeState, showMessage } from "./panel.js";
import { CLOSE_TOKEN_EXPIRED, FeedConnection, socketUrl } from "./socket.js";
import { authHeaders, takeToken, withToken } from "./token.js";

const FEEDS_URL = "/api/feeds";
const WINDOW_SECONDS = 60;
// A feed that has not produced its first sample cannot be subscribed to yet (its fields are unknown): look again.
const NOT_READY_RETRY_MS = 2000;
const HTTP_UNAUTHORIZED = 401;
const TOKEN_EXPIRED_TEXT = "Your access token has expired: open the dashboard again with a new link.";
const TOKEN_REFUSED_TEXT = "This dashboard needs a valid access token: open it with the link you were given (…/?token=…).";

class Dashboard {
  constructor({ grid, badge, notice, windowLabel }) {
    this.grid = grid;
    this.badge = badge;
    this.notice = notice;
    this.theme = readTheme(document.documentElement);
    this.panels = new Map();
    this.hasDisconnected = false;
    this.isSignedOut = false;
    this.dirty = new Set();
    this.resized = new Set();
    this.frameRequested = false;
    this.panelsByChartsElement = new WeakMap();
    this.resizeObserver = new ResizeObserver((entries) => this.onResize(entries));
    this.token = takeToken(window.location, window.history, window.sessionStorage);
    this.connection = new FeedConnection(withToken(socketUrl(window.location), this.token), {
      open: (session) => this.onOpen(session),
      close: (closing) => this.onClose(closing),
      subscribed: (reply) => this.onSubscribed(reply),
      unsubscribed: (reply) => this.onUnsubscribed(reply),
      status: (status) => this.onStatus(status),
      tick: (tick) => this.onTick(tick),
      error: (error) => this.onError(error),
    });
    windowLabel.textContent = `last ${WINDOW_SECONDS} s`;
    setBadgeState(this.badge, State.CONNECTING);
  }

  start() {
    this.connection.start();
  }

  onOpen(session) {
    this.refresh(session);
  }

  /** Fetches the feed list, brings the panels in line with it, and subscribes every panel not yet subscribed. */
  refresh(session) {
    // The feed list is fetched once the socket is open, not before: while the server is down only the WebSocket
    // attempts fail, and a list fetched now matches the server the socket talks to.
    fetch(FEEDS_URL, { cache: "no-store", headers: authHeaders(this.token) })
      .then((response) => {
        if (!response.ok) {
          throw new Error(`${FEEDS_URL} answered ${response.status} ${response.statusText}`);
        }
        return response.json();
      })
      .then((feeds) => {
        if (session !== this.connection.session || !this.connection.isOpen) {
          return;
        }
        this.syncPanels(feeds);
        this.hideNotice();
        for (const panel of this.panels.values()) {
          if (!panel.subscribed && !panel.subscribing) {
            panel.subscribing = true;
            this.connection.subscribe(panel.name, panel.resumeFrom());
          }
        }
      })
      .catch((error) => {
        this.showNotice(`could not load the feed list: ${error.message}`);
        this.connection.drop(session);
      });
  }

  onClose({ code, opened }) {
    if (this.isSignedOut) {
      return;
    }
    if (code === CLOSE_TOKEN_EXPIRED) {
      this.signedOut(TOKEN_EXPIRED_TEXT);
      return;
    }
    if (!opened) {
      this.checkToken();
    }
    this.hasDisconnected = true;
    for (const panel of this.panels.values()) {
      panel.subscribed = false;
      panel.subscribing = false;
      panel.setState(State.RECONNECTING);
    }
    this.updateBadge();
  }

  /** A refused handshake says nothing to a page: ask the feed list, which answers 401 when the token is the cause. */
  checkToken() {
    fetch(FEEDS_URL, { cache: "no-store", headers: authHeaders(this.token) })
      .then((response) => {
        if (response.status === HTTP_UNAUTHORIZED) {
          this.signedOut(TOKEN_REFUSED_TEXT);
        }
      })
      .catch(() => {
        // The server is down: the reconnecting goes on, and says so.
      });
  }

  /** The server will not let this page in: stop trying, and say why. */
  signedOut(text) {
    if (this.isSignedOut) {
      return;
    }
    this.isSignedOut = true;
    this.connection.stop();
    for (const panel of this.panels.values()) {
      panel.subscribed = false;
      panel.subscribing = false;
      panel.setState(State.SIGNED_OUT);
    }
    setBadgeState(this.badge, State.SIGNED_OUT);
    this.showNotice(text);
  }

  onSubscribed({ feed, fields, health }) {
    const panel = this.panels.get(feed);
    if (panel === undefined) {
      return;
    }
    panel.subscribing = false;
    panel.setHealth(health);
    if (!panel.matchesFields(fields)) {
      // Plotting values in the wrong columns would be worse than plotting nothing.
      panel.showError(`the server's fields for '${feed}' differ from ${FEEDS_URL}; not plotting them`);
      this.connection.unsubscribe(feed);
      return;
    }
    panel.subscribed = true;
    panel.clearError();
    panel.renderState();
    this.updateBadge();
  }

  onUnsubscribed({ feed, reason }) {
    const panel = this.panels.get(feed);
    if (panel !== undefined) {
      if (reason === "forbidden") {
        panel.showError("your access no longer covers this feed");
      }
      panel.subscribed = false;
      panel.setState(this.hasDisconnected ? State.RECONNECTING : State.CONNECTING);
      this.updateBadge();
    }
  }

  onStatus({ feed, health }) {
    this.panels.get(feed)?.setHealth(health);
    this.updateBadge();
  }

  onTick(tick) {
    const panel = this.panels.get(tick.feed);
    // Ticks can still arrive for a feed between an unsubscribe and its reply, or for a panel just replaced.
    if (panel === undefined || !panel.subscribed) {
      return;
    }
    if (!panel.ingest(tick)) {
      panel.showError(`a tick of '${tick.feed}' has ${tick.values.length} values, expected ${panel.fieldNames.length}`);
      return;
    }
    if (panel.state !== State.LIVE) {
      panel.setState(State.LIVE);
      this.updateBadge();
    }
    this.dirty.add(panel);
    this.requestFrame();
  }

  onError({ code, message, request }) {
    const panel = request?.feed === undefined ? undefined : this.panels.get(request.feed);
    if (panel !== undefined) {
      panel.subscribing = false;
    }
    if (code === "feed_not_ready" && panel !== undefined) {
      // Not a fault: the panel already says it waits for the first sample. Its fields come with a fresh list.
      const session = this.connection.session;
      setTimeout(() => this.refresh(session), NOT_READY_RETRY_MS);
      return;
    }
    const text = `${code}: ${message}`;
    if (panel === undefined) {
      this.showNotice(`the server refused a message: ${text}`);
    } else {
      panel.showError(text);
    }
  }

  /** Makes the panels match `feeds`: keeps unchanged ones (and their history), rebuilds changed ones. */
  syncPanels(feeds) {
    const wanted = new Set(feeds.map((feed) => feed.name));
    for (const [name, panel] of this.panels) {
      if (!wanted.has(name)) {
        this.removePanel(panel);
      }
    }
    for (const feed of feeds) {
      let panel = this.panels.get(feed.name);
      if (panel !== undefined && panel.signature !== feedSignature(feed)) {
        this.removePanel(panel);
        panel = undefined;
      }
      if (panel === undefined) {
        panel = new Panel(feed, { windowSeconds: WINDOW_SECONDS, theme: this.theme });
        panel.mount(this.grid);
        this.panels.set(feed.name, panel);
        this.panelsByChartsElement.set(panel.chartsElement, panel);
        this.resizeObserver.observe(panel.chartsElement);
      } else {
        panel.describe(feed);
        // Appending an existing node moves it, so the page follows the server's order.
        this.grid.append(panel.element);
      }
    }
    this.updateBadge();
  }

  removePanel(panel) {
    this.resizeObserver.unobserve(panel.chartsElement);
    this.dirty.delete(panel);
    this.resized.delete(panel);
    this.panels.delete(panel.name);
    panel.destroy();
  }

  updateBadge() {
    // The page badge is the connection's: live once data flows, or once a feed says it is failing.
    const anyLive = [...this.panels.values()].some(
      (panel) => panel.state === State.LIVE || (panel.subscribed && panel.health === Health.FAILING),
    );
    if (this.isSignedOut) {
      setBadgeState(this.badge, State.SIGNED_OUT);
    } else if (this.connection.isOpen && anyLive) {
      setBadgeState(this.badge, State.LIVE);
    } else {
      setBadgeState(this.badge, this.hasDisconnected ? State.RECONNECTING : State.CONNECTING);
    }
  }

  showNotice(text) {
    showMessage(this.notice, text);
  }

  hideNotice() {
    showMessage(this.notice, null);
  }

  onResize(entries) {
    // Resizing a chart inside the observer's callback would resize what it observes again; defer to the frame.
    for (const entry of entries) {
      const panel = this.panelsByChartsElement.get(entry.target);
      if (panel !== undefined) {
        this.resized.add(panel);
      }
    }
    this.requestFrame();
  }

  requestFrame() {
    if (!this.frameRequested) {
      this.frameRequested = true;
      requestAnimationFrame(() => this.drawFrame());
    }
  }

  drawFrame() {
    this.frameRequested = false;
    for (const panel of this.resized) {
      panel.resize();
    }
    this.resized.clear();
    for (const panel of this.dirty) {
      panel.render();
    }
    this.dirty.clear();
  }
}

new Dashboard({
  grid: document.getElementById("panels"),
  badge: document.querySelector('[data-testid="connection"]'),
  notice: document.getElementById("notice"),
  windowLabel: document.getElementById("window"),
}).start();

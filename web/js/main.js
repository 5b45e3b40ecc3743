/**
 * The dashboard page: the wiring between the connection (socket.js) and the subscription of each feed on it
 * (subscriptions.js), one panel per feed (panel.js), the view kept in the URL (view.js) and shown by the controls
 * (controls.js), the theme (theme.js), the spans when the page was disconnected (outages.js) and the frames that
 * draw (frames.js). Each of those does one job; this module passes events from one to another, and keeps only
 * what belongs to the whole page: the time range every chart shows, and the page's connection badge.
 *
 * Every chart shows the same time range: live, the window up to the newest tick of any feed (a feed that stops
 * visibly stops short of the right edge); paused, the range the reader dragged across. A hidden tab draws nothing
 * (animation frames stop) but keeps storing ticks, and draws once when shown again. The spans when the page was
 * disconnected are shaded on every chart.
 *
 * On every connection the page fetches /api/feeds again, so feeds the server gained while the page was away get
 * panels (and again when the server says it serves one more: `feed_added`), then subscribes to every feed in binary: with the feed's held ticks for the chart's window on a first
 * subscription, with every tick after its last one after a reconnect (a gap the server could not fill is drawn as
 * a gap, never joined by a line). A panel is `live` only between its first tick on an open
 * connection and that connection's close. When the server asks for a token (token.js), one it refuses, or one that
 * expires, ends the reconnecting: the page says so and waits for a new link rather than knocking forever.
 */

import { FEEDS_URL, fetchFeeds, isTokenRefused } from "./api.js";
import { readTheme } from "./chart.js";
import { ServerClock } from "./clock.js";
import { Controls } from "./controls.js";
import { forgivingStorage, showMessage } from "./dom.js";
import { Draw, FrameScheduler } from "./frames.js";
import { PanelGrid } from "./grid.js";
import { Outages } from "./outages.js";
import { Panel, feedSignature, setBadgeState } from "./panel.js";
import { CloseCode, ErrorCode } from "./protocol.js";
import { FeedConnection, socketUrl } from "./socket.js";
import { State, isConnectedPanel } from "./states.js";
import { Subscriptions } from "./subscriptions.js";
import { Theme } from "./theme.js";
import { expiryOf, refusalOf, refusalText, takeToken, withToken } from "./token.js";
import { WINDOWS, initialView, saveView, seriesKey } from "./view.js";

// How often silent feeds are looked for, and freshness readouts of panels that did not draw are brought up to date.
const STALE_CHECK_MS = 500;
// A zoom narrower than this shows too few ticks to read.
const MIN_ZOOM_SECONDS = 1;
const MIN_SPAN_SECONDS = 10;
// Disconnected spans older than the longest window cannot be seen.
const LONGEST_WINDOW_SECONDS = WINDOWS[WINDOWS.length - 1].seconds;

class Dashboard {
  constructor({ root, grid, badge, notice, controls }) {
    this.root = root;
    this.grid = grid;
    this.badge = badge;
    this.notice = notice;
    this.tabStorage = forgivingStorage(() => window.sessionStorage);
    this.view = initialView(window.location, this.tabStorage);
    this.theme = new Theme(
      root,
      forgivingStorage(() => window.localStorage),
      window.matchMedia.bind(window),
      () => this.onThemeChange(),
    );
    this.chartTheme = readTheme(root);
    this.panels = new PanelGrid(grid, {
      create: (feed, element) => this.createPanel(feed, element),
      removed: (panel) => {
        this.subscriptions.forget(panel.name);
        this.frames.forget(panel);
      },
      changed: (panel) => (panel === undefined ? this.frames.request() : this.frames.resized(panel)),
    });
    this.clock = new ServerClock();
    this.outages = new Outages({ keepSeconds: LONGEST_WINDOW_SECONDS });
    this.range = this.liveRange();
    this.timeline = { range: () => this.range };
    this.hasDisconnected = false;
    this.isSignedOut = false;
    this.isRefreshing = false; // a fetch of the feed list is on its way
    this.refreshAgain = false; // and another was asked for meanwhile
    this.frames = new FrameScheduler((frame) => this.drawFrame(frame), { catchUpMs: STALE_CHECK_MS });
    this.token = takeToken(window.location, window.history, window.sessionStorage);
    this.connection = new FeedConnection(
      withToken(socketUrl(window.location), this.token),
      {
        open: (session) => this.onOpen(session),
        close: (closing) => this.onClose(closing),
        subscribed: (reply) => this.onSubscribed(reply),
        unsubscribed: (reply) => this.onUnsubscribed(reply),
        status: (status) => this.onStatus(status),
        // A machine joined the cluster: its feeds get panels without a reload.
        feedAdded: () => this.refresh(this.connection.session),
        tick: (tick) => this.onTick(tick),
        error: (error) => this.onError(error),
      },
      this.clock,
    );
    this.subscriptions = new Subscriptions({
      send: {
        subscribe: (feed) => this.connection.subscribe(feed, this.panels.get(feed)?.resumeFrom(this.clock.now())),
        unsubscribe: (feed) => this.connection.unsubscribe(feed),
      },
      // A feed that was not ready gets its fields with a fresh list.
      reload: () => this.refresh(this.connection.session),
    });
    setBadgeState(this.badge, State.CONNECTING);
    this.controls = new Controls(controls, {
      window: (choice) => this.setWindow(choice),
      live: () => this.goLive(),
      theme: (choice) => {
        this.theme.choose(choice);
        this.renderControls();
      },
      feed: (name) => this.toggleFeed(name),
    });
    this.renderControls();
  }

  start() {
    this.saveView();
    this.connection.start();
    setInterval(() => this.checkSilence(), STALE_CHECK_MS);
    // While a drag selects a range, the charts hold still under it (the ticks are still stored).
    this.grid.addEventListener("mousedown", (event) => {
      if (event.button === 0 && event.target.closest('[data-testid="chart"] .u-over') !== null) {
        this.frames.hold();
      }
    });
    // A mouseup can go missing (a context menu, the window losing focus): any of these ends the drag too.
    const endDrag = () => this.frames.release();
    for (const type of ["mouseup", "contextmenu", "visibilitychange"]) {
      document.addEventListener(type, endDrag);
    }
    window.addEventListener("blur", endDrag);
  }

  renderControls() {
    this.controls.render(this.view, this.theme.choice);
  }

  saveView() {
    saveView(this.view, window.location, window.history, this.tabStorage);
    this.renderControls();
  }

  /** A new window: every panel starts over at its resolution, from the server's history. */
  setWindow(choice) {
    if (choice === this.view.window) {
      if (this.view.paused) {
        this.goLive();
      }
      return;
    }
    this.view.window = choice;
    this.setRange(null);
    this.saveView();
    for (const panel of this.panels.values()) {
      if (this.subscriptions.isPending(panel.name)) {
        continue; // a change in flight: its reply brings the panel to this window (onSubscribed)
      }
      if (this.subscriptions.isSubscribed(panel.name)) {
        this.resubscribe(panel);
      } else {
        panel.setWindow(choice.seconds);
      }
    }
    this.frames.redraw();
  }

  /**
   * Starts `panel` over at the view's window, with that window's history. Ticks of the old subscription are
   * ignored until the new one is confirmed; its history comes after the confirmation.
   */
  resubscribe(panel) {
    panel.setWindow(this.view.window.seconds);
    if (this.view.paused) {
      panel.pause(this.view.range); // the view paused while this change was on its way
    }
    this.subscriptions.resubscribe(panel.name);
  }

  /** Pauses every chart on [from, to] (a drag across a chart, or a keyboard zoom); ticks keep being stored. */
  pause(from, to) {
    const middle = (from + to) / 2;
    const half = Math.max(MIN_ZOOM_SECONDS, to - from) / 2;
    const range = [middle - half, middle + half];
    if (this.view.range !== null && range.every((value, index) => value === this.view.range[index])) {
      return;
    }
    this.setRange(range);
    this.saveView();
    this.frames.redraw();
  }

  goLive() {
    this.setRange(null);
    this.saveView();
    this.frames.redraw();
  }

  /** The view's paused range (null: live), which every panel follows. */
  setRange(range) {
    this.view.range = range;
    for (const panel of this.panels.values()) {
      if (range === null) {
        panel.goLive();
      } else {
        panel.pause(range);
      }
    }
  }

  onToggle(feed, label, shown, byDefault) {
    this.view.setSeriesShown(seriesKey(feed, label), shown, byDefault);
    this.saveView();
    this.frames.redraw();
  }

  toggleFeed(name) {
    const names = [...this.panels.names()];
    const shown = new Set(this.view.feeds ?? names);
    if (shown.has(name)) {
      shown.delete(name);
    } else {
      shown.add(name);
    }
    this.view.feeds = names.every((each) => shown.has(each)) ? null : shown;
    this.showPanels();
    this.saveView();
    this.frames.redraw();
  }

  showPanels() {
    for (const panel of this.panels.values()) {
      const hidden = !this.view.isShown(panel.name);
      if (panel.element.hidden !== hidden) {
        panel.element.hidden = hidden;
        this.frames.resized(panel);
      }
    }
  }

  onThemeChange() {
    this.chartTheme = readTheme(this.root);
    for (const panel of this.panels.values()) {
      panel.setTheme(this.chartTheme);
    }
    this.renderControls();
    this.frames.redraw();
  }

  /**
   * The live range: the window up to the newest tick, or up to now (in the server's time) while disconnected.
   * Until a window's worth has arrived it spans what there is (but at least MIN_SPAN_SECONDS), so a fresh server's
   * page shows shapes at once instead of a sliver at the edge.
   */
  liveRange() {
    let end = -Infinity;
    let start = Infinity;
    for (const panel of this.panels.values()) {
      end = Math.max(end, panel.history.lastTs);
      start = Math.min(start, panel.history.firstTs);
    }
    end = Math.max(end, this.outages.ongoingEnd ?? -Infinity);
    if (!Number.isFinite(end)) {
      end = this.clock.now();
    }
    const span = Math.min(this.view.window.seconds, Math.max(MIN_SPAN_SECONDS, end - start));
    return [end - span, end];
  }

  /** Feeds silent for several intervals are stale; every panel's freshness readout ages even when it does not draw. */
  checkSilence() {
    const now = performance.now();
    let changed = false;
    for (const panel of this.panels.values()) {
      if (this.subscriptions.isSubscribed(panel.name) && (panel.state === State.LIVE || panel.state === State.STALE)) {
        const state = panel.isSilent(now) ? State.STALE : State.LIVE;
        if (state !== panel.state) {
          panel.setState(state);
          changed = true;
        }
      }
      if (this.view.paused && !document.hidden) {
        panel.renderFreshness(this.clock.known ? this.clock.nowMs() : null); // live, the catch-up below updates it
      }
    }
    if (changed) {
      this.updateBadge();
    }
    this.outages.update(this.clock.now());
    if (!this.view.paused) {
      this.frames.catchUp();
    }
  }

  onOpen(session) {
    if (this.outages.end(this.clock.now())) {
      this.frames.redraw();
    }
    this.refresh(session);
  }

  /**
   * Fetches the feed list, brings the panels in line with it, and subscribes every panel not yet subscribed. One
   * fetch at a time: asked again while one is on its way, the page fetches once more after it, however often asked.
   */
  refresh(session) {
    if (this.isRefreshing) {
      this.refreshAgain = true;
      return;
    }
    this.isRefreshing = true;
    // The feed list is fetched once the socket is open, not before: while the server is down only the WebSocket
    // attempts fail, and a list fetched now matches the server the socket talks to.
    fetchFeeds(this.token)
      .then((feeds) => {
        if (session !== this.connection.session || !this.connection.isOpen) {
          return;
        }
        this.syncPanels(feeds);
        this.hideNotice();
        for (const feed of feeds) {
          const panel = this.panels.get(feed.name);
          this.subscriptions.subscribe(feed.name);
          if (panel.fieldNames.length === 0 && !this.subscriptions.isSubscribed(feed.name)) {
            // No first sample yet: the subscribe waits for it, and the list's health is the feed's news.
            panel.setHealth(feed);
            panel.setState(State.WAITING);
          }
        }
        this.updateBadge();
      })
      .catch((error) => {
        this.showNotice(`could not load the feed list: ${error.message}`);
        this.connection.drop(session);
      })
      .finally(() => {
        this.isRefreshing = false;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          if (this.connection.isOpen) {
            this.refresh(this.connection.session); // a closed connection fetches the list again when it opens
          }
        }
      });
  }

  onClose({ code, opened }) {
    if (this.isSignedOut) {
      return;
    }
    if (code === CloseCode.TOKEN_EXPIRED) {
      // The server says so: expired, whatever the page's clock makes of the token's exp.
      this.signedOut(refusalText({ reason: "expired", expiredAt: this.token && expiryOf(this.token) }));
      return;
    }
    if (!opened) {
      this.checkToken();
    } else {
      // The span from the newest tick the page had is an outage until it reconnects.
      const now = this.clock.now();
      const newest = Math.max(...[...this.panels.values()].map((panel) => panel.history.lastTs));
      this.outages.begin(Number.isFinite(newest) ? newest : now, now);
    }
    this.hasDisconnected = true;
    this.subscriptions.clear();
    for (const panel of this.panels.values()) {
      panel.setState(State.RECONNECTING);
    }
    this.updateBadge();
  }

  /** A refused handshake: when the token is the cause, reconnecting cannot help. */
  checkToken() {
    isTokenRefused(this.token)
      .then((refused) => {
        if (refused) {
          this.signedOut(refusalText(refusalOf(this.token, this.clock.now())));
        }
      })
      .catch((error) => this.showNotice(`could not check the access token: ${error.message}`));
  }

  /** The server will not let this page in: stop trying, and say why. */
  signedOut(text) {
    if (this.isSignedOut) {
      return;
    }
    this.isSignedOut = true;
    this.connection.stop();
    this.subscriptions.clear();
    for (const panel of this.panels.values()) {
      panel.setState(State.SIGNED_OUT);
    }
    setBadgeState(this.badge, State.SIGNED_OUT);
    this.showNotice(text);
  }

  onSubscribed({ feed, fields, health, replayed }) {
    const panel = this.panels.get(feed);
    if (panel === undefined) {
      return;
    }
    if (panel.history.windowSeconds !== this.view.window.seconds) {
      this.resubscribe(panel); // the window changed again while this subscription was on its way
      return;
    }
    panel.setHealth(health);
    if (!panel.matchesFields(fields)) {
      this.subscriptions.unsubscribe(feed);
      if (panel.fieldNames.length === 0) {
        // Built before the feed's first sample, whose subscribe the server held until it came: a fresh list has
        // its fields now, and the panel is built again with them.
        this.refresh(this.connection.session);
        return;
      }
      // Plotting values in the wrong columns would be worse than plotting nothing.
      panel.showError(`the server's fields for '${feed}' differ from ${FEEDS_URL}; not plotting them`);
      return;
    }
    this.subscriptions.confirmed(feed);
    panel.expectReplay(replayed);
    panel.clearError();
    panel.renderState();
    this.updateBadge();
  }

  onUnsubscribed({ feed, reason }) {
    const panel = this.panels.get(feed);
    if (panel === undefined) {
      return;
    }
    const ended = this.subscriptions.unsubscribed(feed);
    if (reason === ErrorCode.FORBIDDEN) {
      panel.showError("your access no longer covers this feed");
    } else if (!ended) {
      return; // the page asked, to subscribe again with another window's history
    }
    panel.setState(this.hasDisconnected ? State.RECONNECTING : State.CONNECTING);
    this.updateBadge();
  }

  onStatus({ feed, health }) {
    this.panels.get(feed)?.setHealth(health);
    this.updateBadge();
  }

  onTick(tick) {
    const panel = this.panels.get(tick.feed);
    // Ticks can still arrive for a feed between an unsubscribe and its reply, or for a panel just replaced.
    if (panel === undefined || !this.subscriptions.isSubscribed(tick.feed)) {
      return;
    }
    if (!panel.ingest(tick)) {
      panel.showError(`a tick of '${tick.feed}' has ${tick.values.length} values, expected ${panel.fieldNames.length}`);
      return;
    }
    if (panel.state !== State.LIVE) {
      // A first tick, a return from silence, or a replayed one after a reconnect: data flows again.
      panel.setState(State.LIVE);
      this.updateBadge();
    }
    if (panel.replaying > 0) {
      return; // the server's held ticks are still coming: the charts fill in one draw once they are all in
    }
    this.frames.dataChanged(panel);
  }

  onError({ code, message, request }) {
    const panel = request?.feed === undefined ? undefined : this.panels.get(request.feed);
    // A refusal the subscriptions take care of (a retry, a feed not ready yet) is not a fault to show.
    if (panel !== undefined && this.subscriptions.refused(panel.name, code, request.op)) {
      return;
    }
    const text = `${code}: ${message}`;
    if (panel === undefined) {
      this.showNotice(`the server refused a message: ${text}`);
    } else {
      panel.showError(text);
    }
  }

  /** Makes the panels match `feeds` (the grid keeps unchanged ones and their history), and the controls too. */
  syncPanels(feeds) {
    this.panels.sync(feeds, feedSignature);
    if (this.controls.setFeeds(feeds.map((feed) => feed.name))) {
      this.renderControls();
    }
    this.updateBadge();
  }

  createPanel(feed, element) {
    const panel = new Panel(feed, {
      windowSeconds: this.view.window.seconds,
      timeline: this.timeline,
      outages: () => this.outages.spans,
      isHidden: (name, label, byDefault) => this.view.isSeriesHidden(seriesKey(name, label), byDefault),
      onToggle: (name, label, shown, byDefault) => this.onToggle(name, label, shown, byDefault),
      onSelect: (from, to) => this.pause(from, to),
      isSubscribed: () => this.subscriptions.isSubscribed(feed.name),
    });
    panel.element.hidden = !this.view.isShown(feed.name);
    if (this.view.paused) {
      panel.pause(this.view.range); // before it subscribes: its history must reach back to the range
    }
    panel.mount(element, this.chartTheme);
    return panel;
  }

  updateBadge() {
    // The page badge is the connection's: live once data flows, or once a feed says why none does (failing, stale).
    const anyLive = [...this.panels.values()].some((panel) =>
      isConnectedPanel(panel.state, panel.health, this.subscriptions.isSubscribed(panel.name)),
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

  /** Draws one frame (frames.js says which panels draw, and how much) over the view's range. */
  drawFrame(frame) {
    const range = this.view.paused ? this.view.range : this.liveRange();
    if (this.view.paused && (range[0] !== this.range[0] || range[1] !== this.range[1])) {
      frame.drawAll();
    }
    this.range = range;
    for (const panel of frame.resized) {
      panel.resize();
    }
    // Until a pong tells the server's time, a tick's age would be a guess (a page's clock may be seconds off): null
    // says nothing rather than a false figure.
    const now = this.clock.known ? this.clock.nowMs() : null;
    for (const panel of this.panels.values()) {
      if (panel.element.hidden || !this.panels.isOnScreen(panel)) {
        panel.renderCounts(); // what it holds, for tests: a few attributes, nothing drawn
        frame.skip(panel);
        continue;
      }
      switch (frame.drawOf(panel)) {
        case Draw.FULL:
          panel.render(range, { now });
          break;
        case Draw.DATA:
          // Paused: the new ticks are stored and the readouts follow them; the charts stay where the reader put them.
          panel.render(range, { charts: !this.view.paused, now });
          break;
        default:
          break;
      }
    }
  }
}

new Dashboard({
  root: document.documentElement,
  grid: document.getElementById("panels"),
  badge: document.querySelector('[data-testid="connection"]'),
  notice: document.getElementById("notice"),
  controls: {
    windows: document.getElementById("windows"),
    live: document.getElementById("live"),
    viewState: document.getElementById("view-state"),
    feedToggles: document.getElementById("feed-toggles"),
    themes: document.getElementById("themes"),
  },
}).start();

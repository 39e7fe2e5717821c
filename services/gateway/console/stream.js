// A run's live events over the WebSocket: first-message auth, in seq order, each once. After a dropped
// connection (or the gateway going away: 1001, 1006, 1011, 1013) it reconnects with after_seq = the last seq it
// delivered. A gap (seq jumping ahead) goes to `onGap`, which refills from the recorded steps.

import { auth } from "./api.js";

const TERMINAL = new Set(["run_completed", "run_failed", "run_cancelled"]);

export class RunStream {
  constructor(runId, { onEvent, onStatus = () => {}, onGap = async () => 0, onClosedEarly = async () => true }) {
    this.runId = runId;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onGap = onGap;
    this.onClosedEarly = onClosedEarly; // a 1000 close before the terminal event: true when the run is over
    this.lastSeq = 0;
    this.finished = false;
    this.stopped = false;
    this.attempt = 0;
    this.reconnects = 0;
    this.chain = Promise.resolve();
    this.ws = null;
  }

  start(afterSeq = 0) {
    this.lastSeq = afterSeq;
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close(1000);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws/execution/${encodeURIComponent(this.runId)}?after_seq=${this.lastSeq}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (auth.token) ws.send(JSON.stringify({ type: "auth", token: auth.token }));
      if (this.attempt > 0) this.onStatus("resumed", this.lastSeq);
      this.attempt = 0;
    });
    ws.addEventListener("message", (msg) => {
      let event;
      try {
        event = JSON.parse(msg.data);
      } catch {
        return;
      }
      this.chain = this.chain.then(() => this.deliver(event));
    });
    ws.addEventListener("close", (e) => {
      this.chain = this.chain.then(() => this.closed(ws, e.code, e.reason));
    });
  }

  async deliver(event) {
    if (typeof event.seq !== "number" || event.seq <= this.lastSeq) return; // a replayed duplicate
    if (event.seq > this.lastSeq + 1) {
      const covered = await this.onGap(this.lastSeq, event.seq).catch(() => this.lastSeq);
      if (covered > this.lastSeq) this.lastSeq = Math.min(covered, event.seq - 1);
      if (event.seq <= this.lastSeq) return;
    }
    this.lastSeq = event.seq;
    this.onEvent(event);
    if (TERMINAL.has(event.type)) this.finished = true;
  }

  async closed(ws, code, reason) {
    if (ws !== this.ws || this.stopped || this.finished) return;
    if (code === 1008) {
      this.onStatus("refused", this.lastSeq, reason);
      return;
    }
    // Asking whether the run is over may fail too (the gateway restarting): then just reconnect.
    if (code === 1000 && (await this.onClosedEarly(this.lastSeq).catch(() => false))) {
      this.finished = true;
      return;
    }
    this.attempt += 1;
    this.reconnects += 1;
    this.onStatus("reconnecting", this.lastSeq);
    const delay = Math.min(3000, 150 * 2 ** Math.min(this.attempt, 5));
    setTimeout(() => {
      if (!this.stopped) this.connect();
    }, delay);
  }
}

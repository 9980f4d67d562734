// The session's WebSocket: the beta (unmute) dialect of /v1/realtime, JSON text frames.

export class RealtimeSession extends EventTarget {
  constructor() {
    super();
    this.socket = null;
    this.counter = 0;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/v1/realtime`);
    this.socket = socket;
    this.state("connecting");
    socket.addEventListener("open", () => this.state("connected"));
    let opened = false;
    socket.addEventListener("open", () => (opened = true));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      if (!opened) {
        // A browser does not say why; a refused origin is the usual cause behind a proxy.
        this.state("cannot connect: is the server up, and is this page's origin in --cors-origins?");
      } else {
        this.state(`closed (${event.code}${event.reason ? ": " + event.reason : ""})`);
      }
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      this.dispatchEvent(new CustomEvent("server-event", { detail: event }));
    });
    return new Promise((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("close", () => reject(new Error("the session could not be opened")), { once: true });
    });
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  state(text) {
    this.dispatchEvent(new CustomEvent("state", { detail: text }));
  }

  /** Send one client event; returns its event_id. */
  send(event) {
    this.counter += 1;
    const eventId = `page_${this.counter}`;
    if (this.open) this.socket.send(JSON.stringify({ ...event, event_id: eventId }));
    return eventId;
  }
}

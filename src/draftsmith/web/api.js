// Talking to the server: JSON requests, Server-Sent Events over fetch (POST bodies, abortable), the API key.
// The key lives in sessionStorage only: it is gone when the tab closes and is never written to localStorage.

const KEY_NAME = "draftsmith.apiKey";

export function getKey() {
  return sessionStorage.getItem(KEY_NAME) || "";
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY_NAME, key);
  else sessionStorage.removeItem(KEY_NAME);
}

/** An error answer of the API: HTTP status, the JSON error's type and message, Retry-After, details. */
export class ApiError extends Error {
  constructor(status, type, message, { retryAfter = null, details = null } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.retryAfter = retryAfter;
    this.details = details;
  }
}

function headers(json) {
  const h = { Accept: "application/json" };
  if (json) h["Content-Type"] = "application/json";
  const key = getKey();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

async function errorOf(response) {
  let type = "http_error";
  let message = `${response.status} ${response.statusText}`;
  let details = null;
  try {
    const body = await response.json();
    if (body && body.error) {
      type = String(body.error.type || type);
      message = String(body.error.message || message);
      details = body.error.details || null;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, type, message, {
    retryAfter: response.headers.get("Retry-After"),
    details,
  });
}

async function send(method, path, body, signal) {
  try {
    return await fetch(path, {
      method,
      headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network_error", "cannot reach the server; is draftsmith serve still running?");
  }
}

/** A JSON request; resolves to the parsed body (null for 204), rejects with ApiError. */
export async function request(method, path, body, { signal } = {}) {
  const response = await send(method, path, body, signal);
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  return response.json();
}

/** Tells the server what the user did with a suggestion it showed (the ``suggestion_id`` of an edit, a problem,
 * a completion or a whole result): "accept", "reject", or "edited_after_accept" with the text kept. Best effort:
 * a failure never disturbs the editor. */
export function sendFeedback(suggestionId, event, finalText) {
  if (!suggestionId) return Promise.resolve(null);
  const body = { suggestion_id: suggestionId, event };
  if (finalText !== undefined) body.final_text = finalText;
  return request("POST", "/v1/feedback", body).catch(() => null);
}

/** POST ``body`` with ``stream: true``; calls ``onToken(delta)`` for each token event and resolves to
 * the result of the ``done`` event. Aborting ``signal`` closes the connection, which stops the model. */
export async function stream(path, body, { onToken, signal }) {
  const response = await send("POST", path, { ...body, stream: true }, signal);
  if (!response.ok) throw await errorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const events = new EventParser();
  for (;;) {
    const { value, done } = await reader.read();
    for (const { event, data } of events.feed(value || "", done)) {
      const payload = JSON.parse(data);
      if (event === "token") onToken(String(payload.text || ""));
      else if (event === "done") {
        reader.cancel().catch(() => {});
        return payload;
      } else if (event === "error") {
        const e = payload.error || {};
        throw new ApiError(0, String(e.type || "error"), String(e.message || "the operation failed"));
      }
    }
    if (done) throw new ApiError(0, "stream_ended", "the server closed the stream before the result");
  }
}

/** Server-Sent Events from text chunks: lines end in \n, \r\n or \r; a blank line ends an event. */
export class EventParser {
  constructor() {
    this.buffer = "";
    this.event = "message";
    this.data = [];
  }

  *feed(chunk, final = false) {
    this.buffer += chunk;
    for (;;) {
      const match = /\r\n|\n|\r/.exec(this.buffer);
      if (!match) break;
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (match[0] === "\r" && match.index === this.buffer.length - 1 && !final) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const out = this.line(line);
      if (out) yield out;
    }
    if (final) {
      const out = this.line("");
      if (out) yield out;
    }
  }

  line(line) {
    if (line === "") {
      const out = this.data.length ? { event: this.event, data: this.data.join("\n") } : null;
      this.event = "message";
      this.data = [];
      return out;
    }
    if (line.startsWith(":")) return null; // comment (keep-alive ping)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    return null;
  }
}

/** One line for the error banner: status, type, message, and when to retry. */
export function describe(err) {
  if (!(err instanceof ApiError)) return `Unexpected error: ${err && err.message ? err.message : err}`;
  const parts = [];
  if (err.status) parts.push(String(err.status));
  parts.push(`${err.type}: ${err.message}`);
  let line = parts.join(" ");
  if (err.retryAfter) line += ` (retry after ${err.retryAfter} s)`;
  if (err.status === 401) line += ". Enter a valid API key above.";
  return line;
}

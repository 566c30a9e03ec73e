// Operations on the selection (or the whole text): correct → edit chips to accept or reject; rewrite,
// translate, summarize, continue → tokens streamed into a preview (Stop aborts the request, which stops the
// model), then the result rendered as safe Markdown with a button to put it into the text; a rewrite (and
// Shorten, a rewrite in the concise style) also shows the words it deletes and inserts. Accepting or rejecting
// an edit, and putting a result into the text or discarding it, posts the answer to /v1/feedback (its id came
// with the server's answer).

import { request, sendFeedback, stream } from "./api.js";
import { wordDiff } from "./diff.js";
import { updateBadges } from "./documents.js";
import { editor } from "./editor.js";
import { renderMarkdown } from "./render.js";
import { showSources } from "./sources.js";
import { styleChoice } from "./styles.js";
import { $, button, clearError, el, setStatus, showError, utf16Offsets } from "./ui.js";

const LABELS = {
  correct: "Corrections",
  rewrite: "Rewrite",
  shorten: "Shorter",
  translate: "Translation",
  summarize: "Summary",
  continue: "Continuation",
  ground: "Draft from sources",
  "ground-kg": "Draft from graph",
};
const APPLY = {
  rewrite: "Replace",
  shorten: "Replace",
  translate: "Replace",
  summarize: "Insert below",
  continue: "Insert",
  ground: "Replace",
  "ground-kg": "Replace",
};

let current = null; // the running or last operation: {op, start, end, sent, controller, text}
let pending = []; // correction edits not yet accepted or rejected, with offsets into the editor's text

function target() {
  let { from: start, to: end } = editor.selection();
  if (start === end) {
    start = 0;
    end = editor.length;
  }
  return { start, end, sent: editor.slice(start, end) };
}

function bodyFor(op, text) {
  if (op === "rewrite") return { text, ...styleChoice() };
  if (op === "shorten") return { text, style: "concise" };
  if (op === "translate") return { text, to: $("target-lang").value };
  if (op === "continue") return { text, words: 60 };
  if (op === "ground" || op === "ground-kg") return { instruction: text };
  return { text };
}

function pathFor(op) {
  if (op === "ground") return `/api/kb/${encodeURIComponent($("kb").value)}/write`;
  if (op === "ground-kg") return `/api/kg/${encodeURIComponent($("kg").value)}/write`;
  if (op === "shorten") return "/api/rewrite";
  return `/api/${op}`;
}

function setBusy(busy) {
  for (const b of document.querySelectorAll("[data-op]")) b.disabled = busy;
  $("stop").hidden = !busy;
}

function resetResult(op) {
  $("result-title").textContent = LABELS[op] || "Result";
  $("edits").replaceChildren();
  $("stream").replaceChildren();
  $("stream").hidden = true;
  $("output").replaceChildren();
  $("output").hidden = true;
  $("result-diff").replaceChildren();
  $("result-diff").hidden = true;
  $("result-actions").hidden = true;
  pending = [];
}

async function run(op) {
  if (current && current.controller) return; // one at a time; Stop ends the running one
  const range = target();
  if (!range.sent.trim()) {
    showError("Write or select some text first.");
    return;
  }
  clearError();
  resetResult(op);
  const controller = new AbortController();
  current = { op, ...range, controller, text: "" };
  setBusy(true);
  setStatus(`${LABELS[op]}: working…`);
  try {
    if (op === "correct") {
      const result = await request("POST", "/api/correct", bodyFor(op, range.sent), { signal: controller.signal });
      showEdits(result, range);
    } else {
      const preview = $("stream");
      preview.hidden = false;
      const path = pathFor(op);
      const result = await stream(path, bodyFor(op, range.sent), {
        signal: controller.signal,
        onToken: (delta) => {
          current.text += delta;
          preview.append(document.createTextNode(delta));
        },
      });
      current.text = result.text;
      current.id = result.suggestion_id || null; // the whole result as one suggestion: Replace/Insert or Discard
      preview.hidden = true;
      renderMarkdown($("output"), result.text);
      if (op === "rewrite" || op === "shorten") showDiff(range.sent, result.text);
      if (op === "ground" || op === "ground-kg") showSources(result);
      $("output").hidden = false;
      offerApply(op);
      const warnings = (result.warnings || []).join(" ");
      setStatus(`${LABELS[op]}: done${warnings ? `. ${warnings}` : "."}`);
    }
  } catch (err) {
    if (err.name === "AbortError") {
      setStatus(`${LABELS[op]}: stopped.`);
      if (current.text) offerApply(op);
    } else {
      setStatus(`${LABELS[op]}: failed.`);
      showError(err);
    }
  } finally {
    current.controller = null;
    setBusy(false);
  }
}

/** The selection's words the result deletes and inserts, above the result: Replace accepts, Discard rejects. */
function showDiff(before, after) {
  const parts = wordDiff(before, after);
  if (!parts || !parts.some((p) => p.op !== "equal")) return;
  $("result-diff").replaceChildren(
    ...parts.map((p) =>
      p.op === "equal" ? document.createTextNode(p.text) : el(p.op === "insert" ? "ins" : "del", "", p.text),
    ),
  );
  $("result-diff").hidden = false;
}

function offerApply(op) {
  $("apply").textContent = APPLY[op] || "Insert";
  $("result-actions").hidden = false;
}

function apply() {
  if (!current || !current.text) return;
  const { op, start, end, sent } = current;
  if (editor.slice(start, end) !== sent) {
    showError("The text changed since the operation started; run it again.");
    return;
  }
  const text = current.text;
  if (op === "summarize") {
    editor.replace(end, end, `\n\n${text.trim()}\n`, { select: true });
  } else if (op === "continue") {
    const joiner = /\S$/.test(sent) && /^[\p{L}\p{N}"'(]/u.test(text) && !/\p{Script=Han}$/u.test(sent) ? " " : "";
    editor.replace(end, end, joiner + text, { select: true });
  } else {
    editor.replace(start, end, text, { select: true });
  }
  sendFeedback(current.id, "accept");
  current.id = null;
  discard();
  updateBadges();
}

function discard() {
  if (current && current.id) sendFeedback(current.id, "reject");
  resetResult(current ? current.op : "");
  setStatus("");
  current = null;
}

// -- corrections ---------------------------------------------------------------------------------------

function showEdits(result, range) {
  const at = utf16Offsets(range.sent);
  pending = (result.edits || []).map((e) => ({
    ...e,
    from: range.start + at(e.start),
    to: range.start + at(e.end),
    state: "pending",
  }));
  const list = $("edits");
  list.replaceChildren(...pending.map(chip));
  if (!pending.length) {
    setStatus("Corrections: none needed.");
    return;
  }
  setStatus(`Corrections: ${pending.length} suggested.`);
  const bulk = el("div", "row");
  bulk.append(button("Accept all", acceptAll), button("Reject all", rejectAll));
  list.append(bulk);
}

function chip(edit) {
  const node = el("div", "chip");
  node.dataset.category = edit.category;
  const change = el("span", "change");
  change.append(el("del", "", edit.original || "∅"), document.createTextNode(" → "), el("ins", "", edit.replacement || "∅"));
  const actions = el("span", "actions");
  actions.append(
    button("Accept", () => accept(edit), "accept"),
    button("Reject", () => settle(edit, "rejected"), "reject"),
  );
  node.append(change, el("span", "category", edit.category), el("span", "reason", edit.reason), actions);
  edit.node = node;
  return node;
}

function settle(edit, state) {
  sendFeedback(edit.suggestion_id, state === "accepted" ? "accept" : "reject");
  edit.state = state;
  edit.node.classList.add(state);
  edit.node.querySelector(".actions").replaceChildren(el("span", "muted", state));
  if (pending.every((e) => e.state !== "pending")) setStatus("Corrections: all reviewed.");
}

function accept(edit) {
  if (edit.state !== "pending") return;
  if (editor.slice(edit.from, edit.to) !== edit.original) {
    showError("The text changed where this correction applies; run Correct again.");
    return;
  }
  editor.replace(edit.from, edit.to, edit.replacement);
  const delta = edit.replacement.length - (edit.to - edit.from);
  for (const other of pending) {
    if (other !== edit && other.from >= edit.to) {
      other.from += delta;
      other.to += delta;
    }
  }
  settle(edit, "accepted");
  updateBadges();
}

function acceptAll() {
  // From the end backwards, so earlier offsets stay valid.
  for (const edit of [...pending].sort((a, b) => b.from - a.from)) accept(edit);
}

function rejectAll() {
  for (const edit of pending) if (edit.state === "pending") settle(edit, "rejected");
}

export function initOps() {
  for (const b of document.querySelectorAll("[data-op]")) b.addEventListener("click", () => run(b.dataset.op));
  $("stop").addEventListener("click", () => current && current.controller && current.controller.abort());
  $("apply").addEventListener("click", apply);
  $("discard").addEventListener("click", discard);
}

// Writing aids drawn over the textarea: ghost-text autocomplete and grammar underlines.
//
// A "mirror" div sits behind the (transparent) textarea with the same box, font and wrapping, so text laid out
// in it lines up with the textarea's. It holds the document as text nodes (never HTML): problem ranges are
// wrapped in underlined spans, and the suggestion after the caret is a grey span. The textarea stays the only
// thing the user types into.
//
// Autocomplete: typing at the end of a line asks /api/suggest/next after a short pause (debounced); a new
// keystroke aborts the request in flight (the server also stops the session's generation); Tab accepts the
// ghost text, Esc dismisses it (and cancels on the server). Typing the ghost's next characters shifts it locally.
//
// Underlines: /api/check runs after a pause in typing (and on the Check button); hovering an underlined range
// shows the reason and the suggestions, and clicking one applies it if the text there is unchanged.
//
// Feedback: every suggestion the server sends has a ``suggestion_id``; Tab and a clicked fix post "accept" (a fix
// other than the first suggestion: "edited_after_accept" with the one chosen), Esc and "Ignore" post "reject" to
// /v1/feedback, so the server learns which rules to mute for this user.

import { request, sendFeedback } from "./api.js";
import { updateBadges } from "./documents.js";
import { $, button, el, utf16Offsets } from "./ui.js";

const SUGGEST_DELAY_MS = 250;
const CHECK_DELAY_MS = 700;
const session = `ed-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;

const ghost = { text: "", at: -1, id: null }; // the suggestion shown after the caret, where, and its id
let suggestTimer = null;
let suggestController = null;
let lastKeyAt = 0; // autocomplete answers real typing only (not pasted or programmatic text)
let problems = []; // {from, to, flagged, message, rule_id, suggestions} with UTF-16 offsets
let checkTimer = null;
let checkController = null;
let checkedText = null;
const ignored = new Set(); // problems the user ignored in this editor (rule, flagged text, what precedes it)

// -- the mirror --------------------------------------------------------------------------------------------

function render() {
  const editor = $("editor");
  const text = editor.value;
  const mirror = $("mirror");
  const nodes = [];
  const showGhost = ghost.text && ghost.at === editor.selectionStart && editor.selectionStart === editor.selectionEnd;
  const end = showGhost ? ghost.at : text.length;
  let pos = 0;
  for (const [i, p] of problems.entries()) {
    if (p.to > end) break;
    if (p.from < pos) continue;
    if (p.from > pos) nodes.push(document.createTextNode(text.slice(pos, p.from)));
    const mark = el("span", "problem", text.slice(p.from, p.to));
    mark.dataset.index = String(i);
    mark.dataset.category = p.category || "";
    nodes.push(mark);
    pos = p.to;
  }
  nodes.push(document.createTextNode(text.slice(pos, end)));
  if (showGhost) nodes.push(el("span", "ghost", ghost.text));
  nodes.push(document.createTextNode(showGhost ? text.slice(end) : "\u200b"));
  mirror.replaceChildren(...nodes);
  mirror.scrollTop = editor.scrollTop;
  $("ghost-hint").hidden = !showGhost;
}

// -- autocomplete ------------------------------------------------------------------------------------------

function hideGhost() {
  if (ghost.text) {
    ghost.text = "";
    ghost.at = -1;
    ghost.id = null;
    render();
  }
}

function abortSuggest() {
  clearTimeout(suggestTimer);
  if (suggestController) suggestController.abort();
  suggestController = null;
}

function atLineEnd(editor) {
  const { selectionStart: start, selectionEnd: end, value } = editor;
  return start === end && (start === value.length || value[start] === "\n");
}

function onTyped(event) {
  const editor = $("editor");
  const typed = event.data || "";
  // Typing the ghost's next characters: shift it instead of asking again.
  if (ghost.text && typed && ghost.text.startsWith(typed) && editor.selectionStart === ghost.at + typed.length) {
    ghost.text = ghost.text.slice(typed.length);
    ghost.at = editor.selectionStart;
    if (!ghost.text.trim()) hideGhost();
    else render();
    return;
  }
  abortSuggest(); // a new keystroke cancels the pending request
  hideGhost();
  if (Date.now() - lastKeyAt > 100 || !atLineEnd(editor) || !editor.value.trim()) return;
  suggestTimer = setTimeout(suggest, SUGGEST_DELAY_MS);
}

async function suggest() {
  const editor = $("editor");
  const text = editor.value;
  const cursor = editor.selectionStart;
  const controller = new AbortController();
  suggestController = controller;
  const before = [...text.slice(0, cursor)].length; // code points, as the server counts
  try {
    const result = await request(
      "POST",
      "/api/suggest/next",
      { session, text, cursor: before, n: 1 },
      { signal: controller.signal },
    );
    const first = (result.suggestions || [])[0];
    if (controller.signal.aborted || result.cancelled || !first) return;
    if (editor.value !== text || editor.selectionStart !== cursor || document.activeElement !== editor) return;
    ghost.text = String(first.text);
    ghost.at = cursor;
    ghost.id = first.suggestion_id || null;
    render();
  } catch {
    // aborted by the next keystroke, or the server is busy: no suggestion this time
  } finally {
    if (suggestController === controller) suggestController = null;
  }
}

function accept() {
  const editor = $("editor");
  const text = ghost.text;
  sendFeedback(ghost.id, "accept");
  hideGhost();
  editor.setRangeText(text, editor.selectionStart, editor.selectionEnd, "end");
  editor.dispatchEvent(new Event("input", { bubbles: true }));
}

function dismiss() {
  abortSuggest();
  sendFeedback(ghost.id, "reject");
  hideGhost();
  request("POST", "/api/suggest/cancel", { session }).catch(() => {});
}

function onKeyDown(event) {
  if (event.key.length === 1 || event.key === "Enter" || event.key === "Backspace") lastKeyAt = Date.now();
  if (!ghost.text) return;
  if (event.key === "Tab" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    accept();
  } else if (event.key === "Escape") {
    event.preventDefault();
    dismiss();
  }
}

// -- grammar underlines ------------------------------------------------------------------------------------

function scheduleCheck() {
  clearTimeout(checkTimer);
  if (checkController) checkController.abort();
  if (problems.length) {
    problems = [];
    hideTip();
  }
  checkTimer = setTimeout(check, CHECK_DELAY_MS);
}

export async function check() {
  const editor = $("editor");
  const text = editor.value;
  if (!text.trim() || text === checkedText) return;
  const controller = new AbortController();
  checkController = controller;
  try {
    const result = await request("POST", "/api/check", { text }, { signal: controller.signal });
    if (editor.value !== text) return; // typed meanwhile: the next check will come
    const at = utf16Offsets(text);
    problems = (result.problems || [])
      .map((p) => ({ ...p, from: at(p.start), to: at(p.end) }))
      .filter((p) => !ignored.has(ignoreKey(text, p)));
    checkedText = text;
    $("check-status").textContent = problems.length ? `${problems.length} to review` : "no problems found";
    render();
  } catch {
    // aborted by typing, or the checker is unavailable: no underlines this time
  } finally {
    if (checkController === controller) checkController = null;
  }
}

function hideTip() {
  $("problem-tip").hidden = true;
}

function problemAt(x, y) {
  for (const mark of $("mirror").querySelectorAll(".problem")) {
    for (const r of mark.getClientRects()) {
      if (x >= r.left && x <= r.right && y >= r.top && y <= r.bottom) return { mark, rect: r };
    }
  }
  return null;
}

function showTip(index, rect) {
  const p = problems[index];
  const tip = $("problem-tip");
  if (!p) return;
  if (!tip.hidden && tip.dataset.index === String(index)) return;
  tip.dataset.index = String(index);
  const fixes = el("div", "fixes");
  for (const s of (p.suggestions || []).slice(0, 4)) fixes.append(button(s || "(delete)", () => fix(p, s), "fix"));
  if (!fixes.childElementCount) fixes.append(el("span", "muted", "no suggestion"));
  fixes.append(button("Ignore", () => ignore(p), "ignore"));
  tip.replaceChildren(el("div", "reason", p.message), el("div", "rule muted", p.rule_id), fixes);
  const pane = tip.offsetParent ? tip.offsetParent.getBoundingClientRect() : { left: 0, top: 0 };
  tip.style.left = `${Math.max(rect.left - pane.left, 0)}px`;
  tip.style.top = `${rect.bottom - pane.top + 2}px`;
  tip.hidden = false;
}

function ignoreKey(text, p) {
  return `${p.rule_id}\u0000${p.flagged}\u0000${text.slice(Math.max(p.from - 20, 0), p.from)}`;
}

function ignore(problem) {
  hideTip();
  sendFeedback(problem.suggestion_id, "reject");
  ignored.add(ignoreKey($("editor").value, problem));
  problems = problems.filter((p) => p !== problem);
  render();
}

function fix(problem, replacement) {
  const editor = $("editor");
  hideTip();
  if (editor.value.slice(problem.from, problem.to) !== problem.flagged) return;
  const first = (problem.suggestions || [])[0];
  if (replacement === first) sendFeedback(problem.suggestion_id, "accept");
  else sendFeedback(problem.suggestion_id, "edited_after_accept", replacement);
  editor.setRangeText(replacement, problem.from, problem.to, "end");
  editor.dispatchEvent(new Event("input", { bubbles: true }));
  check();
}

function onMouseMove(event) {
  const hit = problemAt(event.clientX, event.clientY);
  if (hit) showTip(Number(hit.mark.dataset.index), hit.rect);
  else if (!$("problem-tip").contains(event.target)) hideTip();
}

export function initAssist() {
  const editor = $("editor");
  editor.addEventListener("keydown", onKeyDown);
  editor.addEventListener("input", (event) => {
    onTyped(event);
    checkedText = null;
    scheduleCheck();
    render();
  });
  editor.addEventListener("scroll", () => {
    $("mirror").scrollTop = editor.scrollTop;
  });
  editor.addEventListener("blur", () => {
    abortSuggest();
    hideGhost();
  });
  editor.addEventListener("click", hideGhost);
  editor.addEventListener("mousemove", onMouseMove);
  editor.addEventListener("mouseleave", (event) => {
    if (!$("problem-tip").contains(event.relatedTarget)) hideTip();
  });
  $("problem-tip").addEventListener("mouseleave", hideTip);
  $("check").addEventListener("click", () => {
    checkedText = null;
    check();
  });
  new ResizeObserver(render).observe(editor);
  // Text set by code (opening a document, applying a result) has no input event: redraw and re-check.
  const observe = () => {
    if (checkedText !== null && editor.value !== checkedText) {
      problems = [];
      checkedText = null;
      render();
    }
  };
  setInterval(observe, 500);
  updateBadges();
}

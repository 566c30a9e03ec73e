// Writing aids inside the CodeMirror editor: ghost-text autocomplete and grammar underlines.
//
// Autocomplete: typing at the end of a line asks /api/suggest/next after a short pause (debounced); a new
// keystroke aborts the request in flight (the server also stops the session's generation). The suggestion is a
// grey widget decoration at the caret (never part of the text): Tab accepts it, Esc dismisses it (and cancels on
// the server), typing its next characters shifts it, anything else (other typing, moving the caret, leaving the
// editor) drops it. Only real typing asks (a keystroke just before the change), not pasted or loaded text.
//
// Underlines: /api/check runs after a pause in typing, when a document is loaded, and on the Check button; each
// problem is a mark decoration that moves with the text around it and goes when its own text is edited.
// Hovering one shows the reason, the rule and the suggestions (a CodeMirror hover tooltip); clicking a
// suggestion applies it if the text there is unchanged.
//
// Feedback: every suggestion the server sends has a ``suggestion_id``; Tab and a clicked fix post "accept" (a fix
// other than the first suggestion: "edited_after_accept" with the one chosen), Esc and "Ignore" post "reject" to
// /v1/feedback, so the server learns which rules to mute for this user.
//
// Everything the server sends is shown as text (textContent), never parsed as HTML.

import { request, sendFeedback } from "./api.js";
import { editor } from "./editor.js";
import { $, button, el, utf16Offsets } from "./ui.js";
import {
  closeHoverTooltips,
  Decoration,
  EditorView,
  hoverTooltip,
  keymap,
  Prec,
  StateEffect,
  StateField,
  WidgetType,
} from "./vendor/codemirror.js";

const SUGGEST_DELAY_MS = 250;
const CHECK_DELAY_MS = 700;
const TYPED_WITHIN_MS = 100; // a change this soon after a keystroke is typing
const session = `ed-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;

let suggestTimer = null;
let suggestController = null;
let lastKeyAt = 0;
let checkTimer = null;
let checkController = null;
let checkedText = null;
const ignored = new Set(); // problems the user ignored in this editor (rule, flagged text, what precedes it)

// -- ghost text --------------------------------------------------------------------------------------------

class GhostWidget extends WidgetType {
  constructor(text) {
    super();
    this.text = text;
  }

  eq(other) {
    return other.text === this.text;
  }

  toDOM() {
    const span = el("span", "ghost", this.text);
    span.setAttribute("aria-hidden", "true");
    return span;
  }
}

const setGhost = StateEffect.define(); // {text, at, id} or null

/** The suggestion after the caret ({text, at, id}) or null; typing its next characters shifts it. */
const ghostField = StateField.define({
  create: () => null,
  update(ghost, tr) {
    for (const effect of tr.effects) if (effect.is(setGhost)) return effect.value;
    if (!ghost) return null;
    if (tr.docChanged) return shifted(ghost, tr);
    const { main } = tr.state.selection;
    return main.empty && main.head === ghost.at ? ghost : null;
  },
  provide: (field) =>
    EditorView.decorations.from(field, (ghost) => {
      if (!ghost) return Decoration.none;
      return Decoration.set([Decoration.widget({ widget: new GhostWidget(ghost.text), side: 1 }).range(ghost.at)]);
    }),
});

function shifted(ghost, tr) {
  if (!tr.isUserEvent("input.type")) return null;
  let typed = null;
  let elsewhere = false;
  tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    if (fromA === ghost.at && toA === ghost.at && typed === null) typed = inserted.toString();
    else elsewhere = true;
  });
  if (elsewhere || !typed || !ghost.text.startsWith(typed)) return null;
  const at = ghost.at + typed.length;
  const { main } = tr.state.selection;
  const rest = ghost.text.slice(typed.length);
  if (!main.empty || main.head !== at || !rest.trim()) return null;
  return { ...ghost, text: rest, at };
}

function abortSuggest() {
  clearTimeout(suggestTimer);
  if (suggestController) suggestController.abort();
  suggestController = null;
}

function atLineEnd(state) {
  const { main } = state.selection;
  return main.empty && main.head === state.doc.lineAt(main.head).to;
}

function afterChange(update) {
  const before = update.startState.field(ghostField);
  const after = update.state.field(ghostField);
  if (before && after && after.id === before.id) return; // typed the ghost's next characters
  abortSuggest(); // a new keystroke cancels the pending request
  const typing = update.transactions.some((tr) => tr.isUserEvent("input.type"));
  if (!typing || Date.now() - lastKeyAt > TYPED_WITHIN_MS || !atLineEnd(update.state)) return;
  if (!update.state.doc.toString().trim()) return;
  suggestTimer = setTimeout(() => suggest(update.view), SUGGEST_DELAY_MS);
}

async function suggest(view) {
  const doc = view.state.doc;
  const text = doc.toString();
  const cursor = view.state.selection.main.head;
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
    if (controller.signal.aborted || result.cancelled || !first || !String(first.text)) return;
    const { main } = view.state.selection;
    if (view.state.doc !== doc || !main.empty || main.head !== cursor || !view.hasFocus) return;
    view.dispatch({ effects: setGhost.of({ text: String(first.text), at: cursor, id: first.suggestion_id || null }) });
  } catch {
    // aborted by the next keystroke, or the server is busy: no suggestion this time
  } finally {
    if (suggestController === controller) suggestController = null;
  }
}

function acceptGhost(view) {
  const ghost = view.state.field(ghostField);
  if (!ghost) return false;
  sendFeedback(ghost.id, "accept");
  view.dispatch({
    changes: { from: ghost.at, insert: ghost.text },
    selection: { anchor: ghost.at + ghost.text.length },
    effects: setGhost.of(null),
    scrollIntoView: true,
    userEvent: "input.complete",
  });
  return true;
}

function dismissGhost(view) {
  const ghost = view.state.field(ghostField);
  if (!ghost) return false;
  abortSuggest();
  sendFeedback(ghost.id, "reject");
  view.dispatch({ effects: setGhost.of(null) });
  request("POST", "/api/suggest/cancel", { session }).catch(() => {});
  return true;
}

function dropGhost(view) {
  abortSuggest();
  if (view.state.field(ghostField)) view.dispatch({ effects: setGhost.of(null) });
}

// -- grammar underlines ------------------------------------------------------------------------------------

const setProblems = StateEffect.define(); // [{from, to, problem}]
const dropProblem = StateEffect.define(); // a problem

/** The underlines: mark decorations whose spec holds the problem; a mark whose text changed goes. */
const problemField = StateField.define({
  create: () => Decoration.none,
  update(marks, tr) {
    marks = marks.map(tr.changes);
    if (tr.docChanged) {
      marks = marks.update({ filter: (from, to, mark) => tr.state.sliceDoc(from, to) === mark.spec.problem.flagged });
    }
    for (const effect of tr.effects) {
      if (effect.is(setProblems)) {
        marks = Decoration.set(
          effect.value.map(({ from, to, problem }) =>
            Decoration.mark({
              class: "problem",
              attributes: { "data-category": problem.category || "" },
              problem,
            }).range(from, to),
          ),
          true,
        );
      } else if (effect.is(dropProblem)) {
        marks = marks.update({ filter: (_from, _to, mark) => mark.spec.problem !== effect.value });
      }
    }
    return marks;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/** Where ``problem`` is now ({from, to}), or null. */
function rangeOf(state, problem) {
  let found = null;
  state.field(problemField).between(0, state.doc.length, (from, to, mark) => {
    if (mark.spec.problem === problem) {
      found = { from, to };
      return false;
    }
    return undefined;
  });
  return found;
}

function scheduleCheck() {
  clearTimeout(checkTimer);
  if (checkController) checkController.abort();
  checkTimer = setTimeout(check, CHECK_DELAY_MS);
}

export async function check() {
  const view = editor.view;
  const doc = view.state.doc;
  const text = doc.toString();
  if (!text.trim() || text === checkedText) return;
  if (checkController) checkController.abort();
  const controller = new AbortController();
  checkController = controller;
  try {
    const result = await request("POST", "/api/check", { text }, { signal: controller.signal });
    if (view.state.doc !== doc) return; // typed meanwhile: the next check will come
    const at = utf16Offsets(text);
    const found = (result.problems || [])
      .map((problem) => ({ from: at(problem.start), to: at(problem.end), problem }))
      .filter(({ from, to, problem }) => from < to && !ignored.has(ignoreKey(text, from, problem)))
      .filter(({ from, to, problem }) => text.slice(from, to) === problem.flagged);
    checkedText = text;
    $("check-status").textContent = found.length ? `${found.length} to review` : "no problems found";
    view.dispatch({ effects: [setProblems.of(found), closeHoverTooltips] }); // a tooltip's problem is gone
  } catch {
    // aborted by typing, or the checker is unavailable: no underlines this time
  } finally {
    if (checkController === controller) checkController = null;
  }
}

function ignoreKey(text, from, problem) {
  return `${problem.rule_id}\u0000${problem.flagged}\u0000${text.slice(Math.max(from - 20, 0), from)}`;
}

function ignore(view, problem) {
  sendFeedback(problem.suggestion_id, "reject");
  const range = rangeOf(view.state, problem);
  if (range) ignored.add(ignoreKey(view.state.doc.toString(), range.from, problem));
  view.dispatch({ effects: [dropProblem.of(problem), closeHoverTooltips] });
}

function fix(view, problem, replacement) {
  const range = rangeOf(view.state, problem);
  if (!range || view.state.sliceDoc(range.from, range.to) !== problem.flagged) return;
  const first = (problem.suggestions || [])[0];
  if (replacement === first) sendFeedback(problem.suggestion_id, "accept");
  else sendFeedback(problem.suggestion_id, "edited_after_accept", replacement);
  view.dispatch({
    changes: { from: range.from, to: range.to, insert: replacement },
    selection: { anchor: range.from + replacement.length },
    effects: closeHoverTooltips,
    userEvent: "input.fix",
  });
  view.focus();
  check();
}

function tipFor(view, problem) {
  const tip = el("div", "problem-tip");
  tip.id = "problem-tip";
  tip.setAttribute("role", "tooltip");
  const fixes = el("div", "fixes");
  for (const s of (problem.suggestions || []).slice(0, 4)) {
    fixes.append(button(s || "(delete)", () => fix(view, problem, s), "fix"));
  }
  if (!fixes.childElementCount) fixes.append(el("span", "muted", "no suggestion"));
  fixes.append(button("Ignore", () => ignore(view, problem), "ignore"));
  tip.append(el("div", "reason", problem.message), el("div", "rule muted", problem.rule_id), fixes);
  return tip;
}

const problemTooltip = hoverTooltip(
  (view, pos, side) => {
    let hit = null;
    view.state.field(problemField).between(pos, pos, (from, to, mark) => {
      if ((from < pos || (from === pos && side > 0)) && (to > pos || (to === pos && side < 0))) {
        hit = { from, to, problem: mark.spec.problem };
        return false;
      }
      return undefined;
    });
    if (!hit) return null;
    const { problem } = hit;
    return { pos: hit.from, end: hit.to, above: false, create: () => ({ dom: tipFor(view, problem) }) };
  },
  { hideOnChange: true, hoverTime: 200 },
);

// -- wiring ------------------------------------------------------------------------------------------------

/** The CodeMirror extensions of the writing aids (given to ``createEditor``). */
export function assistExtensions() {
  return [
    ghostField,
    problemField,
    problemTooltip,
    Prec.highest(
      keymap.of([
        { key: "Tab", run: acceptGhost },
        { key: "Escape", run: dismissGhost },
      ]),
    ),
    EditorView.domEventObservers({
      keydown(event) {
        if (event.key.length === 1 || event.key === "Enter" || event.key === "Backspace") lastKeyAt = Date.now();
      },
      blur(_event, view) {
        dropGhost(view);
      },
    }),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) afterChange(update);
      if (update.startState.field(ghostField) !== update.state.field(ghostField)) {
        $("ghost-hint").hidden = !update.state.field(ghostField);
      }
    }),
  ];
}

export function initAssist() {
  editor.onChange(({ loaded }) => {
    checkedText = null;
    if (loaded) {
      abortSuggest();
      $("ghost-hint").hidden = true;
      $("check-status").textContent = "";
    }
    scheduleCheck();
  });
  $("check").addEventListener("click", () => {
    checkedText = null;
    check();
  });
}

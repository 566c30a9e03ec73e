// The document editor: a CodeMirror 6 view (vendor/codemirror.js, built by web-src/ from pinned npm packages)
// with Markdown highlighting, line wrapping, undo history, search (Mod-f) and the default keymap. The other
// modules reach the text only through ``editor`` below; offsets are the editor's, UTF-16 code units (the
// server counts code points: ui.js's ``utf16Offsets`` converts).
//
// The page's Content-Security-Policy allows styles from this origin only, plus one nonce per page load:
// CodeMirror injects its own <style> element, which carries that nonce (``EditorView.cspNonce``). The server
// writes the nonce into the stylesheet link of index.html; ``link.nonce`` reads it (the attribute itself is
// hidden from the DOM once parsed).
//
// ``window.draftsmithEditor`` is ``editor``, for the browser tests and for automation: a page script could do
// the same through the DOM, so it gives nothing away.

import {
  defaultHighlightStyle,
  defaultKeymap,
  EditorSelection,
  EditorState,
  EditorView,
  history,
  historyKeymap,
  keymap,
  LanguageSupport,
  markdownKeymap,
  markdownLanguage,
  placeholder,
  Prec,
  search,
  searchKeymap,
  syntaxHighlighting,
} from "./vendor/codemirror.js";

let view = null;
let extensions = [];
const listeners = []; // called with {loaded} after every change of the text

function notify(loaded) {
  for (const listener of listeners) listener({ loaded });
}

function styleNonce() {
  const link = document.querySelector('link[rel="stylesheet"][nonce]');
  return link ? link.nonce : "";
}

function makeState(text) {
  return EditorState.create({ doc: text, extensions });
}

/** Create the editor in ``parent``, with ``extra`` extensions (the writing aids). */
export function createEditor(parent, extra = []) {
  extensions = [
    EditorView.cspNonce.of(styleNonce()),
    new LanguageSupport(markdownLanguage),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    EditorView.lineWrapping,
    history(),
    search({ top: true }),
    placeholder("Write here…"),
    EditorView.contentAttributes.of({ "aria-label": "Document text", spellcheck: "false" }),
    Prec.high(keymap.of(markdownKeymap)),
    keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap]),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) notify(false);
    }),
    extra,
  ];
  view = new EditorView({ state: makeState(""), parent });
  window.draftsmithEditor = editor;
  return view;
}

export const editor = {
  get view() {
    return view;
  },
  /** The whole text. */
  text() {
    return view.state.doc.toString();
  },
  /** The text between two offsets. */
  slice(from, to) {
    return view.state.sliceDoc(from, to);
  },
  get length() {
    return view.state.doc.length;
  },
  /** The main selection as {from, to} (equal when it is a caret). */
  selection() {
    const { from, to } = view.state.selection.main;
    return { from, to };
  },
  select(from, to = from) {
    view.dispatch({ selection: EditorSelection.single(from, to), scrollIntoView: true });
  },
  /** Replace ``from``–``to`` with ``text`` (one undo step); ``select``: select the new text, else the selection
   * moves with the text around it. */
  replace(from, to, text, { select = false } = {}) {
    view.dispatch({
      changes: { from, to, insert: text },
      selection: select ? EditorSelection.single(from, from + text.length) : undefined,
      scrollIntoView: select,
      userEvent: "input.replace",
    });
  },
  /** Show another document: new text, caret at the start, a fresh undo history. */
  load(text) {
    view.setState(makeState(text));
    notify(true);
  },
  focus() {
    view.focus();
  },
  hasFocus() {
    return view.hasFocus;
  },
  /** Call ``listener({loaded})`` after every change of the text (``loaded``: another document was shown). */
  onChange(listener) {
    listeners.push(listener);
  },
};

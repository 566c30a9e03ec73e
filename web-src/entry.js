// What the draftsmith editor (src/draftsmith/web/editor.js and assist.js) uses from CodeMirror 6, re-exported
// from one module so that esbuild can bundle it into src/draftsmith/web/vendor/codemirror.js (tree-shaken:
// only what is named here, and what it needs, ends up in the bundle).
//
// Markdown comes from `markdownLanguage` (CommonMark + GFM) and `markdownKeymap`, not from `markdown()`: that
// function's default nests an HTML parser, which would pull @codemirror/lang-html, lang-css and
// lang-javascript into the bundle for tags inside a prose document.

export { EditorSelection, EditorState, Prec, StateEffect, StateField } from "@codemirror/state";
export {
  closeHoverTooltips,
  Decoration,
  EditorView,
  hoverTooltip,
  keymap,
  placeholder,
  WidgetType,
} from "@codemirror/view";
export { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
export { defaultHighlightStyle, LanguageSupport, syntaxHighlighting } from "@codemirror/language";
export { markdownKeymap, markdownLanguage } from "@codemirror/lang-markdown";
export { search, searchKeymap } from "@codemirror/search";

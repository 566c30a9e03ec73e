// Small helpers shared by the editor's modules: element lookup, the error banner, the status line.

import { ApiError, describe } from "./api.js";

export const $ = (id) => document.getElementById(id);

/** Show ``err`` (an ApiError or any error) in the banner, as text. */
export function showError(err) {
  $("error-text").textContent = typeof err === "string" ? err : describe(err);
  $("error").hidden = false;
  $("error").dataset.status = err instanceof ApiError ? String(err.status) : "";
}

export function clearError() {
  $("error").hidden = true;
  $("error-text").textContent = "";
}

export function setStatus(text) {
  $("op-status").textContent = text;
}

/** Make an element from a tag, optional class and text (always textContent). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function button(label, onClick, className) {
  const b = el("button", className, label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

/** Maps code point offsets into ``text`` to UTF-16 offsets (the server counts code points, the editor UTF-16). */
export function utf16Offsets(text) {
  if (!/[\uD800-\uDFFF]/.test(text)) return (i) => i;
  const map = [];
  let unit = 0;
  for (const ch of text) {
    map.push(unit);
    unit += ch.length;
  }
  map.push(unit);
  return (i) => map[Math.min(i, map.length - 1)];
}

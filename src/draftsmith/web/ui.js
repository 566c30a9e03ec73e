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

// Documents: list, open, create, save with base_version, conflicts (409), version history, what changed in a
// version (GET /api/documents/{id}/diff, shown as deleted and inserted words) and restore.
// A save never overwrites someone else's: on 409 the editor keeps the user's text and offers to reload
// theirs or to merge (their text is shown next to the editor and the next save is based on their version).
// Autosave (a checkbox, remembered in this browser): a saved document's changes are saved AUTOSAVE_MS after the
// last edit, with the note "autosave"; saves run one after another, each based on the version the last made.

import { ApiError, request } from "./api.js";
import { editor } from "./editor.js";
import { $, button, clearError, el, showError } from "./ui.js";
import { renderMarkdown } from "./render.js";

const doc = { id: null, version: null, savedText: "", savedTitle: "Untitled" };
const AUTOSAVE_MS = 3000;
const AUTOSAVE_KEY = "draftsmith.autosave";
let autosaveTimer = null;
let saving = null; // the save in flight

export function isDirty() {
  return editor.text() !== doc.savedText || $("title").value !== doc.savedTitle;
}

/** Show document ``d`` as saved; ``keepText``: it was just saved from this editor, so its text stays as it is
 * (with anything typed while the save was in flight, the caret and the undo history). */
function showDoc(d, { keepText = false } = {}) {
  doc.id = d.id;
  doc.version = d.version;
  doc.savedText = d.text;
  doc.savedTitle = d.title;
  if (!keepText) editor.load(d.text);
  $("title").value = d.title;
  hideConflict();
  updateBadges();
  if (!$("preview").hidden) renderMarkdown($("preview"), editor.text());
  const hash = `#doc=${encodeURIComponent(d.id)}`;
  if (window.location.hash !== hash) history.replaceState(null, "", hash);
}

export function updateBadges() {
  $("doc-version").textContent = doc.version ? `version ${doc.version}` : "not saved";
  $("dirty").textContent = isDirty() ? "unsaved changes" : "";
  scheduleAutosave();
}

function scheduleAutosave() {
  clearTimeout(autosaveTimer);
  if (!$("autosave").checked || doc.id === null || !isDirty() || !$("conflict").hidden) return;
  autosaveTimer = setTimeout(() => save({ auto: true }), AUTOSAVE_MS);
}

function confirmDiscard() {
  return !isDirty() || window.confirm("Discard the unsaved changes in the editor?");
}

export async function refreshList() {
  const list = $("doc-list");
  try {
    const docs = await request("GET", "/api/documents");
    list.replaceChildren(
      ...docs.map((d) => {
        const item = el("li");
        const open = button(d.title, () => openDoc(d.id), "link");
        open.dataset.docId = d.id;
        if (d.id === doc.id) open.classList.add("current");
        item.append(open, el("span", "muted", ` v${d.version}`));
        return item;
      }),
    );
    if (!docs.length) list.replaceChildren(el("li", "muted", "No documents yet."));
  } catch (err) {
    list.replaceChildren();
    showError(err);
  }
}

export async function openDoc(id) {
  if (!confirmDiscard()) return;
  try {
    showDoc(await request("GET", `/api/documents/${encodeURIComponent(id)}`));
    clearError();
    closeCompare();
    await Promise.all([refreshList(), refreshHistory()]);
  } catch (err) {
    showError(err);
  }
}

function newDoc() {
  if (!confirmDiscard()) return;
  Object.assign(doc, { id: null, version: null, savedText: "", savedTitle: "Untitled" });
  editor.load("");
  $("title").value = "Untitled";
  hideConflict();
  closeCompare();
  updateBadges();
  $("version-list").replaceChildren();
  history.replaceState(null, "", window.location.pathname);
  editor.focus();
}

/** Save now (the Save button, Ctrl+S), or ``{auto: true}``: only a saved document with changes, and nothing
 * shown is closed. Waits for a save in flight first, so the next one is based on the version it made. */
export async function save(options) {
  const auto = Boolean(options && options.auto === true);
  while (saving) await saving;
  saving = saveNow(auto);
  try {
    await saving;
  } finally {
    saving = null;
  }
}

async function saveNow(auto) {
  if (auto && (doc.id === null || !isDirty() || !$("conflict").hidden)) return;
  const text = editor.text();
  const title = $("title").value.trim() || "Untitled";
  try {
    let saved;
    if (doc.id === null) {
      saved = await request("POST", "/api/documents", { title, text });
    } else {
      const body = { text, base_version: doc.version };
      if (title !== doc.savedTitle) body.title = title;
      if (auto) body.note = "autosave";
      saved = await request("PUT", `/api/documents/${encodeURIComponent(doc.id)}`, body);
    }
    showDoc(saved, { keepText: true }); // an autosave must not move the caret or drop what was typed meanwhile
    if (!auto) {
      clearError();
      closeCompare();
    }
    updateBadges();
    await Promise.all([refreshList(), refreshHistory()]);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) showConflict(err);
    else showError(err);
  }
}

function showConflict(err) {
  const current = err.details && err.details[0] ? err.details[0].current_version : "?";
  $("conflict-version").textContent = String(current);
  $("conflict").hidden = false;
}

function hideConflict() {
  $("conflict").hidden = true;
}

async function fetchCurrent() {
  return request("GET", `/api/documents/${encodeURIComponent(doc.id)}`);
}

async function reloadTheirs() {
  try {
    showDoc(await fetchCurrent());
    closeCompare();
    await refreshHistory();
  } catch (err) {
    showError(err);
  }
}

async function mergeTheirs() {
  try {
    const theirs = await fetchCurrent();
    // The next save is based on their version; the editor keeps the user's text to combine by hand.
    doc.version = theirs.version;
    doc.savedText = theirs.text;
    doc.savedTitle = theirs.title;
    hideConflict();
    showCompare(
      `Their version ${theirs.version}`,
      theirs.text,
      "Combine both into the editor, then Save: it becomes the next version after theirs.",
    );
    updateBadges();
    await refreshHistory();
  } catch (err) {
    showError(err);
  }
}

function showCompare(title, text, note) {
  $("compare-title").textContent = title;
  $("compare-text").textContent = text;
  $("compare-note").textContent = note;
  $("compare").hidden = false;
}

function closeCompare() {
  $("compare").hidden = true;
}

export async function refreshHistory() {
  const list = $("version-list");
  if (doc.id === null) {
    list.replaceChildren();
    return;
  }
  try {
    const versions = await request("GET", `/api/documents/${encodeURIComponent(doc.id)}/versions`);
    list.replaceChildren(
      ...versions.reverse().map((v) => {
        const item = el("li", "version");
        item.dataset.version = String(v.version);
        const when = new Date(v.created_at * 1000).toLocaleString();
        const who = v.author ? ` · ${v.author}` : "";
        const note = v.note ? ` · ${v.note}` : "";
        item.append(
          el("span", "", `v${v.version} · ${when}${who}${note}`),
          button("View", () => viewVersion(v.version)),
          ...(v.version > 1 ? [button("Changes", () => showChanges(v.version))] : []),
          button("Restore", () => restore(v.version)),
        );
        return item;
      }),
    );
  } catch (err) {
    showError(err);
  }
}

async function viewVersion(version) {
  try {
    const v = await request("GET", `/api/documents/${encodeURIComponent(doc.id)}/versions/${version}`);
    showCompare(`Version ${v.version}: ${v.title}`, v.text, "Read-only. Restore makes it the current version again.");
  } catch (err) {
    showError(err);
  }
}

async function showChanges(version) {
  try {
    const d = await request("GET", `/api/documents/${encodeURIComponent(doc.id)}/diff?to_version=${version}`);
    showCompare(
      `Changes in version ${d.to_version} (from version ${d.from_version})`,
      "",
      `${d.inserted} characters inserted, ${d.deleted} deleted.`,
    );
    const parts = d.parts.map((p) =>
      p.op === "equal" ? document.createTextNode(p.text) : el(p.op === "insert" ? "ins" : "del", "", p.text),
    );
    $("compare-text").replaceChildren(...parts);
  } catch (err) {
    showError(err);
  }
}

async function restore(version) {
  if (isDirty()) {
    showError("Save or discard your changes before restoring a version.");
    return;
  }
  try {
    const restored = await request("POST", `/api/documents/${encodeURIComponent(doc.id)}/restore/${version}`);
    showDoc(restored);
    closeCompare();
    await Promise.all([refreshList(), refreshHistory()]);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) showConflict(err);
    else showError(err);
  }
}

function togglePreview() {
  const preview = $("preview");
  const showing = preview.hidden;
  if (showing) renderMarkdown(preview, editor.text());
  preview.hidden = !showing;
  $("editor").hidden = showing;
  $("preview-toggle").setAttribute("aria-pressed", String(showing));
  $("preview-toggle").textContent = showing ? "Edit" : "Preview";
}

export function initDocuments() {
  $("doc-new").addEventListener("click", newDoc);
  $("doc-refresh").addEventListener("click", refreshList);
  $("save").addEventListener("click", save);
  $("conflict-reload").addEventListener("click", reloadTheirs);
  $("conflict-merge").addEventListener("click", mergeTheirs);
  $("compare-close").addEventListener("click", closeCompare);
  $("preview-toggle").addEventListener("click", togglePreview);
  $("autosave").checked = localStorage.getItem(AUTOSAVE_KEY) === "on";
  $("autosave").addEventListener("change", () => {
    localStorage.setItem(AUTOSAVE_KEY, $("autosave").checked ? "on" : "off");
    scheduleAutosave();
  });
  editor.onChange(updateBadges);
  $("title").addEventListener("input", updateBadges);
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") {
      event.preventDefault();
      save();
    }
  });
  window.addEventListener("beforeunload", (event) => {
    if (isDirty()) event.preventDefault();
  });
  const match = /^#doc=([^&]+)$/.exec(window.location.hash);
  if (match) openDoc(decodeURIComponent(match[1]));
  updateBadges();
  refreshList();
}

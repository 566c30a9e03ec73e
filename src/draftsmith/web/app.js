// The editor page: wires the API key box, the error banner, documents and operations together.

import { getKey, request, setKey } from "./api.js";
import { initDocuments, refreshList } from "./documents.js";
import { assistExtensions, initAssist } from "./assist.js";
import { createEditor } from "./editor.js";
import { initOps } from "./ops.js";
import { initSources, loadBases, loadGraphs } from "./sources.js";
import { loadStyles } from "./styles.js";
import { $, clearError, showError } from "./ui.js";

function showKeyState() {
  $("key-state").textContent = getKey() ? "key set for this tab" : "no key";
  $("api-key").value = "";
}

function initKey() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault(); // the key stays in this tab: never sent as a form
    const key = $("api-key").value.trim();
    if (!key) {
      showError("Paste an API key first (draftsmith keys create USER prints one).");
      return;
    }
    setKey(key);
    showKeyState();
    clearError();
    refreshList();
    loadStyles();
    loadBases();
    loadGraphs();
  });
  $("key-forget").addEventListener("click", () => {
    setKey("");
    showKeyState();
    refreshList();
  });
  showKeyState();
}

async function checkReady() {
  try {
    await request("GET", "/readyz");
  } catch (err) {
    showError(err);
  }
}

createEditor($("editor"), assistExtensions());
initKey();
$("error-close").addEventListener("click", clearError);
initDocuments();
initOps();
initAssist();
initSources();
loadStyles();
checkReady();

// The sources panel: the knowledge bases to draft from (GET /api/kb), and the references of a grounded draft
// (POST /api/kb/{kb}/write or /api/kg/{kg}/write): number, where it comes from, the passage.
// Graph facts: the caller's knowledge graphs (GET /api/kg); "Related facts" lists what the chosen graph knows
// about the names in the selection (or the whole text), each fact with the passages it was read from
// (POST /api/kg/{kg}/facts); "Check facts" checks each sentence against the graph (POST /api/kg/{kg}/factcheck)
// and marks it supported, contradicted or not found, with the graph's evidence; clicking a claim selects it in
// the editor. Everything is text (textContent): a fact or a passage can hold anything a document held.

import { request } from "./api.js";
import { editor } from "./editor.js";
import { $, clearError, el, showError, utf16Offsets } from "./ui.js";

export async function loadBases() {
  const select = $("kb");
  const chosen = select.value;
  let bases = [];
  try {
    bases = await request("GET", "/api/kb");
  } catch {
    bases = [];
  }
  const options = bases.map((b) => {
    const option = el("option", "", `${b.name} (${b.documents})`);
    option.value = b.name;
    return option;
  });
  if (!options.length) {
    const none = el("option", "", "no knowledge base");
    none.value = "";
    options.push(none);
  }
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

/** Show the references of a grounded result (``GroundedResult.references``). */
export function showSources(result) {
  const list = $("sources");
  const refs = result.references || [];
  list.replaceChildren(
    ...refs.map((r) => {
      const item = el("li", "source");
      item.value = r.n;
      item.append(el("div", "where", r.where || r.source), el("div", "passage", r.text));
      return item;
    }),
  );
  $("sources-empty").hidden = refs.length > 0;
  $("sources-panel").hidden = false;
}

// -- graph facts -----------------------------------------------------------------------------------------

const VERDICTS = { supported: "supported", contradicted: "contradicted", not_found: "not found" };
let graphBusy = null; // the AbortController of the graph request in flight

export async function loadGraphs() {
  const select = $("kg");
  const chosen = select.value;
  let graphs = [];
  try {
    graphs = await request("GET", "/api/kg");
  } catch {
    graphs = [];
  }
  const options = graphs.map((g) => {
    const option = el("option", "", `${g.name} (${g.triples} facts)`);
    option.value = g.name;
    return option;
  });
  if (!options.length) {
    const none = el("option", "", "no knowledge graph");
    none.value = "";
    options.push(none);
  }
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

/** What the graph requests are about: the selection, or the whole text; offsets are the editor's. */
function selected() {
  let { from: start, to: end } = editor.selection();
  if (start === end) {
    start = 0;
    end = editor.length;
  }
  return { start, end, text: editor.slice(start, end) };
}

function predicateWords(predicate) {
  return String(predicate || "")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase();
}

function factLine(t) {
  return `${t.subject} — ${predicateWords(t.predicate)} — ${t.object}`;
}

function setGraphStatus(text) {
  $("graph-status").textContent = text;
}

function clearRelated() {
  $("graph-entities").hidden = true;
  $("graph-entities").textContent = "";
  $("graph-facts").replaceChildren();
}

function clearChecks() {
  $("fact-checks").replaceChildren();
}

/** Runs one graph request for the selection (one at a time; a new one aborts the last), after ``clear``. */
async function graphRequest(what, path, body, clear) {
  const kg = $("kg").value;
  const range = selected();
  if (!kg) {
    showError("Choose a knowledge graph first (POST /api/kg, or draftsmith kg build, makes one).");
    return null;
  }
  if (!range.text.trim()) {
    showError("Write or select some text first.");
    return null;
  }
  if (graphBusy) graphBusy.abort();
  const controller = new AbortController();
  graphBusy = controller;
  clearError();
  clear();
  setGraphStatus(`${what}: working…`);
  try {
    const result = await request("POST", `/api/kg/${encodeURIComponent(kg)}/${path}`, body(range.text), {
      signal: controller.signal,
    });
    return { result, range };
  } catch (err) {
    if (err.name === "AbortError") return null;
    setGraphStatus(`${what}: failed.`);
    showError(err);
    return null;
  } finally {
    if (graphBusy === controller) graphBusy = null;
  }
}

function factItem(fact) {
  const t = fact.triple;
  const item = el("li", "fact");
  item.dataset.status = t.status;
  const meta = t.status === "extracted" ? `extracted, confidence ${Number(t.confidence).toFixed(2)}` : t.status;
  item.append(el("div", "line", fact.line || factLine(t)), el("div", "meta muted", `fact ${t.id} · ${meta}`));
  for (const p of fact.passages || []) {
    item.append(el("div", "where", p.where ? `${p.document}, ${p.where}` : p.document), el("div", "passage", p.text));
  }
  if (!(fact.passages || []).length) {
    const from = (t.sources || []).map((s) => s.source).filter(Boolean);
    item.append(el("div", "origin muted", from.length ? `from ${from.join(", ")}` : "added by hand"));
  }
  return item;
}

export async function showRelatedFacts() {
  const answer = await graphRequest("Related facts", "facts", (text) => ({ text }), clearRelated);
  if (!answer) return;
  const { result } = answer;
  const names = result.entities || [];
  if (names.length) {
    $("graph-entities").textContent = `Names in the text the graph knows: ${names.join(", ")}`;
    $("graph-entities").hidden = false;
  }
  $("graph-facts").replaceChildren(...(result.facts || []).map(factItem));
  const n = (result.facts || []).length;
  setGraphStatus(
    n ? `${n} fact${n === 1 ? "" : "s"} from ${result.graph}.` : `${result.graph} knows no facts about the names here.`,
  );
}

function claimItem(claim, range) {
  const item = el("li", "claim");
  item.dataset.verdict = claim.verdict;
  const verdict = el("span", "verdict", VERDICTS[claim.verdict] || claim.verdict);
  const text = el("button", "claim-text", claim.claim);
  text.type = "button";
  text.title = "Select this sentence in the editor";
  text.addEventListener("click", () => selectClaim(claim, range));
  item.append(verdict, text);
  if (claim.reason) item.append(el("div", "reason muted", claim.reason));
  for (const e of claim.evidence || []) {
    item.append(el("div", `evidence ${e.relation}`, `${e.relation}: ${factLine(e.triple)}`));
  }
  return item;
}

function selectClaim(claim, range) {
  if (editor.slice(range.start, range.end) !== range.text) {
    showError("The text changed since the check; run Check facts again.");
    return;
  }
  const at = utf16Offsets(range.text);
  editor.focus();
  editor.select(range.start + at(claim.start), range.start + at(claim.end));
}

export async function checkFacts() {
  const answer = await graphRequest("Check facts", "factcheck", (text) => ({ text }), clearChecks);
  if (!answer) return;
  const { result, range } = answer;
  const claims = result.claims || [];
  $("fact-checks").replaceChildren(...claims.map((c) => claimItem(c, range)));
  const counts = `${result.supported} supported, ${result.contradicted} contradicted, ${result.not_found} not found`;
  const warnings = (result.warnings || []).join(" ");
  setGraphStatus(`${claims.length} claim${claims.length === 1 ? "" : "s"}: ${counts}.${warnings ? ` ${warnings}` : ""}`);
}

export function initSources() {
  $("kb-refresh").addEventListener("click", loadBases);
  $("kg-refresh").addEventListener("click", loadGraphs);
  $("kg-facts").addEventListener("click", showRelatedFacts);
  $("kg-check").addEventListener("click", checkFacts);
  loadBases();
  loadGraphs();
}

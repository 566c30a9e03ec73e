// The sources panel: the knowledge bases to draft from (GET /api/kb), and the references of a grounded draft
// (POST /api/kb/{kb}/write): number, where it comes from, the passage. Everything is text (textContent).
// Graph facts have a reserved, clearly labelled slot; nothing is shown there until the graph API exists.

import { request } from "./api.js";
import { $, el } from "./ui.js";

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

export function initSources() {
  $("kb-refresh").addEventListener("click", loadBases);
  loadBases();
}

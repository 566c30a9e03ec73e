// The style picker used by Rewrite: the styles the server offers (GET /api/styles: presets, the user's preset
// files, learned styles), grouped by kind. The built-in list in the page stays when the server cannot be asked.

import { request } from "./api.js";
import { $, el } from "./ui.js";

const KINDS = { preset: "Presets", "user preset": "Your presets", learned: "Learned styles" };

export async function loadStyles() {
  const select = $("style");
  const chosen = select.value;
  let listing;
  try {
    listing = await request("GET", "/api/styles");
  } catch {
    return; // keep the built-in options (no key yet, or an older server)
  }
  const groups = new Map();
  for (const style of listing.styles || []) {
    const kind = KINDS[style.kind] || style.kind;
    if (!groups.has(kind)) groups.set(kind, el("optgroup"));
    const group = groups.get(kind);
    group.label = kind;
    const option = el("option", "", style.name);
    option.value = style.name;
    option.title = style.description || "";
    group.append(option);
  }
  if (!groups.size) return;
  select.replaceChildren(...groups.values());
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

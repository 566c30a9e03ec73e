// The style picker used by Rewrite: the styles the server offers (GET /api/styles: presets, the user's preset
// files, learned styles), grouped by kind, then the caller's own learned profiles (sent as ``profile_id``).
// The built-in list in the page stays when the server cannot be asked.

import { request } from "./api.js";
import { $, el } from "./ui.js";

const KINDS = { preset: "Presets", "user preset": "Your presets", learned: "Learned styles" };
const PROFILE = "profile:"; // option values of the caller's profiles (style names never hold a colon)

/** The rewrite body's style part for the picker's choice: ``{style}`` or ``{profile_id}``. */
export function styleChoice() {
  const value = $("style").value;
  return value.startsWith(PROFILE) ? { profile_id: value.slice(PROFILE.length) } : { style: value };
}

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
  const profiles = listing.profiles || [];
  if (profiles.length) {
    const group = el("optgroup");
    group.label = "Your profiles";
    for (const profile of profiles) {
      const option = el("option", "", profile.name);
      option.value = PROFILE + profile.id;
      option.title = `learned from ${profile.texts} texts (${profile.language})`;
      group.append(option);
    }
    groups.set(group.label, group);
  }
  if (!groups.size) return;
  select.replaceChildren(...groups.values());
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

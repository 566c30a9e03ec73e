// Safe rendering of model output and documents. Everything becomes DOM nodes built with createElement and
// textContent, never innerHTML: raw HTML in the text shows as text. Markdown covers headings, paragraphs,
// lists, quotes, code, emphasis and links. Links keep only http(s) and mailto URLs (javascript:, data: and
// the like become plain text) and open with no referrer; images are never loaded (a model's output could
// point them at an address that records the page's data), they show as "[image: alt]".

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

/** The URL if it may be a link target, else null. */
export function safeHref(raw) {
  const text = String(raw || "").trim();
  if (!text) return null;
  let url;
  try {
    url = new URL(text, window.location.href);
  } catch {
    return null;
  }
  return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Replace the children of ``container`` with ``text`` as plain text. */
export function renderText(container, text) {
  container.replaceChildren(document.createTextNode(String(text ?? "")));
}

/** Replace the children of ``container`` with ``text`` rendered as (safe) Markdown. */
export function renderMarkdown(container, text) {
  container.replaceChildren(...blocks(String(text ?? "").replace(/\r\n?/g, "\n")));
}

function blocks(source) {
  const lines = source.split("\n");
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      const code = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) code.push(lines[i++]);
      i++; // the closing fence
      const pre = el("pre");
      pre.append(el("code", "", code.join("\n")));
      out.push(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const h = el(`h${Math.min(heading[1].length + 2, 6)}`);
      h.append(...inline(heading[2]));
      out.push(h);
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      out.push(el("hr"));
      i++;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ""));
      const q = el("blockquote");
      q.append(...blocks(quoted.join("\n")));
      out.push(q);
      continue;
    }
    const bullet = /^\s*([-*+]|\d+[.)])\s+/;
    if (bullet.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = el(ordered ? "ol" : "ul");
      while (i < lines.length && bullet.test(lines[i])) {
        const item = el("li");
        item.append(...inline(lines[i++].replace(bullet, "")));
        list.append(item);
      }
      out.push(list);
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^(\s*(```|~~~|>|[-*+]\s|\d+[.)]\s)|#{1,6}\s)/.test(lines[i])) {
      para.push(lines[i++].trim());
    }
    if (!para.length) para.push(lines[i++].trim()); // a line no rule above took
    const p = el("p");
    p.append(...inline(para.join("\n")));
    out.push(p);
  }
  return out;
}

const INLINE =
  /(`+)([\s\S]*?[^`])\1(?!`)|!\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)|\[([^\]]+)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)|\*\*([\s\S]+?)\*\*|(?<!\w)__([\s\S]+?)__(?!\w)|\*(?!\s)([\s\S]+?)\*|\b_(?!\s)([\s\S]+?)_\b/g;

function inline(text) {
  const nodes = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) nodes.push(document.createTextNode(text.slice(last, m.index)));
    last = m.index + m[0].length;
    if (m[1]) {
      nodes.push(el("code", "", m[2]));
    } else if (m[4] !== undefined && m[0].startsWith("!")) {
      nodes.push(el("span", "image-placeholder", `[image: ${m[3] || "untitled"}]`));
    } else if (m[5] !== undefined) {
      nodes.push(link(m[5], m[6]));
    } else {
      const strong = m[7] ?? m[8];
      const node = el(strong !== undefined ? "strong" : "em");
      node.append(...inline(strong ?? m[9] ?? m[10]));
      nodes.push(node);
    }
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

function link(label, target) {
  const href = safeHref(target);
  if (!href) {
    const span = el("span", "unsafe-link");
    span.append(...inline(label));
    span.title = "link removed: only http, https and mailto links are kept";
    return span;
  }
  const a = el("a");
  a.append(...inline(label));
  a.href = href;
  a.rel = "noopener noreferrer nofollow";
  a.target = "_blank";
  a.referrerPolicy = "no-referrer";
  return a;
}

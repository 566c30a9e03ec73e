// Word-level differences between two texts (a selection and its rewrite), for the result pane: the parts in order,
// each kept ("equal"), inserted or deleted. The units are words and single other characters (each CJK character
// on its own), each with the spaces after it, so a change covers whole words and spaces never pair up unrelated
// words. Texts too long to compare quickly give null.

const TOKEN = /(?:[\u3400-\u9fff\uf900-\ufaff]|[\p{L}\p{N}]+(?:['’]\p{L}+)?|[^\s\p{L}\p{N}])\s*|\s+/gu;
const MAX_CELLS = 4_000_000; // tokens × tokens the comparison table may hold

function tokens(text) {
  return String(text ?? "").match(TOKEN) || [];
}

/** ``[{op, text}]`` turning ``before`` into ``after`` (longest common subsequence of tokens), or null. */
export function wordDiff(before, after) {
  const a = tokens(before);
  const b = tokens(after);
  if ((a.length + 1) * (b.length + 1) > MAX_CELLS) return null;
  const width = b.length + 1;
  const table = new Uint32Array((a.length + 1) * width); // table[i][j]: common tokens of a[i:] and b[j:]
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      table[i * width + j] =
        a[i] === b[j]
          ? table[(i + 1) * width + j + 1] + 1
          : Math.max(table[(i + 1) * width + j], table[i * width + j + 1]);
    }
  }
  const parts = [];
  const add = (op, text) => {
    const last = parts[parts.length - 1];
    if (last && last.op === op) last.text += text;
    else parts.push({ op, text });
  };
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      add("equal", a[i++]);
      j++;
    } else if (i < a.length && (j === b.length || table[(i + 1) * width + j] >= table[i * width + j + 1])) {
      add("delete", a[i++]); // deletions first: "old → new" reads in order
    } else {
      add("insert", b[j++]);
    }
  }
  return parts;
}

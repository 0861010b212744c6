// A malformed query, explained and mended: from the server's problem ("text: unterminated quote: '"' is
// never closed (position 1)") the page offers a corrected query to click, as Espacenet does. Pure functions.

const OPERATORS = /\b(AND|OR|NOT|NEAR(\/\d+)?|ADJ(\/\d+)?|TO)\b/g;

/** The 1-based position the server names ("(at position 12)"), or null. */
export function errorPosition(detail) {
  const match = /\bposition (\d+)\)/.exec(detail || "");
  return match ? Number(match[1]) : null;
}

/** The query as plain words: no quotes, brackets, fields or operators (always a valid query). */
export function asPlainWords(text) {
  return text.replace(OPERATORS, (op) => op.toLowerCase())
    .replace(/\b([A-Za-z]+):/g, "$1 ")
    .replace(/["()[\]{}~^<>=*?]/g, " ")
    .replace(/(^|\s)-(?=\S)/g, "$1")
    .replace(/\s+/g, " ").trim();
}

const cut = (text, at, length = 1) => text.slice(0, at) + text.slice(at + length);

/**
 * A corrected query for `text` given the server's problem `detail`: the smallest mend for the usual faults
 * (close a quote or a parenthesis, drop a stray one, drop an operator with nothing beside it, an unknown
 * field read as a word), else the query as plain words. "" when nothing better can be offered.
 */
export function correctedQuery(text, detail) {
  const pos = errorPosition(detail);
  const at = pos ? pos - 1 : -1;
  let fixed = "";
  if (/unterminated quote/.test(detail)) fixed = `${text}"`;
  else if (/'\(' is never closed/.test(detail)) fixed = `${text})`;
  else if (/'\)' has no matching/.test(detail) && text[at] === ")") fixed = cut(text, at);
  else if (/empty group/.test(detail)) fixed = text.replace(/\(\s*\)/, " ");
  else if (/ends after/.test(detail)) fixed = text.replace(/\s*\b(AND|OR|NOT|NEAR(\/\d+)?|ADJ(\/\d+)?)\s*$/, "");
  else if (/needs a term on both sides/.test(detail) && at >= 0) {
    const op = /^(AND|OR)\b/.exec(text.slice(at));
    if (op) fixed = cut(text, at, op[0].length);
  } else if (/unknown field/.test(detail) && at >= 0) {
    fixed = text.slice(0, at) + text.slice(at).replace(/^([A-Za-z]+):/, "$1 ");
  } else if (/unexpected character/.test(detail) && at >= 0) fixed = cut(text, at);
  fixed = fixed.replace(/\s+/g, " ").trim();
  if (!fixed || fixed === text.trim()) fixed = asPlainWords(text);
  return fixed && fixed !== text.trim() ? fixed : "";
}

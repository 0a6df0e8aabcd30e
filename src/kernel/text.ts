/**
 * Text PostgreSQL can store. It refuses U+0000 in any text (and in jsonb), and jsonb also refuses an
 * unpaired UTF-16 surrogate, which a JavaScript string can hold (JSON "\ud800") but Unicode cannot.
 * One check for every entry point, so such text is refused with the field's name instead of failing
 * a whole statement (or page) deep in SQL.
 */

// Without the u flag: the regexes see UTF-16 code units, so a lone half of a pair is visible.
const SUSPECT = /[\u0000\ud800-\udfff]/; // one quick pass; most text has neither
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Characters as PostgreSQL's length() counts them (code points): a JavaScript string's length counts
 * UTF-16 units, two for a character beyond the BMP (𠮷, in names), which a CHECK counts as one.
 */
export const characterCount = (text: string): number => [...text].length;

/** Why PostgreSQL cannot store this text, or null when it can. */
export function textProblem(text: string): string | null {
  if (!SUSPECT.test(text)) return null;
  if (text.includes('\u0000')) return 'must not contain U+0000 (NUL)';
  if (LONE_SURROGATE.test(text)) return 'must not contain an unpaired surrogate (not Unicode text)';
  return null;
}

// Control characters (C0, DEL, C1: line breaks, tabs) and the Unicode line and paragraph separators.
const CONTROL = /[\p{Cc}\u2028\u2029]/u;
const CONTROLS = /[\p{Cc}\u2028\u2029]/gu;

/** Whether the text holds a control character or a line break: what no one-line text may. */
export const hasControlCharacter = (text: string): boolean => CONTROL.test(text);

/**
 * Why this text cannot be one line, or null: what PostgreSQL cannot store, and any control character.
 * A line break in a name printed on a signed notice would start a line of the writer's own under
 * the union's seal.
 */
export function lineProblem(text: string): string | null {
  return textProblem(text) ?? (hasControlCharacter(text) ? 'must be one line: no line breaks, tabs or other control characters' : null);
}

/** The text with every control character (line breaks included) replaced by a space: to print it as a line. */
export function oneLine(text: string): string {
  return text.replace(CONTROLS, ' ');
}

/** The text with U+0000 and unpaired surrogates replaced by U+FFFD: to keep or show what was received. */
export function storableText(text: string): string {
  return text.replace(UNSTORABLE, '\uFFFD');
}

/** Why some string or key inside a JSON value cannot be stored, or null when all can. */
export function jsonTextProblem(value: unknown): string | null {
  if (typeof value === 'string') return textProblem(value);
  if (typeof value !== 'object' || value === null) return null;
  for (const [key, inner] of Object.entries(value)) {
    const problem = (Array.isArray(value) ? null : textProblem(key)) ?? jsonTextProblem(inner);
    if (problem) return problem;
  }
  return null;
}

/** A JSON value with every string and key made storable (see storableText), for a jsonb column. */
export function storableJson<T>(value: T): T {
  if (typeof value === 'string') return storableText(value) as T;
  if (Array.isArray(value)) return value.map(storableJson) as T;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [storableText(k), storableJson(v)])) as T;
}

/** A JSON object (not null, not an array): what a record, a payload or a jsonb row must be. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * File names of uploaded parts are relative paths that are kept (`out/report.md`). A name is
 * accepted only when it is safe on every platform a buyer or executor may write it to: no way
 * out of its folder, nothing a filesystem or terminal would read differently than shown.
 */

export const MAX_PATH_BYTES = 1024;
export const MAX_SEGMENT_BYTES = 255;
export const MAX_DEPTH = 32;

export type NameCheck = { ok: true; path: string } | { ok: false; reason: string };

// C0 and C1 controls and DEL (matching them is the point here).
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Format characters (bidirectional overrides and isolates, zero-width characters, soft hyphen,
// tag characters, …), line and paragraph separators, default-ignorable code points (fillers,
// variation selectors, characters HFS+ ignores) and noncharacters: all make a name display
// differently than it is, or compare equal to another name somewhere.
const INVISIBLE =
  /[\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]/u;
// Characters Windows refuses in names (`\` is handled separately; `:` also means a drive or a stream).
const WINDOWS_FORBIDDEN = /[<>:"|?*]/;
// Percent-encoded bytes (`%2e`, overlong `%c0%ae`, double `%252e`) and IIS-style `%uXXXX`: a
// later decoder could turn them into `../` or an invisible character. Deliberately broad: a
// plain `%` (`100%.txt`) is fine, `%` followed by two hex digits is not.
const PERCENT_ESCAPE = /%[0-9a-f]{2}|%u[0-9a-f]{4}/i;
// Device names Windows reserves in any folder, with or without an extension.
// Windows ignores spaces before the extension when it checks for them (`CON .txt`).
const WINDOWS_RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³]) *(\..*)?$/i;

const utf8Length = (text: string) => Buffer.byteLength(text, "utf8");

function checkSegments(path: string): string | undefined {
  const segments = path.split("/");
  if (segments.length > MAX_DEPTH) return `more than ${MAX_DEPTH} folders deep`;
  for (const segment of segments) {
    if (segment === "") return "has an empty path segment (leading, trailing or double `/`)";
    if (segment === "." || segment === "..") return "has a `.` or `..` segment";
    if (utf8Length(segment) > MAX_SEGMENT_BYTES)
      return `has a segment longer than ${MAX_SEGMENT_BYTES} bytes`;
    if (/[. ]$/.test(segment)) return "has a segment ending in a dot or a space";
    if (/^\s/.test(segment)) return "has a segment starting with white space";
    if (WINDOWS_RESERVED.test(segment))
      return `uses the reserved device name ${segment.split(".")[0]}`;
  }
  return undefined;
}

/** Checks an uploaded file's name; the accepted path is the name itself, unchanged. */
export function checkFileName(name: string): NameCheck {
  const refuse = (reason: string): NameCheck => ({ ok: false, reason });
  if (name.length === 0) return refuse("is empty");
  if (!name.isWellFormed()) return refuse("is not valid Unicode");
  if (utf8Length(name) > MAX_PATH_BYTES) return refuse(`is longer than ${MAX_PATH_BYTES} bytes`);
  if (name.includes("\0")) return refuse("contains NUL");
  if (CONTROL.test(name)) return refuse("contains control characters");
  if (INVISIBLE.test(name)) return refuse("contains bidirectional or invisible format characters");
  if (name.includes("\\")) return refuse("contains a backslash");
  if (name.startsWith("/")) return refuse("is an absolute path");
  if (/^[a-z]:/i.test(name)) return refuse("starts with a drive letter");
  if (name.startsWith("~")) return refuse("starts with `~`");
  if (WINDOWS_FORBIDDEN.test(name)) return refuse('contains one of < > : " | ? *');
  if (PERCENT_ESCAPE.test(name)) return refuse("contains a percent-encoded byte");
  const segmentProblem = checkSegments(name);
  if (segmentProblem) return refuse(segmentProblem);
  // Compatibility forms (fullwidth dots and slashes, …) must not fold into anything refused.
  const folded = name.normalize("NFKC");
  if (folded !== name) {
    const again = checkFileName(folded);
    if (!again.ok) return refuse(`${again.reason} once Unicode-normalized (NFKC)`);
  }
  return { ok: true, path: name };
}

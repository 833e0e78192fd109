import mime from "mime-types";

/**
 * Media types of source files and other text a coding agent handles. Generic tables get these
 * wrong (`.ts` is an MPEG transport stream to them, `.rs` an XML format) or do not know them.
 */
const SOURCE_TYPES: Record<string, string> = {
  ts: "text/x-typescript",
  mts: "text/x-typescript",
  cts: "text/x-typescript",
  tsx: "text/x-typescript",
  js: "text/javascript",
  mjs: "text/javascript",
  cjs: "text/javascript",
  jsx: "text/javascript",
  py: "text/x-python",
  pyi: "text/x-python",
  go: "text/x-go",
  rs: "text/x-rust",
  java: "text/x-java",
  kt: "text/x-kotlin",
  kts: "text/x-kotlin",
  scala: "text/x-scala",
  groovy: "text/x-groovy",
  gradle: "text/x-groovy",
  c: "text/x-c",
  h: "text/x-c",
  cc: "text/x-c++",
  cpp: "text/x-c++",
  cxx: "text/x-c++",
  hh: "text/x-c++",
  hpp: "text/x-c++",
  cs: "text/x-csharp",
  fs: "text/x-fsharp",
  swift: "text/x-swift",
  m: "text/x-objective-c",
  mm: "text/x-objective-c",
  rb: "text/x-ruby",
  php: "text/x-php",
  pl: "text/x-perl",
  lua: "text/x-lua",
  r: "text/x-r",
  dart: "text/x-dart",
  ex: "text/x-elixir",
  exs: "text/x-elixir",
  erl: "text/x-erlang",
  hs: "text/x-haskell",
  ml: "text/x-ocaml",
  clj: "text/x-clojure",
  zig: "text/x-zig",
  nim: "text/x-nim",
  jl: "text/x-julia",
  sh: "text/x-shellscript",
  bash: "text/x-shellscript",
  zsh: "text/x-shellscript",
  ps1: "text/x-powershell",
  bat: "text/x-bat",
  sql: "text/x-sql",
  vue: "text/x-vue",
  svelte: "text/x-svelte",
  astro: "text/x-astro",
  graphql: "text/x-graphql",
  proto: "text/x-protobuf",
  tf: "text/x-terraform",
  md: "text/markdown",
  markdown: "text/markdown",
  rst: "text/x-rst",
  adoc: "text/x-asciidoc",
  patch: "text/x-diff",
  diff: "text/x-diff",
  toml: "text/x-toml",
  yaml: "text/yaml",
  yml: "text/yaml",
  ini: "text/plain",
  cfg: "text/plain",
  conf: "text/plain",
  properties: "text/plain",
  lock: "text/plain",
  log: "text/plain",
  txt: "text/plain",
  sarif: "application/sarif+json",
};

/** Files known by their whole name rather than an extension. */
const TEXT_NAMES = new Set([
  "makefile",
  "dockerfile",
  "containerfile",
  "gemfile",
  "rakefile",
  "procfile",
  "license",
  "readme",
  "changelog",
  "codeowners",
]);

/** The media type stored and served for a file, from its path. */
export function mediaType(path: string): string {
  const name = (path.split("/").pop() ?? path).toLowerCase();
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 ? name.slice(dot + 1) : "";
  const source = SOURCE_TYPES[extension];
  if (source) return source;
  if (TEXT_NAMES.has(name) || (dot === 0 && !name.includes(".", 1))) return "text/plain";
  return mime.lookup(name) || "application/octet-stream";
}

import { fileTypeFromBuffer, supportedExtensions, supportedMimeTypes } from "file-type";
import { StorageError } from "../errors.ts";

/** How many leading bytes the sniffer looks at (file-type's own recommendation). */
export const SNIFF_BYTES = 4100;

/** Extensions that promise text: binary content behind them is a disguise. */
const TEXT_EXTENSIONS = new Set([
  "txt",
  "json",
  "yaml",
  "yml",
  "csv",
  "tsv",
  "md",
  "log",
  "proto",
  "ini",
  "toml",
  "env",
]);
/** Types file-type may detect in text files; they do not make a text file binary. */
const TEXTUAL_DETECTIONS = new Set(["xml", "svg", "html", "ics", "vtt", "srt"]);
const EXECUTABLES = new Set([
  "exe",
  "elf",
  "macho",
  "dll",
  "msi",
  "class",
  "wasm",
  "deb",
  "rpm",
  "apk",
  "dmg",
]);
/** Containers that several extensions legitimately share. */
const COMPATIBLE: Record<string, string[]> = {
  jpeg: ["jpg"],
  jpg: ["jpeg"],
  tif: ["tiff"],
  tiff: ["tif"],
  docx: ["zip"],
  xlsx: ["zip"],
  pptx: ["zip"],
  odt: ["zip"],
  ods: ["zip"],
  odp: ["zip"],
  epub: ["zip"],
  jar: ["zip"],
  apk: ["zip", "jar"],
  tgz: ["gz"],
  gz: ["tgz"],
  h5: ["hdf5"],
};

const BY_EXTENSION: Record<string, string> = {
  txt: "text/plain; charset=utf-8",
  log: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  json: "application/json",
  yaml: "application/yaml",
  yml: "application/yaml",
  proto: "text/x-protobuf; charset=utf-8",
  doc: "application/msword",
  pickle: "application/octet-stream",
  pkl: "application/octet-stream",
  h5: "application/x-hdf5",
};

export interface SniffInput {
  /** The first bytes of the content (up to SNIFF_BYTES). */
  head: Uint8Array;
  /** Lowercase extension of the key ("" when none). */
  extension: string;
  /** The content type the caller declared, if any. */
  declaredType?: string;
}

/**
 * Checks that content is what its name and declared type claim, by magic bytes, and returns the
 * content type to store. Refuses (UNSUPPORTED_TYPE): a recognisable extension whose bytes are
 * something else (a `.pdf` that is not a PDF), binary or executable content behind a text
 * extension, an executable behind any other name, and a declared type the bytes contradict.
 * Executables hidden after these first bytes are the streaming scanner's job (executable-scan.ts).
 */
export async function sniffContent({ head, extension, declaredType }: SniffInput): Promise<string> {
  const detected = head.length > 0 ? await fileTypeFromBuffer(head) : undefined;
  const found = detected?.ext;
  const matches = (ext: string) => found === ext || (COMPATIBLE[ext] ?? []).includes(found ?? "");
  const refuse = (message: string) =>
    new StorageError("UNSUPPORTED_TYPE", message, {
      field: "content",
      ...(found ? { detected: found } : {}),
    });

  if (extension && supportedExtensions.has(extension as never) && !TEXTUAL_DETECTIONS.has(extension)) {
    if (!matches(extension)) {
      throw refuse(`The content is not a .${extension} file${found ? ` (it looks like ${found})` : ""}.`);
    }
  }
  if (found && !TEXTUAL_DETECTIONS.has(found)) {
    if (TEXT_EXTENSIONS.has(extension))
      throw refuse(`A .${extension} file must hold text, but this looks like ${found}.`);
    if (EXECUTABLES.has(found) && !matches(extension)) {
      throw refuse(`Executable content (${found}) is refused under the name '.${extension || "(none)"}'.`);
    }
  }
  const declared = declaredType?.trim().toLowerCase();
  if (declared && declared !== "application/octet-stream") {
    const base = declared.split(";")[0]?.trim() ?? "";
    const recognisable =
      supportedMimeTypes.has(base as never) ||
      base.startsWith("text/") ||
      EXECUTABLES.has(detected?.ext ?? "");
    if (detected && !TEXTUAL_DETECTIONS.has(detected.ext) && base !== detected.mime && recognisable) {
      throw refuse(`The declared content type ${base} does not match the content (${detected.mime}).`);
    }
    return declaredType?.trim() ?? declared;
  }
  return detected?.mime ?? BY_EXTENSION[extension] ?? "application/octet-stream";
}

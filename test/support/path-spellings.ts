const encodeChar = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`;

/** The family of spellings of one path that a router, a proxy or a client might treat as the same. */
export function spellings(path: string): string[] {
  // path is "/v1/<second>/<rest...>"
  const rest = path.slice("/v1".length); // "/<second>/..."
  const second = rest.slice(1);
  const out = [
    path,
    `/%761${rest}`,
    `/v%31${rest}`,
    `/%76%31${rest}`,
    `/%56%31${rest}`,
    `/V1${rest}`,
    `/v1/${encodeChar(second[0] ?? "x")}${second.slice(1)}`,
    `//v1${rest}`,
    `/v1/${rest}`,
    `${path}/`,
    `/v1/.${rest}`,
    `/v1/%2e${rest}`,
    `/x/..${path}`,
    `/x/%2e%2e${path}`,
    `/v1;a=b${rest}`,
    `${path};a=b`,
    `/v1%2F${second}`,
    `/v1%2f${second}`,
    `/v1\\${second}`,
    `http://127.0.0.1${path}`,
    `http://x/%761${rest}`,
    `HTTP://x${path}`,
    `${path}?x-id=1&recursive=true&prefix=`,
  ];
  return [...new Set(out)];
}

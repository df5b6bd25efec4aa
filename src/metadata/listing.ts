/** Escapes LIKE wildcards so a key prefix matches literally (used with `escape '\'`). */
export const likePrefix = (prefix: string): string => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

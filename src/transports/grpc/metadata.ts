import type { Metadata } from "@grpc/grpc-js";

/**
 * Request metadata the server reads, shared with the TypeScript client: the API key
 * (`authorization: Bearer <token>`, as the HTTP header) and the user a call acts for, which binds
 * `{user_id}` in the key's scopes.
 */
export const AUTHORIZATION_KEY = "authorization";
export const USER_ID_KEY = "x-user-id";

/** The first value of a text metadata key. */
export const metadataText = (metadata: Metadata, key: string): string | undefined => {
  const value = metadata.get(key)[0];
  return typeof value === "string" ? value : undefined;
};

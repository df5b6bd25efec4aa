import { StorageError } from "../../errors.ts";
import { errorFromFetch, errorFromResponse } from "./errors.ts";
import type { RemoteTarget } from "./target.ts";

/**
 * fetch() against one service: its base URL, the bearer token, and every failure as a StorageError
 * (refusals from the problem document, unreachable services as UNAVAILABLE).
 */
export interface ServiceClient {
  readonly base: string;
  /** Resolves only with a 2xx response; `what` names the operation in fallback messages. */
  send(path: string, init: RequestInit, what: string): Promise<Response>;
  /** A JSON request (body serialised when given) whose JSON answer is returned. */
  json<T>(method: string, path: string, body: unknown, what: string): Promise<T>;
}

/** A key path with each segment percent-encoded (keys keep their slashes). */
export const keyPath = (key: string) => key.split("/").map(encodeURIComponent).join("/");

export const objectPath = (bucket: string, key: string, versionId?: string) =>
  `/v1/buckets/${encodeURIComponent(bucket)}/objects/${keyPath(key)}${
    versionId ? `?versionId=${encodeURIComponent(versionId)}` : ""
  }`;

const NO_TOKEN_HINT =
  " No token was given: pass --token, set LUMENSLATE_TOKEN, or run `lumenslate-storage login <url>`.";

export function serviceClient(target: RemoteTarget): ServiceClient {
  const base = target.url;
  const send = async (path: string, init: RequestInit, what: string): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (target.token) headers.set("authorization", `Bearer ${target.token}`);
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { ...init, headers });
    } catch (err) {
      throw errorFromFetch(err, base);
    }
    if (res.ok) return res;
    const error = await errorFromResponse(res, what);
    if (error.code === "UNAUTHENTICATED" && !target.token) {
      throw new StorageError(error.code, error.message + NO_TOKEN_HINT, error.details);
    }
    throw error;
  };
  return {
    base,
    send,
    json: async <T>(method: string, path: string, body: unknown, what: string): Promise<T> => {
      const res = await send(
        path,
        {
          method,
          headers: {
            accept: "application/json",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        },
        what,
      );
      try {
        return (await res.json()) as T;
      } catch (err) {
        throw new StorageError("INTERNAL", `${what}: the service's answer is not JSON.`, {}, { cause: err });
      }
    },
  };
}

import { asStorageError, isStorageError } from "../../../errors.ts";
import type { AccessRequest, AuditEvent, CallInfo, Principal, Security } from "../../../security/index.ts";
import { presentedKeyId } from "../interceptors/auth.ts";
import { addressFromPeer } from "../interceptors/rate-limit.ts";
import { AUTHORIZATION_KEY, metadataText, USER_ID_KEY } from "../metadata.ts";
import type { ServerCallLike } from "./call-scope.ts";

/** What a mutating call's audit record says about its target, filled in as the call learns it. */
export type AuditFacts = Pick<AuditEvent, "bucket" | "key" | "versionId" | "bytes" | "details">;

/**
 * Authorization and audit for one StorageService call. The auth interceptor has already
 * authenticated the caller; `allow` runs `security.check` once bucket and key are known (the first
 * message), before any store call. The check is a pure function of the key and the request, so a
 * refusal never depends on whether the object exists. `check` audits refusals itself; `mutation`
 * records the outcome of a mutating call once, and nothing more after a refusal.
 */
export class CallGate {
  readonly #security: Security;
  readonly #info: CallInfo;
  readonly #userId: string | undefined;
  #principal: Principal | undefined;
  #refused = false;

  constructor(security: Security, call: ServerCallLike, requestId: string) {
    this.#security = security;
    this.#info = {
      authorization: metadataText(call.metadata, AUTHORIZATION_KEY),
      clientAddress: addressFromPeer(call.getPeer()),
      protocol: "grpc",
      ...(requestId ? { requestId } : {}),
    };
    this.#userId = metadataText(call.metadata, USER_ID_KEY);
  }

  /** Throws PERMISSION_DENIED (audited by check) unless the caller may do this; `x-user-id` binds `{user_id}`. */
  async allow(access: Omit<AccessRequest, "bindings">): Promise<Principal> {
    try {
      const principal = await this.#security.check(this.#info, {
        ...access,
        bindings: this.#userId === undefined ? {} : { user_id: this.#userId },
      });
      this.#principal ??= principal;
      return principal;
    } catch (err) {
      if (isStorageError(err)) this.#refused = true;
      throw err;
    }
  }

  /**
   * Runs a mutating call and stores one audit record with its outcome (OK or the error code the
   * caller gets) before the caller is answered. `run` fills in `facts` as it learns them.
   */
  async mutation<T>(operation: string, run: (facts: AuditFacts) => Promise<T>): Promise<T> {
    const facts: AuditFacts = {};
    let result: T;
    try {
      result = await run(facts);
    } catch (err) {
      await this.#record(operation, asStorageError(err).code, facts);
      throw err;
    }
    await this.#record(operation, "OK", facts);
    return result;
  }

  async #record(operation: string, result: string, facts: AuditFacts): Promise<void> {
    if (this.#refused) return; // check has recorded the refusal
    await this.#security.recordAudit({
      keyId: this.#principal?.keyId ?? presentedKeyId(this.#info.authorization),
      service: this.#principal?.service ?? null,
      protocol: "grpc",
      action: operation,
      result,
      requestId: this.#info.requestId ?? null,
      clientAddress: this.#info.clientAddress,
      ...facts,
    });
  }
}

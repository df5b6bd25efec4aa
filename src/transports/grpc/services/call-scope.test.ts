import { EventEmitter } from "node:events";
import { Metadata } from "@grpc/grpc-js";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Security } from "../../../security/index.ts";
import { openScope, type ServerCallLike } from "./call-scope.ts";

/** A grpc-js server call as openScope sees it: an emitter of 'cancelled' with a deadline. */
function fakeCall(deadline: number = Infinity): ServerCallLike & EventEmitter {
  return Object.assign(new EventEmitter(), {
    metadata: new Metadata(),
    cancelled: false,
    getDeadline: () => deadline,
    getPath: () => "/x",
    getPeer: () => "127.0.0.1:5000",
  });
}

const open = (call: ServerCallLike) => openScope(call, pino({ level: "silent" }), {} as Security);

describe("openScope", () => {
  it("aborts the signal with CANCELLED when the call is cancelled before the handler answered", () => {
    const call = fakeCall();
    const scope = open(call);
    call.emit("cancelled");
    expect(scope.signal.aborted).toBe(true);
    expect(scope.signal.reason).toMatchObject({ code: "CANCELLED" });
  });

  it("says DEADLINE_EXCEEDED when the call ends after its deadline", () => {
    const call = fakeCall(Date.now() - 1000);
    const scope = open(call);
    call.emit("cancelled");
    expect(scope.signal.reason).toMatchObject({ code: "DEADLINE_EXCEEDED" });
  });

  it("ignores the 'cancelled' grpc-js emits after the handler answered", () => {
    const call = fakeCall();
    const scope = open(call);
    scope.answered();
    expect(call.listenerCount("cancelled")).toBe(0);
    call.emit("cancelled");
    expect(scope.signal.aborted).toBe(false);
  });
});

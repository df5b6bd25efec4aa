import * as crypto from "node:crypto";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { connect, type StorageClient } from "../packages/client/src/index.ts";
import type { AuditRecord } from "../src/security/index.ts";
import { formatToken, generateSecret } from "../src/security/tokens.ts";
import { type GrpcServer, startGrpcServer } from "../src/transports/grpc/server.ts";
import type { Problem } from "../src/transports/http/problem.ts";
import { type HttpServer, startHttpServer } from "../src/transports/http/server.ts";
import type { TestApp } from "./support/app.ts";
import {
  createCapturedApp,
  failure,
  issueToken,
  keyIdOf,
  LogCapture,
  NO_RETRY,
  unknownToken,
} from "./support/grpc.ts";
import { bearer, expectProblem } from "./support/http.ts";

/**
 * What hostile probing found, checked over real sockets on one app serving HTTP and gRPC with its
 * real logger captured: a request id that carries an API key is neither echoed nor logged nor
 * audited; an unknown key id and a wrong secret cost the same scrypt work and get the same answer;
 * and failed guesses for one key id are limited across client addresses (the HTTP client binds
 * 127.0.0.2, .3, ... — Linux routes all of 127.0.0.0/8 to loopback).
 */

// Counts scrypt derivations in this process (the app runs in it): the slow work itself is what must
// happen for an unknown key id as it does for a wrong secret. Nothing else is changed.
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return { ...actual, scrypt: vi.fn(actual.scrypt) };
});
const scrypt = vi.mocked(crypto.scrypt);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FAILURE_LIMIT = 3;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A GET over a fresh connection from `localAddress` (fetch cannot pick its source address). */
function getFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, localAddress, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const problemOf = (answer: Answer) => JSON.parse(answer.body) as Problem;

describe("security probing", () => {
  const logs = new LogCapture();
  let app: TestApp;
  let http: HttpServer;
  let grpc: GrpcServer;
  let grpcAddress: string;
  const clients: StorageClient[] = [];
  let admin: string;
  let temp: string;
  let since: Date;

  const grpcClient = (token: string) => {
    const client = connect(grpcAddress, { token, retry: NO_RETRY });
    clients.push(client);
    return client;
  };
  const auditFor = async (filter: (r: AuditRecord) => boolean) =>
    (await app.security.audit.query({ since, limit: 10_000 })).filter(filter);

  beforeAll(async () => {
    since = new Date(Date.now() - 60_000);
    app = await createCapturedApp(logs, {
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      AUTH_KEY_FAILURE_LIMIT: String(FAILURE_LIMIT),
      AUTH_KEY_FAILURE_WINDOW: "10m",
      // Short, so one test can see a verified token's cache entry expire.
      AUTH_KEY_CACHE_TTL: "1s",
    });
    admin = await issueToken(app, "probe-admin", ["*:admin"]);
    temp = app.config.buckets.temp;
    http = await startHttpServer(app);
    grpc = await startGrpcServer(app, { host: "127.0.0.1", port: 0 });
    grpcAddress = `127.0.0.1:${grpc.port}`;
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await grpc?.close(1);
    await http?.close();
    await app?.dispose();
  });
  beforeEach(() => {
    scrypt.mockClear();
  });

  describe("x-request-id carrying an API key", () => {
    it("HTTP: is replaced by a fresh id, never echoed, logged or audited", async () => {
      const leaked = await issueToken(app, "probe-leaky", [`${temp}:read`]);
      const missing = `${http.address}/v1/buckets/${temp}/objects/probe/missing.txt`;
      // The control: a plain id is honoured, so the replacement below is the rule at work.
      const plain = await fetch(missing, { headers: { ...bearer(admin), "x-request-id": "probe-ok.1" } });
      expect((await expectProblem(plain, 404, "NOT_FOUND")).requestId).toBe("probe-ok.1");

      const echoed: string[] = [];
      for (const id of [leaked, `trace_${leaked}`, `${leaked.toUpperCase()}`]) {
        const res = await fetch(missing, { headers: { ...bearer(admin), "x-request-id": id } });
        const problem = await expectProblem(res, 404, "NOT_FOUND");
        expect(problem.requestId).toMatch(UUID);
        echoed.push(problem.requestId);
      }
      // Refused calls are audited with their request id: the leaked key as request id, a bad key.
      const refused = await fetch(missing, {
        headers: { ...bearer(unknownToken()), "x-request-id": leaked },
      });
      const refusedId = (await expectProblem(refused, 401, "UNAUTHENTICATED")).requestId;
      expect(refusedId).toMatch(UUID);

      // The replacement ids are what the log lines and the audit record carry.
      for (const id of [...echoed, refusedId]) {
        expect(logs.lines.some((l) => l.requestId === id)).toBe(true);
      }
      const audited = await auditFor((r) => r.requestId === refusedId);
      expect(audited).toMatchObject([{ result: "UNAUTHENTICATED", protocol: "http" }]);
      logs.expectNoSecrets([leaked]);
      expect(JSON.stringify(await auditFor(() => true))).not.toContain(leaked.slice(21));
    });

    it("gRPC: is replaced by a fresh id, never echoed, logged or audited", async () => {
      const leaked = await issueToken(app, "probe-leaky-grpc", [`${temp}:read`]);
      const client = grpcClient(admin);
      const plain = await failure(
        client.stat({ bucket: temp, objectName: "probe/none" }, { requestId: "g-ok_1" }),
      );
      expect(plain.requestId).toBe("g-ok_1");

      const ids: string[] = [];
      for (const id of [leaked, `trace_${leaked}`]) {
        const err = await failure(client.stat({ bucket: temp, objectName: "probe/none" }, { requestId: id }));
        expect(err.code).toBe("NOT_FOUND");
        expect(err.requestId).toMatch(UUID);
        ids.push(err.requestId as string);
      }
      const stranger = grpcClient(unknownToken());
      const refused = await failure(
        stranger.stat({ bucket: temp, objectName: "probe/none" }, { requestId: `x_${leaked}` }),
      );
      expect(refused.code).toBe("UNAUTHENTICATED");
      expect(refused.requestId).toMatch(UUID);
      ids.push(refused.requestId as string);

      for (const id of ids) {
        expect(logs.lines.some((l) => l.msg === "grpc call" && l.requestId === id)).toBe(true);
      }
      expect(await auditFor((r) => r.requestId === refused.requestId)).toMatchObject([
        { result: "UNAUTHENTICATED", protocol: "grpc" },
      ]);
      logs.expectNoSecrets([leaked]);
      expect(JSON.stringify(await auditFor(() => true))).not.toContain(leaked.slice(21));
    });
  });

  describe("an unknown key id and a wrong secret", () => {
    it("cost one scrypt derivation each and get the same answer (HTTP and gRPC)", async () => {
      const live = await issueToken(app, "probe-timing", [`${temp}:list`]);
      const cases = {
        wrongSecret: formatToken(keyIdOf(live), generateSecret()),
        unknownId: unknownToken(),
      };
      const list = `${http.address}/v1/buckets/${temp}/objects?prefix=probe/`;
      const httpAnswers: Record<string, unknown> = {};
      const grpcAnswers: Record<string, unknown> = {};
      for (const [name, token] of Object.entries(cases)) {
        scrypt.mockClear();
        const res = await fetch(list, { headers: bearer(token) });
        const { detail, title, code, status: httpStatus } = await expectProblem(res, 401, "UNAUTHENTICATED");
        expect(scrypt, `${name} over HTTP`).toHaveBeenCalledTimes(1);
        httpAnswers[name] = { detail, title, code, httpStatus, auth: res.headers.get("www-authenticate") };

        scrypt.mockClear();
        const err = await failure(grpcClient(token).list({ bucket: temp, prefix: "probe/" }));
        expect(scrypt, `${name} over gRPC`).toHaveBeenCalledTimes(1);
        grpcAnswers[name] = { code: err.code, grpcCode: status[err.grpcCode], message: err.message };
      }
      expect(httpAnswers.unknownId).toEqual(httpAnswers.wrongSecret);
      expect(grpcAnswers.unknownId).toEqual(grpcAnswers.wrongSecret);
      expect(grpcAnswers.wrongSecret).toMatchObject({ code: "UNAUTHENTICATED", grpcCode: "UNAUTHENTICATED" });
    });
  });

  describe("failed guesses for one key id", () => {
    it("are limited across client addresses; the locked id is refused on HTTP and gRPC", async () => {
      const victim = await issueToken(app, "probe-victim", [`${temp}:list`]);
      const bystander = await issueToken(app, "probe-bystander", [`${temp}:list`]);
      const list = `${http.address}/v1/buckets/${temp}/objects?prefix=probe/`;
      const guess = () => bearer(formatToken(keyIdOf(victim), generateSecret()));

      const guessers = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
      expect(guessers).toHaveLength(FAILURE_LIMIT);
      for (const address of guessers) {
        const answer = await getFrom(address, list, guess());
        expect({ address, status: answer.status, code: problemOf(answer).code }).toEqual({
          address,
          status: 401,
          code: "UNAUTHENTICATED",
        });
      }
      // Each address failed once (far below its own budget), yet the id's budget is spent.
      const limited = await getFrom("127.0.0.5", list, guess());
      expect({ status: limited.status, code: problemOf(limited).code }).toEqual({
        status: 429,
        code: "RATE_LIMITED",
      });
      expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
      // Documented choice: while locked, even the right secret is refused, unless this instance has
      // verified that token before (next test); the refusal costs no hashing.
      scrypt.mockClear();
      const right = await getFrom("127.0.0.6", list, bearer(victim));
      expect({ status: right.status, code: problemOf(right).code }).toEqual({
        status: 429,
        code: "RATE_LIMITED",
      });
      expect(scrypt).not.toHaveBeenCalled();
      const overGrpc = await failure(grpcClient(victim).list({ bucket: temp, prefix: "probe/" }));
      expect({ code: overGrpc.code, grpcCode: status[overGrpc.grpcCode] }).toEqual({
        code: "RATE_LIMITED",
        grpcCode: "RESOURCE_EXHAUSTED",
      });
      expect(overGrpc.retryAfterSeconds).toBeGreaterThan(0);
      // The id is locked, not the addresses: another key from a guessing address still works.
      expect((await getFrom("127.0.0.5", list, bearer(bystander))).status).toBe(200);

      // The server saw the guesses come from different addresses, all naming the victim's id.
      const guesses = await auditFor((r) => r.keyId === keyIdOf(victim) && r.result === "UNAUTHENTICATED");
      expect(new Set(guesses.map((r) => r.clientAddress))).toEqual(new Set(guessers));
    });

    it("do not lock out a token this instance has verified before", async () => {
      const busy = await issueToken(app, "probe-busy", [`${temp}:list`]);
      const list = `${http.address}/v1/buckets/${temp}/objects?prefix=probe/`;
      expect((await getFrom("127.0.0.7", list, bearer(busy))).status).toBe(200);
      for (const address of ["127.0.0.8", "127.0.0.9", "127.0.0.10", "127.0.0.11"]) {
        await getFrom(address, list, bearer(formatToken(keyIdOf(busy), generateSecret())));
      }
      const guess = await getFrom("127.0.0.12", list, bearer(formatToken(keyIdOf(busy), generateSecret())));
      expect(guess.status).toBe(429);
      // Past AUTH_KEY_CACHE_TTL (1 s) the token must be verified again: it is, and it passes.
      await sleep(1_100);
      scrypt.mockClear();
      expect((await getFrom("127.0.0.7", list, bearer(busy))).status).toBe(200);
      expect(scrypt).toHaveBeenCalledTimes(1);
    });
  });
});

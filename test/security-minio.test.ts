import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppContext, createApp, POLICIES_DIR } from "../src/app.ts";
import { MinioAdmin } from "../src/backends/minio-admin.ts";
import { provisionServiceUser, servicePolicyName } from "../src/buckets/provision.ts";
import type { Config } from "../src/config/config.ts";
import { loadConfig } from "../src/config/config.ts";
import { Secret } from "../src/config/secret.ts";
import { createSecurity, type Security } from "../src/security/index.ts";
import { type Principal, parseScope } from "../src/security/scopes.ts";
import { runCli } from "./support/cli.ts";
import { testEnv } from "./support/config.ts";

/**
 * Least privilege at the real MinIO: `bootstrap --provision-users` creates the service's own user
 * and policy with `mc`; the service then runs (bootstrap included) as that user, can use its
 * buckets and nothing else; temporary STS credentials work inside their prefix only.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);

/** MC_BINARY, else scripts/ensure-mc.sh (PATH, Go's bin dir, or a build of the pin). */
async function mcBinary(): Promise<string> {
  if (process.env.MC_BINARY) return process.env.MC_BINARY;
  const { stdout } = await run("bash", [join(ROOT, "scripts/ensure-mc.sh")], { timeout: 600_000 });
  return stdout.trim().split("\n").at(-1) as string;
}

const s3 = (
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
) => new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials, maxAttempts: 1 });

async function s3Error(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (err) {
    return (err as { name?: string }).name;
  }
  return undefined;
}

/** The claims of a MinIO STS session token (a JWT signed by MinIO; only read here, not verified). */
function sessionClaims(token: string): { accessKey: string; exp: number } {
  const [header, payload] = token.split(".");
  expect(JSON.parse(Buffer.from(header ?? "", "base64url").toString())).toMatchObject({ typ: "JWT" });
  return JSON.parse(Buffer.from(payload ?? "", "base64url").toString());
}

let env: Record<string, string>;
let config: Config;
let rootEnv: { endpoint: string; accessKey: string; secretKey: string };
let app: AppContext;
let security: Security;
const serviceKey = `svc-${randomBytes(4).toString("hex")}`;
const serviceSecret = randomBytes(24).toString("base64url");

beforeAll(async () => {
  const base = testEnv();
  rootEnv = {
    endpoint: base.MINIO_ENDPOINT as string,
    accessKey: base.MINIO_ACCESS_KEY as string,
    secretKey: base.MINIO_SECRET_KEY as string,
  };
  env = testEnv({
    MINIO_ACCESS_KEY: serviceKey,
    MINIO_SECRET_KEY: serviceSecret,
    MINIO_ADMIN_ACCESS_KEY: rootEnv.accessKey,
    MINIO_ADMIN_SECRET_KEY: rootEnv.secretKey,
    MC_BINARY: await mcBinary(),
    STS_MAX_DURATION: "1h",
  });
  config = loadConfig(env);
});

afterAll(async () => {
  await security?.close();
  await app?.close();
  if (config) {
    const admin = await MinioAdmin.open({
      mcBinary: config.minioAdmin.mcBinary,
      endpoint: rootEnv.endpoint,
      accessKey: new Secret(rootEnv.accessKey),
      secretKey: new Secret(rootEnv.secretKey),
    });
    await admin.removeUser(serviceKey).catch(() => {});
    await admin.removePolicy(servicePolicyName(config)).catch(() => {});
    await admin.close();
  }
});

describe("provisioning the service's MinIO identity", () => {
  it("bootstrap --provision-users creates user, policy and buckets; a second run changes nothing", async () => {
    const { code, stdout, stderr } = await runCli(env, "bootstrap", "--provision-users", "--json");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const first = JSON.parse(stdout) as {
      users: { action: string; target: string; detail: string }[];
      buckets: unknown[];
    };
    expect(first.users).toEqual([
      { target: servicePolicyName(config), action: "policy", detail: "created" },
      { target: serviceKey, action: "user", detail: "created" },
      { target: serviceKey, action: "attach", detail: `policy ${servicePolicyName(config)}` },
    ]);
    // The buckets were created by the service's own, least-privilege identity.
    expect(first.buckets.length).toBeGreaterThan(0);
    expect(stdout).not.toContain(serviceSecret);
    expect(stdout).not.toContain(rootEnv.secretKey);

    expect(await provisionServiceUser(config, POLICIES_DIR)).toEqual([]);
  });

  it("resets a user whose secret drifted", async () => {
    const admin = await MinioAdmin.open({
      mcBinary: config.minioAdmin.mcBinary,
      endpoint: rootEnv.endpoint,
      accessKey: new Secret(rootEnv.accessKey),
      secretKey: new Secret(rootEnv.secretKey),
    });
    try {
      expect(await admin.ensureUser(serviceKey, new Secret("a-different-secret-123"))).toBe("updated");
      expect(await admin.credentialsWork(serviceKey, new Secret(serviceSecret))).toBe(false);
      expect(await provisionServiceUser(config, POLICIES_DIR)).toEqual([
        { target: serviceKey, action: "user", detail: "updated" },
      ]);
      expect(await admin.credentialsWork(serviceKey, new Secret(serviceSecret))).toBe(true);
      expect(await admin.userPolicies(serviceKey)).toEqual([servicePolicyName(config)]);
    } finally {
      await admin.close();
    }
  });

  it("the service user can use its buckets and is denied any other", async () => {
    app = await createApp(config, pino({ level: "silent" }));
    expect(await app.bootstrap()).toEqual([]);
    const bucket = config.buckets.userData;
    const info = await app.service.upload({
      bucket,
      key: "hello.txt",
      body: Readable.from([Buffer.from("hi")]),
    });
    expect(info.size).toBe(2);

    const root = s3(rootEnv.endpoint, { accessKeyId: rootEnv.accessKey, secretAccessKey: rootEnv.secretKey });
    const other = `${config.storage.bucketPrefix}not-the-service`;
    await root.send(new CreateBucketCommand({ Bucket: other }));
    const svc = s3(rootEnv.endpoint, { accessKeyId: serviceKey, secretAccessKey: serviceSecret });
    await svc.send(new PutObjectCommand({ Bucket: config.buckets.temp, Key: "direct.txt", Body: "x" }));
    expect(
      await s3Error(() => svc.send(new PutObjectCommand({ Bucket: other, Key: "x.txt", Body: "x" }))),
    ).toBe("AccessDenied");
    expect(await s3Error(() => svc.send(new ListObjectsV2Command({ Bucket: other })))).toBe("AccessDenied");
    expect(await s3Error(() => svc.send(new CreateBucketCommand({ Bucket: `${other}-2` })))).toBe(
      "AccessDenied",
    );
    root.destroy();
    svc.destroy();
  });
});

describe("temporary credentials", () => {
  const alice = { user_id: "alice" };
  let principal: Principal;
  let bucket: string;

  beforeAll(async () => {
    app ??= await createApp(config, pino({ level: "silent" }));
    security = createSecurity({ config, db: app.db, service: app.service, logger: app.logger });
    bucket = config.buckets.userData;
    principal = {
      keyId: "k".repeat(16),
      service: "uploader",
      scopes: [parseScope(`${bucket}/users/{user_id}/:read,write,list,presign`)],
    };
  });

  it("work inside their prefix and fail outside it", async () => {
    const creds = await security.temporaryCredentials(principal, {
      bucket,
      prefix: "users/alice/",
      bindings: alice,
    });
    expect(creds.actions).toEqual(["read", "write", "list"]);
    expect(String(creds.secretAccessKey)).toBe("[redacted]");

    const temp = s3(creds.endpoint, {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey.reveal(),
      sessionToken: creds.sessionToken.reveal(),
    });
    await temp.send(
      new PutObjectCommand({ Bucket: bucket, Key: "users/alice/big.bin", Body: randomBytes(1024) }),
    );
    const got = await temp.send(new GetObjectCommand({ Bucket: bucket, Key: "users/alice/big.bin" }));
    expect((await got.Body?.transformToByteArray())?.length).toBe(1024);
    const listed = await temp.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "users/alice/" }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(["users/alice/big.bin"]);

    const denied = async (run: () => Promise<unknown>) => expect(await s3Error(run)).toBe("AccessDenied");
    await denied(() =>
      temp.send(new PutObjectCommand({ Bucket: bucket, Key: "users/bob/x.bin", Body: "x" })),
    );
    await denied(() =>
      temp.send(new PutObjectCommand({ Bucket: bucket, Key: "users/alice2/x.bin", Body: "x" })),
    );
    await denied(() => temp.send(new GetObjectCommand({ Bucket: bucket, Key: "hello.txt" })));
    await denied(() => temp.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "users/" })));
    await denied(() => temp.send(new ListObjectsV2Command({ Bucket: bucket })));
    await denied(() =>
      temp.send(new PutObjectCommand({ Bucket: config.buckets.temp, Key: "users/alice/x", Body: "x" })),
    );
    // The key has no delete action, so neither do its credentials.
    await denied(() => temp.send(new DeleteObjectCommand({ Bucket: bucket, Key: "users/alice/big.bin" })));

    // A tampered session token is refused outright.
    const tampered = s3(creds.endpoint, {
      accessKeyId: creds.accessKeyId,
      secretAccessKey: creds.secretAccessKey.reveal(),
      sessionToken: `${creds.sessionToken.reveal().slice(0, -4)}AAAA`,
    });
    expect(
      await s3Error(() =>
        tampered.send(new GetObjectCommand({ Bucket: bucket, Key: "users/alice/big.bin" })),
      ),
    ).toMatch(/InvalidToken|AccessDenied|ExpiredToken/);
    temp.destroy();
    tampered.destroy();
  });

  // MinIO records the expiry it signs into the session token (claim `exp`) and refuses the
  // credentials after it. Its minimum lifetime is 900 s, so instead of waiting, these check that the
  // signed claim and the returned `expiration` are the same instant, exactly `duration` after the
  // request (MinIO and the test share this host's clock), and that the credentials work now.
  for (const duration of [undefined, 1800]) {
    it(`expire ${duration ?? "900 (the default)"} s after issue, as the signed session token says`, async () => {
      const lifetime = duration ?? 900;
      // MinIO truncates the expiry to whole seconds.
      const before = Math.floor(Date.now() / 1000) * 1000;
      const creds = await security.temporaryCredentials(principal, {
        bucket,
        prefix: "users/alice/",
        bindings: alice,
        ...(duration ? { durationSeconds: duration } : {}),
      });
      const after = Date.now();
      expect(creds.expiration.getTime()).toBeGreaterThanOrEqual(before + lifetime * 1000);
      expect(creds.expiration.getTime()).toBeLessThanOrEqual(after + lifetime * 1000);

      const claims = sessionClaims(creds.sessionToken.reveal());
      expect(claims.accessKey).toBe(creds.accessKeyId);
      expect(claims.exp * 1000).toBe(creds.expiration.getTime());

      const temp = s3(creds.endpoint, {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey.reveal(),
        sessionToken: creds.sessionToken.reveal(),
      });
      const key = `users/alice/lifetime-${lifetime}.txt`;
      await temp.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "x" }));
      const got = await temp.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body?.transformToString()).toBe("x");
      temp.destroy();
    });
  }

  it("refuse a lifetime outside the configured bounds or a prefix outside the scope", async () => {
    await expect(
      security.temporaryCredentials(principal, {
        bucket,
        prefix: "users/alice/",
        bindings: alice,
        durationSeconds: 3601,
      }),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(
      security.temporaryCredentials(principal, { bucket, prefix: "users/bob/", bindings: alice }),
    ).rejects.toMatchObject({ code: "PERMISSION_DENIED" });
  });

  it("MinIO itself refuses a lifetime under 15 minutes", async () => {
    // So expiry cannot be shortened for a test; see the opt-in test below for a real wait.
    const sts = new STSClient({
      endpoint: rootEnv.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: serviceKey, secretAccessKey: serviceSecret },
    });
    const name = await s3Error(() =>
      sts.send(
        new AssumeRoleCommand({
          RoleArn: "arn:minio:iam:::role/x",
          RoleSessionName: "t",
          DurationSeconds: 600,
        }),
      ),
    );
    expect(name).toBe("InvalidParameterValue");
    sts.destroy();
  });

  // The real expiry check waits out MinIO's minimum lifetime (~15 minutes), so it is defined only
  // when asked for (LUMENSLATE_SLOW_TESTS=1); CI runs the signed-expiry checks above instead and
  // reports no skipped test.
  if (process.env.LUMENSLATE_SLOW_TESTS) {
    it(
      "are refused after their lifetime",
      async () => {
        const creds = await security.temporaryCredentials(principal, {
          bucket,
          prefix: "users/alice/",
          bindings: alice,
        });
        const temp = s3(creds.endpoint, {
          accessKeyId: creds.accessKeyId,
          secretAccessKey: creds.secretAccessKey.reveal(),
          sessionToken: creds.sessionToken.reveal(),
        });
        await temp.send(new PutObjectCommand({ Bucket: bucket, Key: "users/alice/before.txt", Body: "x" }));
        await new Promise((done) => setTimeout(done, creds.expiration.getTime() - Date.now() + 10_000));
        expect(
          await s3Error(() =>
            temp.send(new PutObjectCommand({ Bucket: bucket, Key: "users/alice/after.txt", Body: "x" })),
          ),
        ).toMatch(/ExpiredToken|InvalidToken|InvalidAccessKeyId|AccessDenied/);
        temp.destroy();
      },
      20 * 60_000,
    );
  }
});

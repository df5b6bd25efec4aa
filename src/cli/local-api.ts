import { userInfo } from "node:os";
import type { AppContext } from "../app.ts";
import { reconcileBuckets } from "../core/reconcile-buckets.ts";
import { asStorageError } from "../errors.ts";
import { keyJson } from "../security/admin-json.ts";
import type { IssuedKey } from "../security/api-keys.ts";
import type { AuditEvent } from "../security/audit.ts";
import { parseScope } from "../security/scopes.ts";
import type { IssuedKeyView, StorageApi } from "./api.ts";
import { localConfig } from "./config-api.ts";
import { localLogs } from "./logs-api.ts";
import { localModels } from "./models-api.ts";
import { localStats } from "./stats-api.ts";
import { localTemp } from "./temp-api.ts";
import { localUserData } from "./user-data-api.ts";

/**
 * Local mode: the commands call the StorageService and the security layer in this process, on the
 * database this process opened (and locked). Whoever can run the CLI with the service's
 * configuration is an operator, so there is no key; every change is still audited (protocol "cli",
 * the operating-system user in details), as a service records its callers.
 */

const issuedView = (issued: IssuedKey): IssuedKeyView => ({
  key: keyJson(issued.key),
  token: issued.token.reveal(),
});

/** The local account running the command; "unknown" where the OS cannot say (no passwd entry). */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

export function localApi(app: AppContext): StorageApi {
  const { service, security } = app;
  const user = osUser();

  /** Runs a mutation and records its outcome: OK with what it changed, or the error code it failed with. */
  async function audited<T>(
    event: Omit<AuditEvent, "result">,
    run: () => Promise<T>,
    describe: (result: T) => Partial<AuditEvent> = () => ({}),
  ): Promise<T> {
    const base: AuditEvent = {
      protocol: "cli",
      ...event,
      details: { user, ...event.details },
      result: "OK",
    };
    let result: T;
    try {
      result = await run();
    } catch (err) {
      await security.recordAudit({ ...base, result: asStorageError(err).code });
      throw err;
    }
    await security.recordAudit({ ...base, ...describe(result) });
    return result;
  }

  // A key change is recorded under the key it changed (there is no calling key here), as before.
  const keyEvent = (action: string, id?: string) => ({ action, keyId: id ?? null });
  const aboutKey = (key: { id: string; service: string }) => ({ keyId: key.id, service: key.service });

  return {
    put: (req) =>
      audited(
        { action: "upload", service: req.owner, bucket: req.bucket, key: req.key },
        () =>
          service.uploadFile(req.file, {
            bucket: req.bucket,
            key: req.key,
            metadata: req.metadata,
            owner: req.owner,
            signal: req.signal,
            ...(req.onProgress ? { onProgress: req.onProgress } : {}),
            ...(req.contentType ? { contentType: req.contentType } : {}),
            ...(req.expectedSha256 ? { expectedSha256: req.expectedSha256 } : {}),
          }),
        (info) => ({ key: info.key, versionId: info.versionId, bytes: info.size }),
      ),
    get: (bucket, key, options) => service.download(bucket, key, options),
    stat: (bucket, key, versionId) => service.stat(bucket, key, versionId),
    ls: (bucket, req) => service.list(bucket, req),
    rm: (bucket, key, versionId) =>
      audited(
        { action: "delete", service: "cli", bucket, key, versionId: versionId ?? null },
        () => service.delete(bucket, key, versionId),
        (result) => ({
          versionId: result.versionId ?? null,
          details: { user, deleteMarker: result.deleteMarker },
        }),
      ),
    cp: (source, target, owner) =>
      audited(
        {
          action: "copy",
          service: owner,
          bucket: target.bucket,
          key: target.key,
          details: { source: `${source.bucket}/${source.key}` },
        },
        () => service.copy(source, target, owner),
        (info) => ({ versionId: info.versionId, bytes: info.size }),
      ),
    presign: (bucket, key, req) =>
      audited({ action: "presign", service: "cli", bucket, key, details: { method: req.method } }, () =>
        service.presign(bucket, key, req),
      ),
    keys: {
      create: async (req) =>
        issuedView(
          await audited(
            keyEvent("keys.create"),
            () =>
              security.keys.create({
                service: req.service,
                scopes: req.scopes.map(parseScope),
                ...(req.rateLimit === undefined ? {} : { rateLimit: req.rateLimit }),
              }),
            (issued) => aboutKey(issued.key),
          ),
        ),
      list: async (includeRevoked) => (await security.keys.list({ includeRevoked })).map(keyJson),
      revoke: async (id) =>
        keyJson(await audited(keyEvent("keys.revoke", id), () => security.keys.revoke(id), aboutKey)),
      rotate: async (id) =>
        issuedView(
          await audited(
            keyEvent("keys.rotate", id),
            () => security.keys.rotate(id),
            (issued) => aboutKey(issued.key),
          ),
        ),
    },
    audit: (query) => security.audit.query(query),
    protos: {
      push: (req) =>
        audited(
          {
            action: "protos.publish",
            service: req.uploader,
            bucket: app.config.buckets.protoFiles,
            key: `${req.service}/${req.version}/`,
            details: { files: req.files.length, allowBreaking: req.allowBreaking },
          },
          () => app.protos.publish(req),
          ({ version, created }) => ({
            bytes: version.files.reduce((n, f) => n + f.size, 0),
            details: {
              user,
              digest: version.digest,
              created,
              breakingOverridden: version.breakingOverridden,
            },
          }),
        ),
      versions: (service) => app.protos.versions(service),
      manifest: (service, version) => app.protos.resolve(service, version),
      file: async (service, version, filename) =>
        (await app.protos.downloadFile(service, version, filename)).body,
      archive: (service, version) => app.protos.downloadTarball(service, version),
      diff: (service, from, to) => app.protos.diff(service, from, to),
    },
    temp: localTemp(app, audited),
    logs: localLogs(app, audited),
    userData: localUserData(app, audited),
    config: localConfig(app, audited),
    stats: localStats(app),
    models: localModels(app, audited),
    reconcile: (req) => {
      const run = () => reconcileBuckets(service, { ...req, configured: Object.values(app.config.buckets) });
      // A dry run changes nothing, so only a repair is a mutation worth a record.
      if (!req.repair) return run();
      return audited(
        { action: "reconcile", service: "cli", details: { buckets: req.buckets.join(",") } },
        run,
        (reports) => ({
          details: {
            user,
            buckets: reports.map((r) => r.bucket).join(","),
            repaired: reports.reduce((n, r) => n + r.repaired, 0),
          },
        }),
      );
    },
  };
}

import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { STORAGE_SERVICE_NAME, storageProto } from "./definition.ts";
import { RefusedMessage } from "./interceptors/messages.ts";
import { OPERATIONS } from "./methods.ts";
import { ServiceRegistry } from "./register.ts";

const storageService = storageProto().lumenslate.storage.v1.StorageService.service as ServiceDefinition;
const statFile = storageService.StatFile as MethodDefinition<unknown, unknown>;
const paths = (service: ServiceDefinition) =>
  Object.values(service).map((m: MethodDefinition<unknown, unknown>) => m.path);

/** A copy of a real method under another path: what a new rpc in the .proto would look like. */
const methodAt = (path: string) => ({ ...statFile, path }) as MethodDefinition<unknown, unknown>;

function registry() {
  const added: ServiceDefinition[] = [];
  return { added, registry: new ServiceRegistry({ addService: (service) => void added.push(service) }) };
}

describe("ServiceRegistry", () => {
  it("refuses at start-up a service with a method that has no access rule, registering none of it", () => {
    const { added, registry: r } = registry();
    const service = {
      StatFile: statFile,
      PurgeAll: methodAt(`/${STORAGE_SERVICE_NAME}/PurgeAll`),
    } as ServiceDefinition;
    expect(() => r.addService(service, {})).toThrow(
      new RegExp(
        `refusing to serve /${STORAGE_SERVICE_NAME.replaceAll(".", "\\.")}/PurgeAll: no access rule`,
      ),
    );
    expect(() => r.addService({ Dump: methodAt("/other.v1.Admin/Dump") } as ServiceDefinition, {})).toThrow(
      /other\.v1\.Admin\/Dump/,
    );
    expect(added).toEqual([]);
    expect(r.methods).toEqual([]);
  });

  it("maps every method of every service in the package's .proto files, and nothing else", () => {
    // Every service the definition holds (StorageService, AdminService, ProtoStorageService,
    // TempStorageService, ...): a service added to PROTO_FILES is covered without editing this test.
    const served = Object.values(storageProto().lumenslate.storage.v1).flatMap((member) =>
      typeof member === "function" && "service" in member ? [member.service as ServiceDefinition] : [],
    );
    expect(served.length).toBeGreaterThanOrEqual(4);
    expect(Object.keys(OPERATIONS).sort()).toEqual(served.flatMap(paths).sort());
  });

  it("registers StorageService with strict deserializers and lists what it served", () => {
    const { added, registry: r } = registry();
    r.addService(storageService, {});
    expect(r.methods.map((m) => m.path)).toEqual(paths(storageService));
    const served = added[0]?.StatFile as MethodDefinition<unknown, unknown>;
    expect(served.requestDeserialize(Buffer.from([0x0f]))).toBeInstanceOf(RefusedMessage);
    expect(served.requestDeserialize(statFile.requestSerialize({ bucket: "b" }))).toMatchObject({
      bucket: "b",
    });
  });
});

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";

/**
 * protoc's FileDescriptorSet for the storage API, grpc.health.v1 and their imports, written by
 * clients/python/generate.sh (and checked against the .proto by its tests). Reflection serves these
 * rather than proto-loader's own descriptors, which drop imports, map entry names and proto3
 * optional markers, so that grpcurl cannot resolve google.protobuf.Timestamp or the health maps.
 */
const DESCRIPTOR_SET = fileURLToPath(new URL("./descriptor-set.binpb", import.meta.url));

/** The serialized FileDescriptorProtos in a FileDescriptorSet (`repeated FileDescriptorProto file = 1`). */
export function splitDescriptorSet(set: Buffer): Buffer[] {
  const files: Buffer[] = [];
  let at = 0;
  while (at < set.length) {
    if (set[at++] !== 0x0a) throw new Error("not a FileDescriptorSet: expected field 1, length-delimited");
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = set[at++];
      if (byte === undefined) throw new Error("not a FileDescriptorSet: truncated length");
      length += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) break;
    }
    files.push(set.subarray(at, at + length));
    at += length;
  }
  return files;
}

/** Server reflection (v1 and v1alpha) for StorageService and Health, as `grpcurl list` expects. */
export function reflectionService(): ReflectionService {
  const fileDescriptorProtos = splitDescriptorSet(readFileSync(DESCRIPTOR_SET));
  // ReflectionService only reads `fileDescriptorProtos` from each entry of the definition.
  const definition = { descriptorSet: { fileDescriptorProtos } } as unknown as PackageDefinition;
  return new ReflectionService(definition);
}

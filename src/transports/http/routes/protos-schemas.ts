import type { FastifyRequest } from "fastify";
import { z } from "zod";
import type { ProtoVersion } from "../../../stores/proto/types.ts";
import type { Target } from "../access.ts";

/**
 * Shared by the /v1/protos routes: their JSON shapes and who may call them. Access is judged on
 * the proto-files bucket with the service as the key prefix (`proto-files/billing/:read` reads
 * billing's versions), on the grpc-services bucket for uploaded generated code.
 */

export const PROTOS_TAG = "protos";

export const ServiceParams = z.object({
  service: z.string().describe("The service whose .proto files these are (a-z, 0-9, '-', '_', '.')."),
});

export const VersionParams = ServiceParams.extend({
  version: z.string().describe('A semantic version (1.2.0, 2.0.0-rc.1), or "latest" on reads.'),
});

export const ProtoVersionSchema = z
  .object({
    service: z.string(),
    version: z.string(),
    createdAt: z.string().describe("ISO 8601 date-time."),
    digest: z.string().describe('sha256 over the sorted "<sha256>  <filename>" lines of the set.'),
    uploader: z.string().describe("The service (API key) that published it."),
    files: z.array(z.object({ filename: z.string(), size: z.number().int(), sha256: z.string() })),
    breakingOverridden: z.boolean().describe("Published over breaking-change violations (allowBreaking)."),
    breakingViolations: z.array(z.string()),
    generated: z.array(
      z.object({
        language: z.string(),
        ok: z.boolean(),
        files: z.number().int(),
        error: z.string().optional(),
      }),
    ),
  })
  .meta({ id: "ProtoVersion" });

export const protoVersionJson = (v: ProtoVersion): z.output<typeof ProtoVersionSchema> => ({
  ...v,
  createdAt: v.createdAt.toISOString(),
  generated: v.generated.map((g) => ({ ...g })),
});

/** Targets from the URL's `:service` (read and write routes) on a bucket. */
export function serviceTarget(bucket: string, action: Target["action"]) {
  return (request: FastifyRequest): Target[] => {
    const { service } = request.params as { service?: string };
    return [{ action, bucket, key: `${service ?? ""}/` }];
  };
}

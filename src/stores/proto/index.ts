import type { Logger } from "pino";
import type { Config } from "../../config/config.ts";
import type { StorageService } from "../../core/storage-service.ts";
import { ProtoObjects } from "./objects.ts";
import { Publisher } from "./publish.ts";
import { Registry } from "./registry.ts";
import type { ProtoRegistry } from "./types.ts";

export type * from "./types.ts";

/**
 * The proto registry (a store: above the core, below the transports): versioned sets of .proto
 * files in the proto-files bucket, compiled and checked for breaking changes with buf, with code
 * generated for TypeScript and Python. See publish.ts for how a version is written.
 */
export function createProtoRegistry(deps: {
  service: StorageService;
  config: Config;
  logger: Logger;
}): ProtoRegistry {
  const { config } = deps;
  const objects = new ProtoObjects(deps.service, config.buckets.protoFiles);
  return new Registry({
    objects,
    storage: deps.service,
    generatedBucket: config.buckets.grpcServices,
    logger: deps.logger,
    publisher: (versions) =>
      new Publisher({
        objects,
        logger: deps.logger,
        maxSetBytes: config.proto.maxSetBytes,
        python: config.proto.python,
        rulesFor: (service) => config.proto.breakingRulesByService[service] ?? config.proto.breakingRules,
        versions,
      }),
  });
}

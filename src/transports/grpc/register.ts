import type {
  MethodDefinition,
  Server,
  ServiceDefinition,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { chunkAwareSerializer, chunkFieldNumber } from "./chunk-pieces.ts";
import { strictDeserializer } from "./interceptors/messages.ts";
import { methodAccess } from "./methods.ts";

/** A method as served: its path and the definition it was registered with (strict deserializer). */
export interface ServedMethod {
  path: string;
  definition: MethodDefinition<unknown, unknown>;
}

/**
 * The one way services get onto the server (StorageService, health and reflection alike: the
 * latter two are handed this instead of the server). It fails fast: a method that is neither
 * public nor in OPERATIONS (methods.ts) stops the server at start-up instead of being served
 * without a key check. Every request deserializer is made strict (interceptors/messages.ts), and
 * every streamed response with a `bytes chunk` field also takes ChunkPieces (chunk-pieces.ts).
 */
export class ServiceRegistry {
  readonly #server: Pick<Server, "addService">;
  readonly #methods: ServedMethod[] = [];

  constructor(server: Pick<Server, "addService">) {
    this.#server = server;
  }

  /** Every method registered so far (for tests that must cover each one). */
  get methods(): readonly ServedMethod[] {
    return this.#methods;
  }

  addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    const methods = Object.values(service) as MethodDefinition<unknown, unknown>[];
    const unmapped = methods.filter((m) => methodAccess(m.path).kind === "unmapped").map((m) => m.path);
    if (unmapped.length > 0) {
      throw new Error(
        `gRPC: refusing to serve ${unmapped.join(", ")}: no access rule. Add each to OPERATIONS in ` +
          "src/transports/grpc/methods.ts (and check its scope in the handler), or to PUBLIC_SERVICES " +
          "if it must be open.",
      );
    }
    const strict = Object.fromEntries(
      Object.entries(service).map(([name, method]: [string, MethodDefinition<unknown, unknown>]) => {
        // Download streams send their bytes as ChunkPieces, encoded without a gathering copy.
        const chunkField = chunkFieldNumber(method);
        return [
          name,
          {
            ...method,
            requestDeserialize: strictDeserializer(method.path, method.requestDeserialize),
            ...(chunkField !== undefined
              ? { responseSerialize: chunkAwareSerializer(chunkField, method.responseSerialize) }
              : {}),
          },
        ];
      }),
    ) as ServiceDefinition;
    this.#server.addService(strict, implementation);
    for (const definition of Object.values(strict) as MethodDefinition<unknown, unknown>[]) {
      this.#methods.push({ path: definition.path, definition });
    }
  }
}

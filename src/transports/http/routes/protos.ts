import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AppContext } from "../../../app.ts";
import { CHECKSUM_HEADER, contentDisposition } from "../headers.ts";
import { problemResponses } from "../schemas.ts";
import {
  PROTOS_TAG,
  ProtoVersionSchema,
  protoVersionJson,
  ServiceParams,
  serviceTarget,
  VersionParams,
} from "./protos-schemas.ts";

/**
 * Reads of the proto registry (stores/proto): services, versions (sorted by semver), one version's
 * manifest ("latest" works), a file or the whole version as .tar.gz (streamed), a diff between two
 * versions and what a version defines. Publishing is in protos-publish.ts.
 */

const bytes = (description: string, type: string) => ({
  description,
  content: { [type]: { schema: z.string() } },
});

const Names = z.array(z.string());

export function registerProtoReadRoutes(fastify: FastifyInstance, app: AppContext): void {
  const f = fastify.withTypeProvider<ZodTypeProvider>();
  const { protos } = app;
  const bucket = app.config.buckets.protoFiles;
  const read = (operation: string) => ({
    access: { operation, audited: false, url: serviceTarget(bucket, "read") },
  });

  f.route({
    method: "GET",
    url: "/v1/protos",
    config: {
      access: { operation: "protos.services", audited: false, url: () => [{ action: "list", bucket }] },
    },
    schema: {
      tags: [PROTOS_TAG],
      summary: "listProtoServices: the services with published .proto files",
      response: { 200: z.object({ services: Names }), ...problemResponses },
    },
    handler: async () => ({ services: await protos.services() }),
  });

  f.route({
    method: "GET",
    url: "/v1/protos/:service/versions",
    config: read("protos.versions"),
    schema: {
      tags: [PROTOS_TAG],
      summary: "getProtoVersions: a service's versions, sorted by semantic version",
      params: ServiceParams,
      response: { 200: z.object({ versions: z.array(ProtoVersionSchema) }), ...problemResponses },
    },
    handler: async (request) => ({
      versions: (await protos.versions(request.params.service)).map(protoVersionJson),
    }),
  });

  f.route({
    method: "GET",
    url: "/v1/protos/:service/versions/:version",
    config: read("protos.version"),
    schema: {
      tags: [PROTOS_TAG],
      summary: 'getProtoVersion: one version\'s manifest ("latest": the highest release)',
      params: VersionParams,
      response: { 200: ProtoVersionSchema, ...problemResponses },
    },
    handler: async (request) =>
      protoVersionJson(await protos.resolve(request.params.service, request.params.version)),
  });

  f.route({
    method: "GET",
    url: "/v1/protos/:service/versions/:version/files/*",
    // No derived HEAD: it would open a download to send headers only.
    exposeHeadRoute: false,
    config: read("protos.file"),
    schema: {
      tags: [PROTOS_TAG],
      summary: "downloadProtoFile: one .proto file of a version, byte for byte as published",
      params: VersionParams.extend({
        "*": z.string().describe("The file's path in the set, e.g. foo/v1/foo.proto."),
      }),
      response: { 200: bytes("The file", "text/plain"), ...problemResponses },
    },
    handler: async (request, reply) => {
      const { service, version, "*": filename } = request.params;
      const { info, body } = await protos.downloadFile(service, version, filename);
      reply
        .type("text/plain; charset=utf-8")
        .header("content-length", String(info.size))
        .header(CHECKSUM_HEADER, info.sha256)
        .header("x-content-type-options", "nosniff");
      return (reply as FastifyReply).send(body);
    },
  });

  f.route({
    method: "GET",
    url: "/v1/protos/:service/versions/:version/archive",
    config: read("protos.archive"),
    schema: {
      tags: [PROTOS_TAG],
      summary: "downloadProtoArchive: a version's files and generated code as .tar.gz (streamed)",
      params: VersionParams,
      response: { 200: bytes("The archive", "application/gzip"), ...problemResponses },
    },
    handler: async (request, reply) => {
      const v = await protos.resolve(request.params.service, request.params.version);
      const archive = await protos.downloadTarball(v.service, v.version);
      reply
        .type("application/gzip")
        .header("content-disposition", contentDisposition(`${v.service}-${v.version}.tar.gz`));
      return (reply as FastifyReply).send(archive);
    },
  });

  f.route({
    method: "GET",
    url: "/v1/protos/:service/diff",
    config: read("protos.diff"),
    schema: {
      tags: [PROTOS_TAG],
      summary: "diffProtoVersions: messages, services and fields added and removed between two versions",
      params: ServiceParams,
      querystring: z.object({
        from: z.string().describe("The older version (or latest)."),
        to: z.string().describe("The newer version (or latest)."),
      }),
      response: {
        200: z.object({
          from: z.string(),
          to: z.string(),
          added: z.object({ messages: Names, services: Names, fields: Names }),
          removed: z.object({ messages: Names, services: Names, fields: Names }),
        }),
        ...problemResponses,
      },
    },
    handler: async (request) => protos.diff(request.params.service, request.query.from, request.query.to),
  });

  f.route({
    method: "GET",
    url: "/v1/protos/:service/versions/:version/definitions",
    config: read("protos.definitions"),
    schema: {
      tags: [PROTOS_TAG],
      summary: "getProtoDefinitions: the messages, services and enums a version defines",
      params: VersionParams,
      response: {
        200: z.object({
          messages: Names,
          services: z.array(z.object({ name: z.string(), methods: Names })),
          enums: Names,
        }),
        ...problemResponses,
      },
    },
    handler: async (request) => protos.definitions(request.params.service, request.params.version),
  });
}

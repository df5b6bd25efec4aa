import type { FastifyInstance, RouteOptions } from "fastify";

/**
 * Deny by default, decided by the route the router matched, never by the URL's spelling.
 *
 * Every route must declare either `config.access` (what it does, checked by auth.ts) or
 * `config.public` (reachable without an API key: probes, metrics, the OpenAPI document and its
 * UI, MinIO's webhook which checks its own token). A route with neither stops start-up, so a route
 * added later cannot be served open by accident; auth.ts refuses such a route at run time too.
 *
 * The router decodes `%76%31` to `v1` and find-my-way matches what it decoded, so judging the raw
 * URL (as this service once did) let `/%761/...` through. The matched route is the only thing that
 * says what will run.
 */

export type PublicReason = "probe" | "metrics" | "docs" | "webhook";

export interface RegisteredRoute {
  method: string;
  url: string;
  /** Present for routes that need a key. */
  operation?: string;
  public?: PublicReason;
}

const routesOf = new WeakMap<FastifyInstance, RegisteredRoute[]>();

const methodsOf = (route: RouteOptions): string[] =>
  Array.isArray(route.method) ? route.method : [route.method];

/** Collects every route as it is registered and refuses to become ready with an undeclared one. */
export function enforceRoutePolicy(fastify: FastifyInstance): void {
  const seen: RouteOptions[] = [];
  fastify.addHook("onRoute", (route) => {
    seen.push(route);
  });
  fastify.addHook("onReady", async () => {
    const table: RegisteredRoute[] = [];
    for (const route of seen) {
      const config = route.config ?? {};
      if (!config.access && !config.public) {
        throw new Error(
          `HTTP route ${methodsOf(route).join(",")} ${route.url} declares neither config.access nor config.public; ` +
            "every route must say who may call it.",
        );
      }
      for (const method of methodsOf(route)) {
        table.push({
          method,
          url: route.url ?? "",
          ...(config.access ? { operation: config.access.operation } : {}),
          ...(config.public ? { public: config.public } : {}),
        });
      }
    }
    routesOf.set(fastify, table);
  });
}

/** Marks every route registered in this scope (and its children) public, e.g. a plugin's UI routes. */
export function markScopePublic(scope: FastifyInstance, reason: PublicReason): void {
  scope.addHook("onRoute", (route) => {
    route.config = { ...(route.config ?? {}), public: route.config?.public ?? reason };
  });
}

/** The routes the app serves, with what each requires (available once the app is ready). */
export function registeredRoutes(fastify: FastifyInstance): readonly RegisteredRoute[] {
  const table = routesOf.get(fastify);
  if (!table) throw new Error("registeredRoutes: the app is not ready yet (await fastify.ready())");
  return table;
}

/**
 * Only origin-form request targets (`/path?query`) reach the router; `*` only with OPTIONS.
 * Absolute-form (`http://host/path`) is for proxies: Node and the router would accept it and route
 * by its path, which is one more spelling of every route for no client that needs it.
 */
export function isOriginForm(method: string, rawUrl: string | undefined): boolean {
  if (!rawUrl) return false;
  if (rawUrl === "*") return method === "OPTIONS";
  return rawUrl.startsWith("/");
}

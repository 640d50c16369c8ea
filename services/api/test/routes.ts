import type { Express } from 'express';

/** What Express's router keeps of a `router.get(...)`, `router.use(...)` or `app.use(...)`. */
interface Layer {
  readonly name: string;
  readonly rawPath?: unknown;
  readonly route?: { readonly path: string; readonly methods: Readonly<Record<string, boolean>> };
  readonly handle?: { readonly stack?: readonly Layer[] };
}

/**
 * Every route the app answers, read from its router rather than listed by hand, so that a test
 * iterating over them covers a route added tomorrow: `GET /users/:userId`, `ALL /webhooks/vonage`
 * for `router.all()`, and `USE /admin/queues` for a sub-application or middleware mounted on a path.
 */
export function routesOf(app: Express): string[] {
  const routes = new Set<string>();
  const walk = (stack: readonly Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) routes.add(`${method === '_all' ? 'ALL' : method.toUpperCase()} ${layer.route.path}`);
      } else if (typeof layer.rawPath === 'string' && layer.rawPath !== '/') {
        routes.add(`USE ${layer.rawPath}`);
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: readonly Layer[] } }).router.stack);
  return [...routes].sort();
}

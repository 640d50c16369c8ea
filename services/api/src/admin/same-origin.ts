import { AppError } from '@notofine/errors';
import type { Request, RequestHandler } from 'express';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** 403 for a state-changing request a page of another origin made the operator's browser send. */
class CrossOriginRequestError extends AppError {
  constructor(why: string) {
    super(
      403,
      'cross-origin-request',
      'Cross-origin request refused',
      `The operators' pages take changes only from their own pages, and this request came ${why}. Use the board itself at /admin/queues.`,
    );
  }
}

/**
 * Refuses the state-changing requests (anything but GET, HEAD, OPTIONS) that a page of another
 * origin could make an operator's browser send with their session: the SameSite=Strict cookie
 * stops other sites, not another origin of the same site (a sibling subdomain). The browser says
 * where a request comes from, in headers a page cannot set:
 *
 * - `Sec-Fetch-Site` (every current browser): it must be `same-origin`;
 * - otherwise `Origin` (older browsers send it on every POST): it must be this API's, as the
 *   request's Host or `PUBLIC_BASE_URL` names it;
 * - with neither, the request did not come from a browser page of ours: refused.
 *
 * A body must also be of the type the route reads (`bodyTypes(req)`): a cross-origin page can send
 * `text/plain` or a form without asking the browser first, `application/json` it cannot.
 */
export function sameOriginWrites(publicBaseUrl: string | undefined, bodyTypes: (req: Request) => readonly string[]): RequestHandler {
  const publicOrigin = publicBaseUrl === undefined ? undefined : new URL(publicBaseUrl).origin;
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    const site = req.get('sec-fetch-site');
    const origin = req.get('origin');
    if (site !== undefined) {
      if (site !== 'same-origin') throw new CrossOriginRequestError(`from another ${site === 'same-site' ? 'origin of the same site' : 'site'} (Sec-Fetch-Site: ${site})`);
    } else if (origin !== undefined) {
      if (!isOwnOrigin(origin, req, publicOrigin)) throw new CrossOriginRequestError(`from ${origin.slice(0, 100)}`);
    } else {
      throw new CrossOriginRequestError('with neither Sec-Fetch-Site nor Origin, as no browser sends a change');
    }
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    const types = bodyTypes(req);
    if (hasBody && !req.is([...types])) {
      throw new AppError(415, 'unsupported-media-type', 'Unsupported media type', `Content-Type ${req.get('content-type') ?? 'none'} is not accepted here: send ${types.join(' or ')}.`);
    }
    next();
  };
}

function isOwnOrigin(origin: string, req: Request, publicOrigin: string | undefined): boolean {
  if (origin === publicOrigin) return true;
  try {
    // Behind a proxy that ends TLS the scheme differs: the host is what a page of ours shares.
    return new URL(origin).host === req.get('host');
  } catch {
    return false; // `Origin: null` (a sandboxed frame, a file), or garbage
  }
}

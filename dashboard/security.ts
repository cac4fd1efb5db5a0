/**
 * What makes every response safe to render and every write safe to accept: the security headers with a per-response
 * CSP nonce, and the CSRF checks of a POST (its origin, `Sec-Fetch-Site`, and a signed double-submit token).
 * docs/dashboard.md ("Security") describes each.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh nonce for one response's scripts. */
export function newNonce(): string {
  return randomBytes(18).toString('base64');
}

/** The Content-Security-Policy of an HTML page: scripts only with the nonce, everything else from the dashboard itself. */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Headers every response carries. */
export function securityHeaders(headers: Headers): void {
  headers.set('X-Content-Type-Options', 'nosniff');
  headers.set('X-Frame-Options', 'DENY');
  headers.set('Referrer-Policy', 'same-origin');
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  if (!headers.has('Cache-Control')) headers.set('Cache-Control', 'no-store');
  // Static files set their own CSP-free headers; everything else at least forbids framing and plugins.
  if (!headers.has('Content-Security-Policy')) headers.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
}

/** The name of the CSRF cookie. */
export const CSRF_COOKIE = 'jobcraft_csrf';
/** The name of the form field (or `X-CSRF-Token` header) carrying the token. */
export const CSRF_FIELD = '_csrf';

/**
 * CSRF tokens: a random value in an HttpOnly, SameSite=Strict cookie, and in each form the HMAC of that value under a
 * secret of this dashboard instance (or of every replica, given `csrfSecret`). A POST must carry both, matching: a cross-site page can neither read the
 * cookie nor compute the HMAC.
 */
export class Csrf {
  private readonly secret: Buffer;

  /** `secret`: shared by every replica of a dashboard (tokens of one are then good on all); default random. */
  constructor(secret?: string) {
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  /** The token for a cookie value. */
  token(cookie: string): string {
    return createHmac('sha256', this.secret).update(cookie).digest('base64url');
  }

  /** A new cookie value. */
  newCookie(): string {
    return randomBytes(24).toString('base64url');
  }

  /** Whether `token` is the token of `cookie`. */
  check(cookie: string | undefined, token: string | undefined): boolean {
    if (cookie === undefined || token === undefined || cookie.length === 0) return false;
    const want = Buffer.from(this.token(cookie));
    const got = Buffer.from(token);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

/** The value of a cookie in a request's `Cookie` header. */
export function cookieOf(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie');
  if (header === null) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A `Set-Cookie` value for the CSRF cookie, scoped to the dashboard's path. */
export function csrfCookieHeader(value: string, path: string, secure: boolean): string {
  return `${CSRF_COOKIE}=${value}; Path=${path}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/**
 * Why a POST is refused as cross-site, or undefined when it may go on: `Sec-Fetch-Site` (sent by every current
 * browser) must be `same-origin` when present, and `Origin` when present must be the request's own origin or a
 * trusted one. A request with neither header (curl, a script) goes on to the token check, which it must pass too.
 */
export function crossSiteReason(request: Request, trustedOrigins: readonly string[]): string | undefined {
  const site = request.headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin') return `Sec-Fetch-Site is ${JSON.stringify(site)}, not same-origin`;
  const origin = request.headers.get('origin');
  if (origin === null) return undefined;
  const own = new URL(request.url).origin;
  const forwarded = forwardedOrigin(request);
  if (origin === own || origin === forwarded || trustedOrigins.includes(origin)) return undefined;
  return (
    `Origin ${JSON.stringify(origin)} is not this dashboard's (${forwarded ?? own}). If the dashboard is reached through a proxy ` +
    'that rewrites Host, have the proxy send X-Forwarded-Host and X-Forwarded-Proto, or add the origin to trustedOrigins (--trusted-origin)'
  );
}

/** The origin a browser sees when a proxy forwards `X-Forwarded-Proto`/`X-Forwarded-Host` (only their first value). */
function forwardedOrigin(request: Request): string | undefined {
  const host = request.headers.get('x-forwarded-host')?.split(',')[0]?.trim();
  if (host === undefined || host === '') return undefined;
  const proto = request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim() ?? new URL(request.url).protocol.replace(':', '');
  return `${proto}://${host}`;
}

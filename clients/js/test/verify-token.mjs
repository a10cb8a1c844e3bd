// How a downstream Node service verifies a wallet-auth token offline, with `jose`: the JWKS is
// fetched from the server and cached (jose fetches it again when a token names a `kid` it does
// not know, e.g. after a key rotation), and the ES256 signature, `iss`, `aud` and `exp` are
// checked. The tests (tokens.test.mjs) run this module on real tokens.
import { createRemoteJWKSet, jwtVerify } from 'jose';

/**
 * A verifier for the tokens of the wallet-auth server at `baseUrl`.
 * @param {string} baseUrl e.g. https://auth.example.com
 * @param {{issuer?: string, audience?: string}} [opts] default: the server's AUTH_URI / issuer
 */
export function tokenVerifier(baseUrl, { issuer = baseUrl, audience = issuer } = {}) {
  const jwks = createRemoteJWKSet(new URL('/.well-known/jwks.json', baseUrl));
  /** Resolves to the claims ({iss, aud, sub, sid, iat, exp, roles, wallet?}); rejects otherwise. */
  return async function verifyToken(token) {
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: ['ES256'],
      issuer,
      audience,
      requiredClaims: ['sub', 'sid', 'exp'],
    });
    return payload;
  };
}

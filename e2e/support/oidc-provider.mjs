// Test OIDC provider (COMPONENTS.md §5): JWT access tokens for our API, JWKS, issuer on 127.0.0.1.
// One client per persona; client_credentials gives sub = client id, secret = `${id}-secret`.
// Env: OIDC_PORT (default 9400), OIDC_AUDIENCE (default urn:opsdeck:api), OIDC_TOKEN_TTL (s, 3600).
// Started by e2e/support/components.sh (start_oidc) from $STATE_DIR/oidc, where node_modules is.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT ?? 9400);
const issuer = `http://127.0.0.1:${port}`;                 // no trailing slash
const audience = process.env.OIDC_AUDIENCE ?? 'urn:opsdeck:api';
const ttl = Number(process.env.OIDC_TOKEN_TTL ?? 3600);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 }); // new key per start
const key = { ...privateKey.export({ format: 'jwk' }), kid: `k${Date.now()}`, use: 'sig', alg: 'RS256' };

// Seed data maps each sub to a membership: org A has one persona per role, org B an admin.
const personas = ['admin-a', 'manager-a', 'engineer-a', 'viewer-a', 'admin-b', 'e2e-user'];

new Provider(issuer, {
  jwks: { keys: [key] },
  clients: personas.map((id) => ({ client_id: id,
    client_secret: `${id}-secret`, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] })),
  scopes: ['api:read', 'api:write'],
  ttl: { ClientCredentials: ttl },
  features: {
    clientCredentials: { enabled: true },
    resourceIndicators: { enabled: true,                   // access tokens become JWTs for our API
      defaultResource: () => audience, useGrantedResource: () => true,
      getResourceServerInfo: () => ({ audience, scope: 'api:read api:write', accessTokenFormat: 'jwt',
        accessTokenTTL: ttl, jwt: { sign: { alg: 'RS256' } } }) },
  },
}).listen(port, '127.0.0.1', () => console.log(`issuer ${issuer}`));

// A real OAuth 2 / OpenID authorization server (oidc-provider) for mcpconnect's tests.
//
// It approves without a person: the interaction route logs the user in (login_hint, or "alice")
// and grants every requested scope, so a client that follows the authorization URL's redirects
// with a cookie jar reaches its redirect_uri. Test-only routes under /test/ let the tests read
// counters, approve device codes, skew the clock, make the next answers hostile, register further
// resource indicators (an mcpconnect gateway) and sign hand-made access tokens.
//
// Usage: node server.mjs [port]   (port 0 = ephemeral). Prints "listening <issuer>" when ready.
import http from 'node:http';

// Resolved from tests/node, where .ci/run installs the npm peers.
import Provider, { errors } from '../node/node_modules/oidc-provider/lib/index.js';
// The development keys oidc-provider signs with when given none (passed explicitly below, so that
// /test/sign can sign hand-made access tokens with the very key the JWKS publishes).
import DEV_KEYSTORE from '../node/node_modules/oidc-provider/lib/consts/dev_keystore.js';
import { SignJWT, importJWK, calculateJwkThumbprint } from '../node/node_modules/jose/dist/webapi/index.js';

// The API that access tokens can be issued for (RFC 8707 resource indicators). Tokens for it are
// JWTs with `aud` = this resource, which the userinfo endpoint refuses, as Auth0 audiences, Entra
// resources and Okta custom authorization servers do.
const RESOURCE = 'https://api.example.test/';

// Further resources registered by a test (/test/resource?add=URL), e.g. an mcpconnect gateway's
// resource URI: access tokens for them carry the scopes below and `aud` = that URI; JWTs, or opaque
// (format=opaque) for a resource server that introspects them (oidc-provider introspects no JWTs).
const gatewayResources = new Map();
const GATEWAY_SCOPES = 'mcp:tools mcp:admin';

const port = Number(process.argv[2] || 0);
const state = {
  refreshGrants: 0, // refresh_token grant requests (successful or not)
  tokenRequests: 0,
  revocations: 0,
  jwksRequests: 0, // GET /jwks
  introspections: 0, // POST /token/introspection
  slowDown: 0, // the next N POST /token answer slow_down
  failToken: 0, // the next N POST /token answer 503
  deny: false, // the interaction answers access_denied
  skew: 0, // seconds added to the server's clock
};

const realNow = Date.now;
Date.now = () => realNow() + state.skew * 1000;

const ACCOUNTS = {
  alice: { sub: 'alice', name: 'Alice Example', email: 'alice@example.test' },
  bob: { sub: 'bob', name: 'Bob Example', email: 'bob@example.test' },
};

const loopback = ['http://127.0.0.1/callback'];
const allGrants = [
  'authorization_code',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
  'client_credentials',
];

const server = http.createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    jwks: structuredClone(DEV_KEYSTORE),
    clients: [
      {
        client_id: 'public-cli',
        token_endpoint_auth_method: 'none',
        application_type: 'native',
        redirect_uris: loopback,
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
      {
        client_id: 'confidential',
        client_secret: 'confidential-client-secret-value-0123456789',
        token_endpoint_auth_method: 'client_secret_basic',
        application_type: 'native',
        // and a gateway's public callback for per-user upstream logins (/connect/callback)
        redirect_uris: [...loopback, 'http://127.0.0.1/connect/callback'],
        grant_types: allGrants,
        response_types: ['code'],
        scope: 'openid profile email offline_access api:read',
      },
      {
        client_id: 'post-client',
        client_secret: 'post-client-secret-value-abcdefghijklmnop',
        token_endpoint_auth_method: 'client_secret_post',
        application_type: 'native',
        redirect_uris: loopback,
        grant_types: allGrants,
        response_types: ['code'],
        scope: 'openid profile email offline_access api:read',
      },
    ],
    scopes: ['openid', 'profile', 'email', 'offline_access', 'api:read'],
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    async findAccount(ctx, id) {
      const claims = ACCOUNTS[id] || { sub: id, name: id };
      return { accountId: id, async claims() { return claims; } };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      introspection: { enabled: true },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resourceIndicator) => {
          if (gatewayResources.has(resourceIndicator)) {
            const format = gatewayResources.get(resourceIndicator);
            return {
              scope: GATEWAY_SCOPES,
              audience: resourceIndicator,
              accessTokenFormat: format,
              ...(format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
            };
          }
          if (resourceIndicator !== RESOURCE) throw new errors.InvalidTarget();
          return { scope: 'api:read', audience: RESOURCE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    pkce: { required: () => true },
    // Every client allowed the refresh grant gets a refresh token, rotated on every use.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    ttl: {
      AccessToken: 3600,
      ClientCredentials: 600,
      DeviceCode: 600,
      Grant: 86400,
      IdToken: 3600,
      Interaction: 3600,
      RefreshToken: 86400,
      Session: 86400,
    },
  });
  provider.proxy = false;

  provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params.grant_type === 'refresh_token') state.refreshGrants += 1;
  });
  provider.on('grant.error', (ctx) => {
    if (ctx.oidc?.params?.grant_type === 'refresh_token') state.refreshGrants += 1;
  });

  // Device authorization: a short polling interval so tests do not wait 5 seconds.
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/jwks') state.jwksRequests += 1;
    if (ctx.method === 'POST' && ctx.path === '/token/introspection') state.introspections += 1;
    if (ctx.method === 'POST' && ctx.path === '/token') {
      state.tokenRequests += 1;
      if (state.failToken > 0) {
        state.failToken -= 1;
        ctx.status = 503;
        ctx.body = { error: 'temporarily_unavailable', error_description: 'try later' };
        return;
      }
      if (state.slowDown > 0) {
        state.slowDown -= 1;
        ctx.status = 400;
        ctx.body = { error: 'slow_down', error_description: 'polling too fast' };
        return;
      }
    }
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token/revocation' && ctx.status === 200) state.revocations += 1;
    if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body.interval = 1;
    }
  });

  async function interaction(req, res) {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, session } = details;
    let result;
    if (state.deny) {
      result = { error: 'access_denied', error_description: 'the user said no' };
    } else if (prompt.name === 'login') {
      result = { login: { accountId: params.login_hint || 'alice' } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      if (prompt.details.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      result = { consent: { grantId: await grant.save() } };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }

  async function approveDevice(userCode, accountId) {
    const normalized = userCode.replace(/[^A-Za-z]/g, '').toUpperCase();
    const code = await provider.DeviceCode.findByUserCode(normalized, { ignoreExpiration: true });
    if (!code) return false;
    const scope = code.params?.scope || 'openid';
    const grant = new provider.Grant({ accountId, clientId: code.clientId });
    grant.addOIDCScope(scope);
    Object.assign(code, {
      accountId,
      scope,
      grantId: await grant.save(),
      authTime: Math.floor(Date.now() / 1000),
    });
    await code.save();
    return true;
  }

  async function denyDevice(userCode) {
    const normalized = userCode.replace(/[^A-Za-z]/g, '').toUpperCase();
    const code = await provider.DeviceCode.findByUserCode(normalized, { ignoreExpiration: true });
    if (!code) return false;
    Object.assign(code, { error: 'access_denied', errorDescription: 'the user said no' });
    await code.save();
    return true;
  }

  // Sign `claims` (plus `header`) with the provider's RS256 key, as its own access tokens are.
  async function sign(body) {
    const jwk = DEV_KEYSTORE.keys.find((k) => k.kty === 'RSA');
    const key = await importJWK({ ...jwk, alg: 'RS256' }, 'RS256');
    const kid = jwk.kid ?? (await calculateJwkThumbprint({ kty: jwk.kty, n: jwk.n, e: jwk.e }));
    return new SignJWT(body.claims || {})
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid, ...(body.header || {}) })
      .sign(key);
  }

  function readBody(req) {
    return new Promise((resolve, reject) => {
      let data = '';
      req.on('data', (chunk) => { data += chunk; });
      req.on('end', () => resolve(data));
      req.on('error', reject);
    });
  }

  function json(res, status, body) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  // Hostile token endpoints, for the tests of bad input: /test/hostile/<mode>.
  function hostile(mode, res) {
    const good = { access_token: 'hostile-access-token-0123456789', token_type: 'Bearer' };
    switch (mode) {
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>Please sign in</body></html>');
        return;
      case 'no-access-token':
        json(res, 200, { token_type: 'Bearer', expires_in: 3600 });
        return;
      case 'expires-string':
        json(res, 200, { ...good, expires_in: '3600', refresh_token: 'hostile-refresh-token-0123456789' });
        return;
      case 'expires-garbage':
        json(res, 200, { ...good, expires_in: 'an hour' });
        return;
      case 'server-error':
        json(res, 503, { error: 'temporarily_unavailable' });
        return;
      case 'invalid-grant':
        json(res, 400, { error: 'invalid_grant', error_description: 'grant expired' });
        return;
      default:
        json(res, 404, { error: 'unknown mode' });
    }
  }

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    const url = new URL(req.url, issuer);
    try {
      if (url.pathname.startsWith('/interaction/')) {
        await interaction(req, res);
        return;
      }
      if (url.pathname.startsWith('/test/hostile/')) {
        hostile(url.pathname.slice('/test/hostile/'.length), res);
        return;
      }
      switch (url.pathname) {
        case '/test/resource':
          if (url.searchParams.has('add')) {
            gatewayResources.set(url.searchParams.get('add'), url.searchParams.get('format') || 'jwt');
          }
          json(res, 200, { resources: Object.fromEntries(gatewayResources), scope: GATEWAY_SCOPES });
          return;
        case '/test/sign':
          json(res, 200, { token: await sign(JSON.parse((await readBody(req)) || '{}')) });
          return;
        case '/test/stats':
          json(res, 200, state);
          return;
        case '/test/set':
          for (const key of ['slowDown', 'skew', 'failToken']) {
            if (url.searchParams.has(key)) state[key] = Number(url.searchParams.get(key));
          }
          if (url.searchParams.has('deny')) state.deny = url.searchParams.get('deny') === '1';
          if (url.searchParams.has('reset')) Object.assign(state, { refreshGrants: 0, tokenRequests: 0, revocations: 0, jwksRequests: 0, introspections: 0 });
          json(res, 200, state);
          return;
        case '/test/device/approve':
          json(res, 200, {
            approved: await approveDevice(url.searchParams.get('user_code'), url.searchParams.get('account') || 'alice'),
          });
          return;
        case '/test/device/deny':
          json(res, 200, { denied: await denyDevice(url.searchParams.get('user_code')) });
          return;
        default:
          callback(req, res);
      }
    } catch (err) {
      json(res, 500, { error: 'server_error', error_description: String(err && err.message) });
    }
  });

  console.log(`listening ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

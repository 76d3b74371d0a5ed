package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// tokenRequestTimeout bounds one token request to CAS, retries included. It
// stays below Vault's default request timeout of 90 s, so callers get the
// engine's message rather than Vault's timeout.
const tokenRequestTimeout = 60 * time.Second

// errRoleChanged is returned by a token fetch whose role or config was
// deleted, or changed kind, after the request read it.
var errRoleChanged = errors.New("role or config changed during the request")

// issueAccessToken hands out role's access token: the cached one while it
// has more than the role's min_remaining_ttl left, else a new one from CAS.
// Concurrent misses share one token request.
func (b *backend) issueAccessToken(ctx context.Context, req *logical.Request, roleName string, role *roleEntry, key *cachedKey, requested time.Duration) (*logical.Response, error) {
	if msg := roleScopesError(roleName, role, key.config); msg != "" {
		b.Logger().Error("role scopes do not fit its config; rejecting the request", "role", roleName, "config", role.Config,
			"role_scopes", strings.Join(role.Scopes, " "), "config_scopes", strings.Join(key.config.Scopes, " "))

		return nil, errors.New(msg)
	}

	// The fetch reads the role and config again instead of using the ones
	// read above: the token cache's generation is taken before that read,
	// so a write that lands after it keeps the token out of the cache.
	entry, cached, err := b.tokens.get(ctx, roleName, b.now, role.minRemaining(), func() (*cachedAccessToken, error) {
		return b.fetchAccessToken(ctx, req.Storage, roleName)
	})
	if err != nil {
		return b.accessTokenFailure(req, roleName, role.Config, err)
	}

	now := b.now()
	token := entry.token

	remaining := entry.remaining(now)
	if remaining < time.Second {
		return nil, logical.CodedError(http.StatusBadGateway, fmt.Sprintf("the access token CAS issued for role %q expired before it could be handed out (expires_in %s); check the token lifetime of the OAuth client in the RSA console",
			roleName, formatDuration(token.ExpiresIn)))
	}

	lease, warnings := resolveAccessTokenLease(leaseInputs{
		remaining:  remaining,
		requested:  requested,
		roleMaxTTL: role.MaxTTL,
		mountMax:   b.System().MaxLeaseTTL(),
		expiresAt:  token.ExpiresAt,
	})

	if !cached && token.ExpiresIn <= role.minRemaining() {
		warnings = append(warnings, fmt.Sprintf("CAS issues access tokens that live %s, not longer than the role's min_remaining_ttl %s, so every read requests a new token; lower min_remaining_ttl below the token life",
			formatDuration(token.ExpiresIn), formatDuration(role.minRemaining())))
		b.Logger().Warn("access token life is not above min_remaining_ttl; the token cannot be reused", "role", roleName,
			"expires_in", token.ExpiresIn.String(), "min_remaining_ttl", role.minRemaining().String())
	}

	resp := b.Secret(secretTokenType).Response(map[string]any{
		"token":           token.Token,
		"token_type":      token.TokenType,
		"expires_at":      token.ExpiresAt.UTC().Format(time.RFC3339),
		"expires_at_unix": token.ExpiresAt.Unix(),
		"ttl":             int64(remaining / time.Second),
		"scopes":          append([]string{}, token.Scopes...),
		"client_id":       key.config.ClientID,
		"role":            roleName,
		"config":          entry.config,
		"cached":          cached,
	}, map[string]any{
		"kind":            kindOAuth,
		"role":            roleName,
		"config":          entry.config,
		"client_id":       key.config.ClientID,
		"expires_at_unix": token.ExpiresAt.Unix(),
	})

	// Renewing would extend the lease past the token's expiry, so the lease
	// is fixed.
	resp.Secret.TTL = lease
	resp.Secret.MaxTTL = lease
	resp.Secret.Renewable = false

	for _, warning := range warnings {
		resp.AddWarning(warning)
	}

	// No log line per read: a cache hit is the hot path, and every token
	// request to CAS is logged in fetchAccessToken.
	return resp, nil
}

// fetchAccessToken reads role roleName and its config and requests a new
// access token from CAS. Callers that join the fetch share its result, so
// one caller giving up must not cancel the request for the others.
func (b *backend) fetchAccessToken(ctx context.Context, s logical.Storage, roleName string) (*cachedAccessToken, error) {
	fetchCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenRequestTimeout)
	defer cancel()

	role, err := readRole(fetchCtx, s, roleName)
	if err != nil {
		return nil, err
	}

	if role == nil {
		return nil, fmt.Errorf("%w: role %q was deleted", errRoleChanged, roleName)
	}

	key, err := b.loadKey(fetchCtx, s, role.Config)
	if err != nil {
		return nil, err
	}

	if key == nil || key.config.kind() != kindOAuth {
		return nil, fmt.Errorf("%w: config %q of role %q was deleted or is no longer an OAuth client", errRoleChanged, role.Config, roleName)
	}

	cfg := key.config

	if msg := roleScopesError(roleName, role, cfg); msg != "" {
		return nil, errors.New(msg)
	}

	b.Logger().Info("requesting access token", "role", roleName, "config", role.Config, "client_id", cfg.ClientID,
		"key_id", cfg.KeyID, "scopes", strings.Join(role.Scopes, " "), "token_url", cas.TokenEndpoint(cfg.IssuerURL))

	token, err := cas.RequestAccessToken(fetchCtx, key.client, cas.TokenRequest{
		IssuerURL: cfg.IssuerURL,
		ClientID:  cfg.ClientID,
		Key:       key.oauthKey,
		Scopes:    role.Scopes,
	}, b.now())
	if err != nil {
		b.Logger().Error("access token request failed", "role", roleName, "config", role.Config, "client_id", cfg.ClientID, "error", err)

		return nil, err
	}

	b.Logger().Info("access token issued", "role", roleName, "config", role.Config, "client_id", cfg.ClientID,
		"assertion_jti", token.AssertionID, "expires_in", token.ExpiresIn.String(), "expires_at", token.ExpiresAt.UTC().Format(time.RFC3339),
		"scopes", strings.Join(token.Scopes, " "))

	return &cachedAccessToken{token: token, config: role.Config}, nil
}

// accessTokenFailure turns a failed token fetch into a response. A
// rejection by CAS is HTTP 400: retrying cannot help, and the fix lies in
// the config, the role or the RSA console, so Vault clients must not retry
// it. Other failures (network errors, 429 and 5xx after the HTTP client's
// retries, unusable responses) are HTTP 502, which signals that CAS, not
// the request, failed, and that a later attempt may succeed.
func (b *backend) accessTokenFailure(req *logical.Request, roleName, configName string, err error) (*logical.Response, error) {
	if errors.Is(err, errRoleChanged) {
		return b.badRequest(req, "%v; read creds/%s again", err, roleName)
	}

	if cas.IsTokenRejected(err) {
		return b.badRequest(req, "CAS rejected the access token request for role %q (config %q): %v", roleName, configName, err)
	}

	return nil, logical.CodedError(http.StatusBadGateway, fmt.Sprintf("could not get an access token from CAS for role %q (config %q): %v", roleName, configName, err))
}

// roleScopesError returns a message when a role's scopes are empty or not
// all granted to its config. Writes prevent both. The check guards against
// storage edited by other means, because scopes outside the grants would
// give a role more power than the config states.
func roleScopesError(roleName string, role *roleEntry, cfg *keyConfig) string {
	if len(role.Scopes) == 0 {
		return fmt.Sprintf("role %q has no scopes, but its config %q is an OAuth client; write the role again with scopes", roleName, role.Config)
	}

	if missing := cas.MissingScopes(role.Scopes, cfg.Scopes); len(missing) > 0 {
		return fmt.Sprintf("role %q requests scopes %s that config %q does not grant; write the role again", roleName, strings.Join(missing, ","), role.Config)
	}

	return ""
}

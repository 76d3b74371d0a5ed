package backend

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// The help text mentions tokens, which gosec mistakes for credentials.
//
//nolint:gosec // help text, not credentials
const (
	pathCredsHelpSynopsis = `Issue a CAS Administration API bearer token for a role.`

	pathCredsHelpDescription = `
For a role on a legacy key, mints a JWT signed with the key, as the RSA
console's own tools do: header typ=JWT, alg=RS256; claims sub (access ID), aud
(adminRestApiUrl), iat, exp and a random jti.

For a role on an OAuth client, returns an access token that CAS issued for the
role's scopes. The engine signs a client assertion (RS256 or ES256, five
minutes of life) and posts a client credentials request to <issuer_url>/token.
It caches the token per role in memory and hands it out while it has more than
the role's min_remaining_ttl left, so a burst of readers makes one request to
CAS; cached says whether the token was issued before this read.

Send either token as "Authorization: Bearer <token>".

The token comes back as a lease that cannot be renewed and ends when the token
expires, so Vault Agent fetches a new token before the old one expires. Revoking
the lease does not stop the token; it stays valid at CAS until it expires.

Legacy token life: the request's ttl, else the role's ttl, else the mount's
default lease TTL if it is at most 59m, else 15m. It is capped by the role's
max_ttl, the mount's max lease TTL and 59m; each cap adds a warning.

OAuth access token life is set by CAS. The lease is the token's remaining life,
shortened by the request's ttl, the role's max_ttl and the mount's max lease
TTL; each adds a warning, because the token stays valid longer than its lease.
A rejection by CAS is HTTP 400 with CAS's reason; a CAS outage is HTTP 502.
`
)

func pathCreds(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern: "creds/" + framework.GenericNameRegex("name"),
			DisplayAttrs: &framework.DisplayAttributes{
				OperationPrefix: "rsa-cas",
				OperationVerb:   "issue",
				OperationSuffix: "token",
			},
			Fields: map[string]*framework.FieldSchema{
				"name": {
					Type:        framework.TypeString,
					Description: "Name of the role to issue a token for.",
					Required:    true,
				},
				"ttl": {
					Type:        framework.TypeDurationSecond,
					Description: fmt.Sprintf("Requested token life, in seconds or as a duration such as 15m; at least %s. Capped by the role's max_ttl, the mount's max lease TTL and %s. For OAuth roles it can only shorten the lease on the access token, whose life CAS sets.", formatDuration(MinTTL), formatDuration(cas.MaxTTL)),
				},
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation:   &framework.PathOperation{Callback: b.withValidName(b.pathCredsIssue)},
				logical.UpdateOperation: &framework.PathOperation{Callback: b.withValidName(b.pathCredsIssue)},
			},
			HelpSynopsis:    pathCredsHelpSynopsis,
			HelpDescription: strings.TrimSpace(pathCredsHelpDescription),
		},
	}
}

func (b *backend) pathCredsIssue(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	roleName := d.Get("name").(string)

	if msg := unknownFieldsError(req, d); msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	requested, _, msg := durationField(d, "ttl")
	if msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	if requested > 0 && requested < MinTTL {
		return b.badRequest(req, "ttl %s is shorter than %s; ask for at least %s or leave ttl unset", formatDuration(requested), formatDuration(MinTTL), formatDuration(MinTTL))
	}

	role, key, errResp, err := b.roleWithKey(ctx, req, roleName)
	if errResp != nil || err != nil {
		return errResp, err
	}

	if key.config.kind() == kindOAuth {
		return b.issueAccessToken(ctx, req, roleName, role, key, requested)
	}

	// Writes keep the two equal. This check guards against storage edited by
	// other means, because a mismatch would grant more power than the role
	// states.
	if key.config.AdminRole != role.AdminRole {
		b.Logger().Error("role and config admin roles differ; rejecting the request", "role", roleName, "role_admin_role", role.AdminRole,
			"config", role.Config, "config_admin_role", key.config.AdminRole)

		return nil, fmt.Errorf("role %q grants %s but config %q contains a %s key; write the role again with a matching config or admin_role", roleName, role.AdminRole, role.Config, key.config.AdminRole)
	}

	// For an external plugin each System() call is a gRPC call to Vault, so
	// the mount default is only asked for when it decides the ttl.
	var mountDefault time.Duration
	if requested == 0 && role.TTL == 0 {
		mountDefault = b.System().DefaultLeaseTTL()
	}

	ttl, warnings := resolveTTL(ttlInputs{
		requested:    requested,
		roleTTL:      role.TTL,
		roleMaxTTL:   role.MaxTTL,
		mountDefault: mountDefault,
		mountMax:     b.System().MaxLeaseTTL(),
	})

	// Requests and roles cannot go below MinTTL, but Vault lets a mount's
	// lease TTLs be tuned below the one second that exp can express.
	if ttl < time.Second {
		b.Logger().Error("mount lease TTL leaves no token life", "role", roleName, "ttl", ttl.String())

		return nil, fmt.Errorf("role %q: the mount's lease TTLs cap the token life to %s, below one second; raise them, for example with vault secrets tune -default-lease-ttl=15m -max-lease-ttl=1h %s",
			roleName, ttl, mountPath(req))
	}

	now := b.now()

	token, err := key.signer.Mint(now, ttl)
	if err != nil {
		return nil, fmt.Errorf("mint token for role %q: %w", roleName, err)
	}

	resp := b.Secret(secretTokenType).Response(map[string]any{
		"token":           token.Raw,
		"token_type":      "Bearer",
		"expires_at":      token.ExpiresAt.UTC().Format(time.RFC3339),
		"expires_at_unix": token.ExpiresAt.Unix(),
		"ttl":             int64(token.ExpiresAt.Sub(token.IssuedAt) / time.Second),
		"jti":             token.ID,
		"access_id":       token.Subject,
		"audience":        token.Audience,
		"role":            roleName,
		"config":          role.Config,
		"admin_role":      role.AdminRole,
	}, map[string]any{
		"role":            roleName,
		"config":          role.Config,
		"jti":             token.ID,
		"access_id":       token.Subject,
		"expires_at_unix": token.ExpiresAt.Unix(),
	})

	// The lease ends when the token does. iat was truncated to the second,
	// so the remaining life is slightly under ttl, never over it.
	remaining := token.ExpiresAt.Sub(now)
	resp.Secret.TTL = remaining
	resp.Secret.MaxTTL = remaining
	resp.Secret.Renewable = false

	for _, warning := range warnings {
		resp.AddWarning(warning)
	}

	// NOTE: no log line per issued token. The plugin logs JSON at trace level
	// and Vault filters, so even a debug line would be encoded here and parsed
	// by Vault on every request, about 6% of a token's CPU time as measured in
	// docs/benchmarks.md. Vault's audit log records every creds request.

	return resp, nil
}

// roleWithKey returns role roleName, from the role cache, and the parsed key
// of its config. A missing role or config is the caller's mistake, so it
// comes back as an error response.
func (b *backend) roleWithKey(ctx context.Context, req *logical.Request, roleName string) (*roleEntry, *cachedKey, *logical.Response, error) {
	role, err := b.roles.get(ctx, req.Storage, roleName)
	if err != nil {
		return nil, nil, nil, err
	}

	if role == nil {
		resp, err := b.badRequest(req, "role %q not found; list roles with vault list %sroles", roleName, mountPath(req))

		return nil, nil, resp, err
	}

	key, err := b.loadKey(ctx, req.Storage, role.Config)
	if err != nil {
		return nil, nil, nil, err
	}

	if key == nil {
		resp, err := b.badRequest(req, "config %q of role %q not found; write the config again or point the role at another one", role.Config, roleName)

		return nil, nil, resp, err
	}

	return role, key, nil, nil
}

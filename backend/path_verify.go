package backend

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

const (
	pathVerifyHelpSynopsis = `Check with CAS that a role's key or OAuth client works.`

	pathVerifyHelpDescription = `
Mints a short-lived token with the role's key and calls the CAS Admin API
with it: GET .../v1/adminlog/exportlogs?pageSize=1&pageNumber=0, then GET
.../v2/users/highrisk, which only Super Administrator keys may read. A
super_admin role must reach it, and a help_desk role that reaches it has a
Super Administrator key (kind wrong_admin_role). The token is used once and
never returned.

The response reports ok, and when the check failed its kind, the HTTP status,
CAS's message and advice on what to change. A failed check is still a
successful request; only a role or config that does not exist is an error.

Kinds: wrong_audience, unknown_access_id, expired_token, bad_signature,
missing_permission, wrong_admin_role, rejected_token, rate_limited,
server_error, dns, tls, timeout, connection, unexpected_response.

For a role on an OAuth client, the check requests a fresh access token for the
role's scopes, then, when the config has admin_url, calls the exportlogs path
if the scopes include rsa.audit.admin and the high-risk list if they include
rsa.user.risky.read. admin_api_checked says whether an Admin API call was
made. A token request that CAS refused has kind token_rejected. The token is
neither cached nor returned.
`
)

func pathVerify(b *backend) []*framework.Path {
	return []*framework.Path{
		{
			Pattern: "verify/" + framework.GenericNameRegex("name"),
			DisplayAttrs: &framework.DisplayAttributes{
				OperationPrefix: "rsa-cas",
				OperationVerb:   "verify",
				OperationSuffix: "role",
			},
			Fields: map[string]*framework.FieldSchema{
				"name": {
					Type:        framework.TypeString,
					Description: "Name of the role whose key to check.",
					Required:    true,
				},
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation:   &framework.PathOperation{Callback: b.withValidName(b.pathVerifyRole)},
				logical.UpdateOperation: &framework.PathOperation{Callback: b.withValidName(b.pathVerifyRole)},
			},
			HelpSynopsis:    pathVerifyHelpSynopsis,
			HelpDescription: strings.TrimSpace(pathVerifyHelpDescription),
		},
	}
}

func (b *backend) pathVerifyRole(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	roleName := d.Get("name").(string)

	if msg := unknownFieldsError(req, d); msg != "" {
		return b.badRequest(req, "%s", msg)
	}

	role, key, resp, err := b.roleWithKey(ctx, req, roleName)
	if resp != nil || err != nil {
		return resp, err
	}

	if key.config.kind() == kindOAuth {
		return b.verifyOAuthRole(ctx, roleName, role, key)
	}

	// The same guard as creds: a mismatch would check a key of another
	// power than the role states.
	if key.config.AdminRole != role.AdminRole {
		return nil, fmt.Errorf("role %q grants %s but config %q contains a %s key; write the role again with a matching config or admin_role",
			roleName, role.AdminRole, role.Config, key.config.AdminRole)
	}

	result, err := b.checkKey(ctx, key.client, key.signer, key.config)
	if err != nil {
		return nil, fmt.Errorf("verify role %q: %w", roleName, err)
	}

	b.logCheck("role", roleName, key.config, result)

	return &logical.Response{Data: verifyResponseData(roleName, role, key.config, result)}, nil
}

func verifyResponseData(roleName string, role *roleEntry, cfg *keyConfig, result cas.CheckResult) map[string]any {
	data := map[string]any{
		"ok":         result.OK,
		"kind":       string(result.Kind),
		"status":     result.Status,
		"message":    result.Message,
		"latency_ms": result.Latency.Milliseconds(),
		"url":        result.URL,
		"role":       roleName,
		"config":     role.Config,
		"access_id":  cfg.AccessID,
		"admin_role": role.AdminRole,
	}

	if !result.OK {
		data["advice"] = checkAdvice(result, cfg)
	}

	// The high-risk list is only reachable when the first call passed, so
	// false also covers a check that stopped before it.
	if role.AdminRole == adminRoleSuperAdmin {
		data["high_risk_reachable"] = result.HighRisk != nil && result.HighRisk.OK
	}

	return data
}

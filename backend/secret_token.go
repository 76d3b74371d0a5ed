package backend

import (
	"context"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
)

const secretTokenType = "rsa_cas_token" //nolint:gosec // a lease type name, not a credential

// secretToken is the lease type of issued tokens. It has no renew handler:
// renewing would extend the lease past the JWT's fixed exp.
func secretToken(b *backend) *framework.Secret {
	return &framework.Secret{
		Type: secretTokenType,
		Fields: map[string]*framework.FieldSchema{
			"token": {
				Type:        framework.TypeString,
				Description: "Bearer token for the CAS Administration API: a self-signed JWT for legacy keys, an access token from CAS for OAuth clients.",
			},
		},
		Revoke: b.revokeToken,
	}
}

// revokeToken ends the lease and nothing else. CAS cannot revoke a minted
// JWT, the engine has no call that revokes an OAuth access token, and a
// revoke that could fail would leave leases that block `vault secrets
// disable`. An OAuth access token also stays in the role's cache, because
// other leases hand out the same token.
func (b *backend) revokeToken(_ context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	role, _ := req.Secret.InternalData["role"].(string)

	if kind, _ := req.Secret.InternalData["kind"].(string); kind == kindOAuth {
		clientID, _ := req.Secret.InternalData["client_id"].(string)
		b.Logger().Debug("lease revoked; the access token stays valid at CAS until it expires", "role", role, "client_id", clientID)

		return nil, nil
	}

	jti, _ := req.Secret.InternalData["jti"].(string)
	b.Logger().Debug("lease revoked; the token stays valid at CAS until it expires", "role", role, "jti", jti)

	return nil, nil
}

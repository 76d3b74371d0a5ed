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
				Description: "Bearer token (JWT) for the CAS Administration API.",
			},
		},
		Revoke: b.revokeToken,
	}
}

// revokeToken ends the lease and nothing else. CAS cannot revoke a minted
// JWT, and a revoke that could fail would leave leases that block
// `vault secrets disable`.
func (b *backend) revokeToken(_ context.Context, req *logical.Request, _ *framework.FieldData) (*logical.Response, error) {
	jti, _ := req.Secret.InternalData["jti"].(string)
	role, _ := req.Secret.InternalData["role"].(string)

	b.Logger().Debug("lease revoked; the token stays valid at CAS until it expires", "role", role, "jti", jti)

	return nil, nil
}

// Package backend is the Vault side of the engine: paths, storage, the lease
// type and the TTL policy. CAS rules live in package cas.
package backend

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

const backendHelp = `
The RSA CAS secrets engine keeps RSA Cloud Authentication Service (CAS)
Administration API credentials, legacy API keys and OAuth clients, and issues
short-lived bearer tokens for the CAS Administration REST API, so applications
never hold the private key.

Write a legacy API key file to config/<name> with its administrator role, or
an OAuth client (issuer URL, client ID, private key, granted scopes); create
roles/<name> that use it, and read creds/<role> for a token. Read
verify/<role> to check with CAS that the role's credential works.
`

// Options configure a backend beyond what Vault passes in.
type Options struct {
	// Version is reported to Vault as the plugin's running version.
	Version string

	// Now returns the current time; tests replace it. Nil means time.Now.
	Now func() time.Time
}

// Factory returns a logical.Factory that builds the backend with opts.
func Factory(opts Options) logical.Factory {
	return func(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
		b := newBackend(opts)
		if err := b.Setup(ctx, conf); err != nil {
			return nil, fmt.Errorf("set up rsa-cas backend: %w", err)
		}

		return b, nil
	}
}

type backend struct {
	*framework.Backend

	now func() time.Time

	// writeLock serializes config and role writes, so the admin-role pairing
	// and the "config still in use" checks read a state no other write is
	// changing. Writes only happen on the active node, so a process lock is
	// enough.
	writeLock sync.Mutex

	signers *signerCache

	// tokens caches OAuth access tokens by role, in memory only.
	tokens *tokenCache

	// httpOptions are the settings of every config's HTTP client; tests
	// shorten its timeouts.
	httpOptions cas.HTTPOptions

	// roles caches roles for the creds path.
	roles *roleCache
}

func newBackend(opts Options) *backend {
	b := &backend{
		now:     opts.Now,
		signers: newSignerCache(),
		tokens:  newTokenCache(),
		roles:   newRoleCache(),
	}

	if b.now == nil {
		b.now = time.Now
	}

	b.Backend = &framework.Backend{
		Help:           strings.TrimSpace(backendHelp),
		BackendType:    logical.TypeLogical,
		RunningVersion: opts.Version,
		PathsSpecial: &logical.Paths{
			// Config entries contain private keys.
			SealWrapStorage: []string{configStoragePrefix},
		},
		Paths: framework.PathAppend(
			pathConfig(b),
			pathRoles(b),
			pathCreds(b),
			pathVerify(b),
		),
		Secrets: []*framework.Secret{
			secretToken(b),
		},
		Invalidate: b.invalidate,
		Clean:      b.clean,
	}

	return b
}

// invalidate drops cached state for a storage key that another node
// changed, such as a performance standby seeing the active node's write.
func (b *backend) invalidate(_ context.Context, key string) {
	if name, ok := strings.CutPrefix(key, configStoragePrefix); ok {
		b.signers.drop(name)
		b.tokens.dropConfig(name)
		b.Logger().Debug("dropped cached key and access tokens after storage change", "config", name)
	}

	if name, ok := strings.CutPrefix(key, roleStoragePrefix); ok {
		b.roles.drop(name)
		b.tokens.dropRole(name)
		b.Logger().Debug("dropped cached role and access token after storage change", "role", name)
	}
}

func (b *backend) clean(_ context.Context) {
	b.signers.dropAll()
	b.tokens.dropAll()
	b.roles.dropAll()
}

// badRequest returns an HTTP 400 response for a caller mistake and logs the
// reason. Messages name fields and values but never secret values.
func (b *backend) badRequest(req *logical.Request, format string, args ...any) (*logical.Response, error) {
	message := fmt.Sprintf(format, args...)
	b.Logger().Debug("rejected request", "path", req.Path, "operation", req.Operation, "reason", message)

	return logical.ErrorResponse(message), nil
}

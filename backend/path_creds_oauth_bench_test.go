package backend

import (
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// newOAuthBenchBackend returns a backend with config "client" and role
// "reader" for an OAuth client of keyType registered at a loopback fake
// CAS. It logs nothing, as Vault filters the plugin's debug lines.
func newOAuthBenchBackend(b *testing.B, keyType string) (*backend, logical.Storage) {
	b.Helper()

	storage := &logical.InmemStorage{}

	conf := logical.TestBackendConfig()
	conf.StorageView = storage
	conf.System = &logical.StaticSystemView{DefaultLeaseTTLVal: vaultDefaultLeaseTTL, MaxLeaseTTLVal: vaultMaxLeaseTTL}
	conf.Logger = hclog.NewNullLogger()

	raw, err := Factory(Options{})(b.Context(), conf)
	if err != nil {
		b.Fatalf("Factory: %v", err)
	}

	be := raw.(*backend) //nolint:forcetypeassert // Factory returns *backend

	fake := castest.NewServer()
	b.Cleanup(fake.Close)

	keyFile, err := castest.NewOAuthKeyFile(keyType, testFakeClientID, castest.ScopeAuditAdmin)
	if err != nil {
		b.Fatalf("NewOAuthKeyFile: %v", err)
	}

	if err := fake.RegisterOAuthClient(keyFile.Client()); err != nil {
		b.Fatalf("RegisterOAuthClient: %v", err)
	}

	writes := []struct {
		path string
		data map[string]any
	}{
		{"config/client", map[string]any{"issuer_url": fake.IssuerURL(), "client_id": testFakeClientID, "private_key": string(keyFile.JWK), "scopes": castest.ScopeAuditAdmin}},
		{"roles/reader", map[string]any{"config": "client", "scopes": castest.ScopeAuditAdmin}},
	}

	for _, write := range writes {
		resp, err := be.HandleRequest(b.Context(), &logical.Request{Operation: logical.CreateOperation, Path: write.path, Storage: storage, Data: write.data})
		if err != nil || resp.IsError() {
			b.Fatalf("write %s: %v %v", write.path, err, resp.Error())
		}
	}

	return be, storage
}

// BenchmarkOAuthCreds measures one creds read of an OAuth role inside the
// backend, without Vault's router and plugin gRPC. "cached" hands out the
// cached access token. "miss" drops the cache before each read, so every
// read signs a client assertion and requests a token from the fake CAS on
// loopback, which checks the assertion's signature.
func BenchmarkOAuthCreds(b *testing.B) {
	for _, keyType := range []string{"RSA", "EC"} {
		for _, miss := range []bool{false, true} {
			name := keyType + "/cached"
			if miss {
				name = keyType + "/miss"
			}

			b.Run(name, func(b *testing.B) {
				be, storage := newOAuthBenchBackend(b, keyType)

				for b.Loop() {
					if miss {
						be.tokens.dropAll()
					}

					resp, err := be.HandleRequest(b.Context(), &logical.Request{Operation: logical.ReadOperation, Path: "creds/reader", Storage: storage})
					if err != nil || resp.IsError() {
						b.Fatalf("read creds: %v %v", err, resp.Error())
					}
				}
			})
		}
	}
}

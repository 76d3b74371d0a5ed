package backend

import (
	"context"
	"io"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/internal/cputime"
)

// newBenchBackend returns a backend on in-memory storage with config "hd"
// and role "reader", logging as the plugin binary does (JSON at trace level,
// which Vault filters later) but into io.Discard.
func newBenchBackend(b *testing.B) (*backend, logical.Storage) {
	b.Helper()

	storage := &logical.InmemStorage{}

	conf := logical.TestBackendConfig()
	conf.StorageView = storage
	conf.System = &logical.StaticSystemView{DefaultLeaseTTLVal: vaultDefaultLeaseTTL, MaxLeaseTTLVal: vaultMaxLeaseTTL}
	conf.Logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Trace, JSONFormat: true})

	raw, err := Factory(Options{Version: "v0.0.0-bench"})(b.Context(), conf)
	if err != nil {
		b.Fatalf("Factory: %v", err)
	}

	backend, _ := raw.(*backend)

	for _, req := range []*logical.Request{
		{Operation: logical.CreateOperation, Path: "config/hd", Data: map[string]any{"key_file": newKeyFile(keyA()).JSON(), "admin_role": adminRoleHelpDesk}},
		{Operation: logical.CreateOperation, Path: "roles/reader", Data: map[string]any{"config": "hd", "admin_role": adminRoleHelpDesk, "ttl": "15m"}},
	} {
		req.Storage = storage

		resp, err := backend.HandleRequest(b.Context(), req)
		if err != nil || resp.IsError() {
			b.Fatalf("%s %s: error %v, %s", req.Operation, req.Path, err, describeResponse(resp))
		}
	}

	return backend, storage
}

// BenchmarkCredsIssue runs the whole creds handler in process: routing,
// field parsing, the role and key lookups, the mint and the lease response.
// Set against BenchmarkMint in package cas, it shows what the backend adds
// before gRPC and Vault's own request handling.
func BenchmarkCredsIssue(b *testing.B) {
	backend, storage := newBenchBackend(b)
	ctx := context.Background()

	b.ReportAllocs()
	start := cputime.Start()

	for b.Loop() {
		resp, err := backend.HandleRequest(ctx, &logical.Request{
			Operation:  logical.ReadOperation,
			Path:       "creds/reader",
			MountPoint: "rsa/",
			Storage:    storage,
		})
		requireLease(b, resp, err)
	}

	cputime.ReportPerOp(b, start)
}

// requireLease fails the benchmark unless resp is a lease. It never prints
// resp, because a successful one contains a token.
//
// NOTE: it is a function rather than a switch inside the b.Loop loop
// because Go 1.26.8's compiler crashes on that switch (internal compiler
// error in sync/atomic).
func requireLease(b *testing.B, resp *logical.Response, err error) {
	b.Helper()

	switch {
	case err != nil:
		b.Fatalf("creds/reader: %v", err)
	case resp.IsError():
		b.Fatalf("creds/reader: %v", resp.Error())
	case resp.Secret == nil:
		b.Fatal("creds/reader returned no lease")
	}
}

package castest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

func TestNewOAuthKeyFile(t *testing.T) {
	t.Parallel()

	cases := []struct {
		keyType    string
		wantFields []string
	}{
		{castest.KeyTypeRSA, []string{"kty", "kid", "n", "e", "d", "p", "q", "dp", "dq", "qi"}},
		{castest.KeyTypeEC, []string{"kty", "kid", "crv", "x", "y", "d"}},
	}
	for _, tc := range cases {
		t.Run(tc.keyType, func(t *testing.T) {
			t.Parallel()
			file, err := castest.NewOAuthKeyFile(tc.keyType, "0oa-new", castest.ScopeAuditAdmin, castest.ScopeUserRead)
			if err != nil {
				t.Fatalf("NewOAuthKeyFile: %v", err)
			}

			var members map[string]any
			if err := json.Unmarshal(file.JWK, &members); err != nil {
				t.Fatalf("JWK is not JSON: %v", err)
			}
			var names []string
			for name := range members {
				names = append(names, name)
			}
			slices.Sort(names)
			want := slices.Sorted(slices.Values(tc.wantFields))
			if !slices.Equal(names, want) {
				t.Errorf("JWK members = %v, want %v", names, want)
			}
			if members["kty"] != tc.keyType {
				t.Errorf("kty = %v, want %s", members["kty"], tc.keyType)
			}
			if file.KeyID == "" {
				t.Error("KeyID is empty")
			}
			if members["kid"] != file.KeyID {
				t.Errorf("kid = %v, want KeyID %q", members["kid"], file.KeyID)
			}

			var jwk jose.JSONWebKey
			if err := jwk.UnmarshalJSON(file.JWK); err != nil {
				t.Fatalf("go-jose cannot read the JWK: %v", err)
			}
			if jwk.IsPublic() {
				t.Error("JWK is a public key, want a private one")
			}
			if !jwk.Valid() {
				t.Error("go-jose reports the JWK invalid")
			}

			block, rest := pem.Decode(file.PEM)
			if block == nil || block.Type != "PRIVATE KEY" || len(strings.TrimSpace(string(rest))) != 0 {
				t.Fatalf("PEM is not one PRIVATE KEY block")
			}
			fromPEM, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatalf("parse PKCS#8: %v", err)
			}

			type equaler interface{ Equal(crypto.PrivateKey) bool }
			for name, key := range map[string]any{"JWK": jwk.Key, "PEM": fromPEM} {
				if !file.Signer.(equaler).Equal(key) {
					t.Errorf("%s key differs from Signer", name)
				}
			}

			client := file.Client()
			if client.ClientID != "0oa-new" || client.KeyID != file.KeyID ||
				!slices.Equal(client.Scopes, []string{castest.ScopeAuditAdmin, castest.ScopeUserRead}) {
				t.Errorf("Client() = %+v, want the file's ID, key ID and scopes", client)
			}
			if !client.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(file.Signer.Public()) {
				t.Error("Client().PublicKey is not the Signer's public key")
			}
		})
	}
}

// TestOAuthKeyFileGetsToken registers a key file on a server and gets a
// token with it, which proves the JWK, kid and Client fit together.
func TestOAuthKeyFileGetsToken(t *testing.T) {
	t.Parallel()
	file, err := castest.NewOAuthKeyFile(castest.KeyTypeEC, "0oa-e2e", castest.ScopeUserRiskyRead)
	if err != nil {
		t.Fatal(err)
	}

	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(file.JWK); err != nil {
		t.Fatal(err)
	}
	// Sign as a client would, with only the JWK in hand.
	fromJWK := &castest.OAuthKeyFile{ClientID: file.ClientID, KeyID: jwk.KeyID, Signer: jwk.Key.(*ecdsa.PrivateKey)}

	f := newOAuthFixture(t)
	if err := f.server.RegisterOAuthClient(file.Client()); err != nil {
		t.Fatal(err)
	}
	token := f.getToken(t, fromJWK, castest.ScopeUserRiskyRead)
	if got := send(t, f.server, http.MethodGet, highRiskPath, bearer(token.AccessToken), "", ""); got.status != http.StatusOK {
		t.Errorf("highrisk: status %d, want 200; body %s", got.status, got.body)
	}
}

func TestNewOAuthKeyFileErrors(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		make func() (*castest.OAuthKeyFile, error)
		want string
	}{
		{"unknown type", func() (*castest.OAuthKeyFile, error) {
			return castest.NewOAuthKeyFile("OKP", "c", castest.ScopeUserRead)
		}, "'OKP' is neither RSA nor EC"},
		{"lower-case type", func() (*castest.OAuthKeyFile, error) {
			return castest.NewOAuthKeyFile("rsa", "c", castest.ScopeUserRead)
		}, "'rsa' is neither"},
		{"empty client ID", func() (*castest.OAuthKeyFile, error) {
			return castest.NewOAuthKeyFile(castest.KeyTypeEC, "", castest.ScopeUserRead)
		}, "client ID is empty"},
		{"no scopes", func() (*castest.OAuthKeyFile, error) {
			return castest.NewOAuthKeyFile(castest.KeyTypeEC, "c")
		}, "no scopes"},
		{"invisible character in scope", func() (*castest.OAuthKeyFile, error) {
			return castest.NewOAuthKeyFile(castest.KeyTypeEC, "c", "rsa.user.read\ufffc")
		}, "<U+FFFC>"},
		{"1024-bit RSA", func() (*castest.OAuthKeyFile, error) {
			return castest.OAuthKeyFileFor(small, "c", castest.ScopeUserRead)
		}, "1024-bit"},
		{"P-384", func() (*castest.OAuthKeyFile, error) {
			return castest.OAuthKeyFileFor(p384, "c", castest.ScopeUserRead)
		}, "not on P-256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file, err := tc.make()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
			if file != nil {
				t.Error("returned a key file with the error")
			}
		})
	}
}

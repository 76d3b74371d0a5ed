package main

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// TestOAuthKeygenThenServe writes a client key with keygen -oauth, registers
// it the way serve does, and gets an access token signed with the JWK file.
func TestOAuthKeygenThenServe(t *testing.T) {
	t.Parallel()
	for _, keyType := range []string{castest.KeyTypeRSA, castest.KeyTypeEC} {
		t.Run(keyType, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			jwkPath := filepath.Join(dir, "client.jwk")
			pemPath := filepath.Join(dir, "client.pem")

			err := runKeygen([]string{"-oauth", "-type", keyType, "-client-id", "demo-client",
				"-scopes", "rsa.audit.admin,rsa.user.read", "-out", jwkPath, "-pem-out", pemPath}, hclog.NewNullLogger())
			if err != nil {
				t.Fatalf("keygen -oauth: %v", err)
			}
			for _, path := range []string{jwkPath, pemPath} {
				info, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != 0o600 {
					t.Errorf("%s mode = %v, want 0600", filepath.Base(path), info.Mode().Perm())
				}
			}

			server := castest.New()
			listener := httptest.NewServer(server.Handler())
			t.Cleanup(listener.Close)
			server.URL = listener.URL

			if err := registerOAuthClientFile(server, jwkPath+"=demo-client=rsa.audit.admin,rsa.user.read", hclog.NewNullLogger()); err != nil {
				t.Fatalf("register: %v", err)
			}

			data, err := os.ReadFile(jwkPath)
			if err != nil {
				t.Fatal(err)
			}
			var jwk jose.JSONWebKey
			if err := jwk.UnmarshalJSON(data); err != nil {
				t.Fatal(err)
			}
			method := jwt.SigningMethod(jwt.SigningMethodRS256)
			if keyType == castest.KeyTypeEC {
				method = jwt.SigningMethodES256
			}
			now := time.Now()
			token := jwt.NewWithClaims(method, jwt.MapClaims{
				"iss": "demo-client", "sub": "demo-client", "aud": server.TokenURL(),
				"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": rand.Text(),
			})
			token.Header["kid"] = jwk.KeyID
			assertion, err := token.SignedString(jwk.Key)
			if err != nil {
				t.Fatal(err)
			}

			form := url.Values{
				"grant_type":            {castest.GrantTypeClientCredentials},
				"client_assertion_type": {castest.ClientAssertionTypeJWT},
				"client_assertion":      {assertion},
				"client_id":             {"demo-client"},
				"scope":                 {"rsa.user.read"},
			}
			response, err := http.Post(server.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			_ = response.Body.Close()
			if response.StatusCode != http.StatusOK {
				t.Errorf("token request: status %d, want 200; last record %+v", response.StatusCode, server.Requests())
			}
		})
	}
}

func TestOAuthKeygenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no -out", []string{"-oauth"}, "needs -out"},
		{"with -url", []string{"-oauth", "-url", "http://127.0.0.1:1/x", "-out", filepath.Join(dir, "a")}, "takes no -url"},
		{"unknown type", []string{"-oauth", "-type", "DSA", "-out", filepath.Join(dir, "b")}, "'DSA' is neither RSA nor EC"},
		{"empty scope entry", []string{"-oauth", "-type", "EC", "-scopes", "rsa.user.read,", "-out", filepath.Join(dir, "c")}, "empty scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := runKeygen(tc.args, hclog.NewNullLogger())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRegisterOAuthClientFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile, err := castest.NewOAuthKeyFile(castest.KeyTypeEC, "c", castest.ScopeUserRead)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.jwk")
	noKid := filepath.Join(dir, "nokid.jwk")
	notJWK := filepath.Join(dir, "not.jwk")
	writes := map[string]string{
		good:   string(keyFile.JWK),
		noKid:  strings.Replace(string(keyFile.JWK), `"kid":"`+keyFile.KeyID+`",`, "", 1),
		notJWK: `{"kty":"oct","kid":"k1","k":"c2VjcmV0"}`,
	}
	for path, content := range writes {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		name, spec, want string
	}{
		{"no client ID", good, "must be JWKFILE=CLIENT_ID=SCOPES"},
		{"no scopes", good + "=c", "must be JWKFILE=CLIENT_ID=SCOPES"},
		{"empty scopes", good + "=c=", "must be JWKFILE=CLIENT_ID=SCOPES"},
		{"missing file", filepath.Join(dir, "none.jwk") + "=c=rsa.user.read", "read JWK file"},
		{"no kid", noKid + "=c=rsa.user.read", "has no kid"},
		{"symmetric key", notJWK + "=c=rsa.user.read", "contains no RSA or EC key"},
		{"invisible scope character", good + "=c=rsa.user.read\ufffc", "<U+FFFC>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := registerOAuthClientFile(castest.New(), tc.spec, hclog.NewNullLogger())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

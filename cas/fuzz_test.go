package cas_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// FuzzParseOAuthKey checks that no input makes ParseOAuthKey panic, that
// every error is a *cas.FieldError, and that no error quotes the private
// scalar of the seed key.
func FuzzParseOAuthKey(f *testing.F) {
	key := ecKey()

	jwk, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: testKeyID, Algorithm: "ES256", Use: "sig"})
	if err != nil {
		f.Fatalf("marshal JWK: %v", err)
	}

	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.Fatalf("marshal PKCS #8: %v", err)
	}

	var fields map[string]any
	if err := json.Unmarshal(jwk, &fields); err != nil {
		f.Fatalf("decode JWK: %v", err)
	}

	scalar, _ := fields["d"].(string)

	f.Add(string(jwk), "")
	f.Add(`{"keys":[`+string(jwk)+`]}`, "")
	f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), testKeyID)
	f.Add(`{"kty":"EC","crv":"P-256","d":1}`, "")
	f.Add("", "")

	f.Fuzz(func(t *testing.T, text, keyID string) {
		_, err := cas.ParseOAuthKey(testOAuthKeyField, text, testOAuthKeyIDField, keyID)
		if err == nil {
			return
		}

		var fieldErr *cas.FieldError
		if !errors.As(err, &fieldErr) {
			t.Fatalf("error has type %T, want *cas.FieldError", err)
		}

		if scalar != "" && strings.Contains(err.Error(), scalar) {
			t.Fatal("error quotes the private scalar d of the key")
		}
	})
}

// FuzzValidateURLs checks that plain http passes only for loopback hosts
// and that an Admin API endpoint stays on the host of the adminRestApiUrl,
// so a bearer token never goes to another host.
func FuzzValidateURLs(f *testing.F) {
	for _, seed := range []string{
		"https://tenant.access.securid.com/AdminInterface/restapi",
		"https://tenant.auth.securid.com/oauth",
		"http://127.0.0.1:8443/AdminInterface/restapi/v1/",
		"http://[::1]/oauth",
		"http://localhost.evil.example/oauth",
		"http://127.0.0.1.nip.io/oauth",
		"http://user@127.0.0.1/",
		"http://127.0.0.1\\@evil.example/",
		"https://host//..//x",
		"http://[::ffff:127.0.0.1]/a%2Fb",
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, raw string) {
		adminErr := cas.ValidateAdminURL("admin_url", raw)
		issuerErr := cas.ValidateIssuerURL("issuer_url", raw)

		if adminErr == nil || issuerErr == nil {
			parsed, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("accepted URL does not parse: %v", err)
			}

			if parsed.User != nil {
				t.Fatal("accepted a URL with user information")
			}

			if strings.EqualFold(parsed.Scheme, "http") && !isLoopback(parsed.Hostname()) {
				t.Fatalf("accepted http for the host %q, which is not loopback", parsed.Hostname())
			}
		}

		if adminErr != nil {
			return
		}

		endpoint, err := cas.AdminEndpoint(raw, cas.CheckPath)
		if err != nil {
			return
		}

		base, _ := url.Parse(raw)

		joined, err := url.Parse(endpoint)
		if err != nil {
			t.Fatalf("endpoint %q does not parse: %v", endpoint, err)
		}

		if joined.Host != base.Host || joined.User != nil || !strings.EqualFold(joined.Scheme, base.Scheme) {
			t.Fatalf("endpoint %q leaves the scheme and host of %q", endpoint, raw)
		}
	})
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}

	ip := net.ParseIP(host)

	return ip != nil && ip.IsLoopback()
}

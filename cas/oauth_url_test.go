package cas_test

import (
	"strings"
	"testing"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

const testIssuerField = "issuer_url"

func TestValidateIssuerURLAccepts(t *testing.T) {
	t.Parallel()

	for _, raw := range []string{
		"https://acme.auth.securid.com/oauth",
		"https://acme.auth.securid.com/oauth/",
		"HTTPS://acme.auth.securid.com:8443/oauth",
		"http://127.0.0.1:18443/oauth",
		"http://localhost/oauth",
		"http://[::1]:8080/oauth",
	} {
		if err := cas.ValidateIssuerURL(testIssuerField, raw); err != nil {
			t.Errorf("ValidateIssuerURL(%q) = %v, want nil", raw, err)
		}
	}
}

func TestValidateIssuerURLRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"empty", "", "is missing"},
		{"relative", "acme.auth.securid.com/oauth", "not an absolute URL"},
		{"no host", "https:///oauth", "not an absolute URL"},
		{"http on a public host", "http://acme.auth.securid.com/oauth", "uses http"},
		{"http on a private address", "http://10.0.0.5/oauth", "uses http"},
		{"ftp", "ftp://acme.auth.securid.com/oauth", `scheme "ftp"`},
		{"user information", "https://admin:hunter2@acme.auth.securid.com/oauth", "user information"},
		{"query", "https://acme.auth.securid.com/oauth?x=1", "query or fragment"},
		{"fragment", "https://acme.auth.securid.com/oauth#top", "query or fragment"},
		{"token endpoint", "https://acme.auth.securid.com/oauth/token", "is the token endpoint"},
		{"token endpoint with slash", "https://acme.auth.securid.com/oauth/token/", "is the token endpoint"},
		{"trailing space", "https://acme.auth.securid.com/oauth ", "whitespace"},
		{"zero-width space", "https://acme.auth.securid.com/\u200boauth", "invisible"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := cas.ValidateIssuerURL(testIssuerField, tt.raw)
			fieldErr := assertFieldError(t, err, testIssuerField)

			if !strings.Contains(fieldErr.Reason, tt.want) {
				t.Errorf("reason %q does not contain %q", fieldErr.Reason, tt.want)
			}

			if strings.Contains(fieldErr.Reason, "hunter2") {
				t.Errorf("reason %q echoes the password", fieldErr.Reason)
			}
		})
	}
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"https://acme.auth.securid.com/oauth":   "https://acme.auth.securid.com/oauth/token",
		"https://acme.auth.securid.com/oauth/":  "https://acme.auth.securid.com/oauth/token",
		"https://acme.auth.securid.com/oauth//": "https://acme.auth.securid.com/oauth/token",
	}

	for issuer, want := range tests {
		if got := cas.TokenEndpoint(issuer); got != want {
			t.Errorf("TokenEndpoint(%q) = %q, want %q", issuer, got, want)
		}
	}
}

func TestIssuerURLWarning(t *testing.T) {
	t.Parallel()

	warning := cas.IssuerURLWarning(testIssuerField, "https://acme.access.securid.com/oauth")
	if !strings.Contains(warning, "https://acme.auth.securid.com/oauth") {
		t.Errorf("warning %q does not suggest the authentication host", warning)
	}

	if warning := cas.IssuerURLWarning(testIssuerField, "https://acme.auth.securid.com/oauth"); warning != "" {
		t.Errorf("warning for the authentication host = %q, want none", warning)
	}
}

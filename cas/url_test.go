package cas_test

import (
	"strings"
	"testing"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas"
)

// testURLField is the field name passed to ValidateAdminURL. Errors must name
// it in FieldError.Field.
const testURLField = "admin_url"

func TestValidateAdminURLAccepts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  string
	}{
		{name: "https", raw: "https://tenant.access.securid.com/AdminInterface/restapi"},
		{name: "https trailing slash", raw: "https://tenant.access.securid.com/AdminInterface/restapi/"},
		{name: "https with v1", raw: "https://tenant.access.securid.com/AdminInterface/restapi/v1"},
		{name: "https host only", raw: "https://tenant.access.securid.com"},
		{name: "https with port", raw: "https://tenant.access.securid.com:443/AdminInterface/restapi"},
		{name: "https uppercase scheme", raw: "HTTPS://tenant.access.securid.com/AdminInterface/restapi"},
		{name: "https loopback", raw: "https://127.0.0.1:8443/AdminInterface/restapi"},
		{name: "http 127.0.0.1", raw: "http://127.0.0.1:8080/AdminInterface/restapi"},
		{name: "http other 127/8 address", raw: "http://127.0.0.2:8080/AdminInterface/restapi"},
		{name: "http IPv6 loopback", raw: "http://[::1]:8080/AdminInterface/restapi"},
		{name: "http localhost", raw: "http://localhost:8080/AdminInterface/restapi/"},
		{name: "http LOCALHOST", raw: "http://LOCALHOST:8080/AdminInterface/restapi"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if err := cas.ValidateAdminURL(testURLField, tt.raw); err != nil {
				t.Errorf("ValidateAdminURL(%q) error = %v", tt.raw, err)
			}
		})
	}
}

func TestValidateAdminURLRejects(t *testing.T) {
	t.Parallel()

	const password = "s3cret-Pa55"

	tests := []struct {
		name       string
		raw        string
		wantReason string
	}{
		{name: "empty", raw: "", wantReason: "is missing"},
		{name: "http public name", raw: "http://tenant.access.securid.com/AdminInterface/restapi", wantReason: "uses http"},
		{name: "http name starting with localhost", raw: "http://localhost.example.com/AdminInterface/restapi", wantReason: "uses http"},
		{name: "http name starting with 127", raw: "http://127.0.0.1.example.com/AdminInterface/restapi", wantReason: "uses http"},
		{name: "ftp scheme", raw: "ftp://tenant.access.securid.com/AdminInterface/restapi", wantReason: `scheme "ftp"`},
		{name: "relative path", raw: "/AdminInterface/restapi", wantReason: "is not an absolute URL"},
		{name: "missing scheme", raw: "tenant.access.securid.com/AdminInterface/restapi", wantReason: "is not an absolute URL"},
		{name: "missing host", raw: "https:///AdminInterface/restapi", wantReason: "is not an absolute URL"},
		{name: "port without host", raw: "https://:8443/AdminInterface/restapi", wantReason: "is not an absolute URL"},
		{name: "leading space", raw: " https://tenant.access.securid.com/AdminInterface/restapi", wantReason: "whitespace"},
		{name: "trailing newline", raw: "https://tenant.access.securid.com/AdminInterface/restapi\n", wantReason: "whitespace"},
		{name: "space in path", raw: "https://tenant.access.securid.com/Admin Interface/restapi", wantReason: "whitespace"},
		{name: "tab", raw: "https://tenant.access.securid.com/AdminInterface/restapi\t", wantReason: "whitespace"},
		{name: "query string", raw: "https://tenant.access.securid.com/AdminInterface/restapi?tenant=1", wantReason: "query or fragment"},
		{name: "fragment", raw: "https://tenant.access.securid.com/AdminInterface/restapi#v1", wantReason: "query or fragment"},
		{name: "userinfo", raw: "https://admin:" + password + "@tenant.access.securid.com/AdminInterface/restapi", wantReason: "user information"},
		{name: "userinfo over http", raw: "http://admin:" + password + "@tenant.access.securid.com/AdminInterface/restapi", wantReason: "user information"},
		{name: "userinfo with query", raw: "https://admin:" + password + "@tenant.access.securid.com/AdminInterface/restapi?x=1", wantReason: "user information"},
		{name: "userinfo with trailing newline", raw: "https://admin:" + password + "@tenant.access.securid.com/AdminInterface/restapi\n", wantReason: "whitespace"},
		{name: "userinfo without scheme", raw: "admin:" + password + "@tenant.access.securid.com/AdminInterface/restapi", wantReason: "is not an absolute URL"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := cas.ValidateAdminURL(testURLField, tt.raw)

			fieldErr := assertFieldError(t, err, testURLField)

			if !strings.Contains(fieldErr.Reason, tt.wantReason) {
				t.Errorf("FieldError.Reason = %q, want it to contain %q", fieldErr.Reason, tt.wantReason)
			}

			if strings.Contains(err.Error(), password) {
				t.Errorf("error message contains the password from the URL: %q", err)
			}
		})
	}
}

package backend

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// newOAuthRolesBackend returns a backend with the legacy help_desk config
// "hd" and the OAuth config "client" granted testScopes.
func newOAuthRolesBackend(t *testing.T) *testBackend {
	t.Helper()

	tb := newTestBackend(t)
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	tb.writeOAuthConfig(t, "client", testIssuerURL, nil)

	return tb
}

func TestOAuthRoleCreateRead(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		data   map[string]any
		scopes string
		min    int64
		max    int64
	}{
		{"defaults", map[string]any{"scopes": "rsa.user.read"}, "rsa.user.read", 120, 0},
		{"all grants", map[string]any{"scopes": testScopes}, testScopes, 120, 0},
		{"json array", map[string]any{"scopes": []any{"rsa.audit.admin"}}, "rsa.audit.admin", 120, 0},
		{"min_remaining_ttl and max_ttl", map[string]any{"scopes": "rsa.user.read", "min_remaining_ttl": "5m", "max_ttl": "30m"}, "rsa.user.read", 300, 1800},
		{"min_remaining_ttl 0 means default", map[string]any{"scopes": "rsa.user.read", "min_remaining_ttl": 0}, "rsa.user.read", 120, 0},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newOAuthRolesBackend(t)

			data := map[string]any{"config": "client"}
			for field, value := range tt.data {
				data[field] = value
			}

			tb.mustWrite(t, "roles/reader", data)

			read := tb.mustRequest(t, logical.ReadOperation, "roles/reader", nil)

			if scopes, _ := read.Data["scopes"].([]string); strings.Join(scopes, ",") != tt.scopes {
				t.Errorf("scopes = %#v, expected %s", read.Data["scopes"], tt.scopes)
			}

			want := map[string]any{"config": "client", "min_remaining_ttl": tt.min, "max_ttl": tt.max}
			for field, value := range want {
				if read.Data[field] != value {
					t.Errorf("%s = %#v, expected %#v", field, read.Data[field], value)
				}
			}

			if len(read.Data) != len(want)+1 {
				t.Errorf("role read returned fields %v, expected config, scopes, min_remaining_ttl and max_ttl", mapKeys(read.Data))
			}
		})
	}
}

func TestOAuthRoleRejectsBadInput(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		data map[string]any
		want []string
	}{
		{"admin_role on oauth config", map[string]any{"config": "client", "scopes": "rsa.user.read", "admin_role": adminRoleHelpDesk}, []string{"admin_role applies only to roles on legacy configs", `"client"`, "scopes="}},
		{"ttl on oauth config", map[string]any{"config": "client", "scopes": "rsa.user.read", "ttl": "10m"}, []string{"ttl applies only to roles on legacy configs", "CAS sets"}},
		{"admin_role and ttl on oauth config", map[string]any{"config": "client", "scopes": "rsa.user.read", "admin_role": adminRoleHelpDesk, "ttl": "10m"}, []string{"admin_role and ttl apply only to roles on legacy configs"}},
		{"missing scopes", map[string]any{"config": "client"}, []string{"scopes is missing", "rsa.audit.admin,rsa.user.read"}},
		{"empty scopes", map[string]any{"config": "client", "scopes": ""}, []string{"scopes", "at least one scope"}},
		{"scope outside grants", map[string]any{"config": "client", "scopes": "rsa.user.read,rsa.user.manage"}, []string{"rsa.user.manage", "not granted", `"client"`}},
		{"scope with U+FFFC", map[string]any{"config": "client", "scopes": "rsa.user.read\uFFFC"}, []string{"U+FFFC"}},
		{"duplicate scope", map[string]any{"config": "client", "scopes": "rsa.user.read,rsa.user.read"}, []string{"twice"}},
		{"min_remaining_ttl too short", map[string]any{"config": "client", "scopes": "rsa.user.read", "min_remaining_ttl": "5s"}, []string{"min_remaining_ttl 5s", "at least 10s"}},
		{"min_remaining_ttl too long", map[string]any{"config": "client", "scopes": "rsa.user.read", "min_remaining_ttl": "13h"}, []string{"min_remaining_ttl 13h", "12h"}},
		{"min_remaining_ttl negative", map[string]any{"config": "client", "scopes": "rsa.user.read", "min_remaining_ttl": -5}, []string{"negative"}},
		{"max_ttl too long", map[string]any{"config": "client", "scopes": "rsa.user.read", "max_ttl": "2h"}, []string{"max_ttl"}},
		{"scopes on legacy config", map[string]any{"config": "hd", "admin_role": adminRoleHelpDesk, "scopes": "rsa.user.read"}, []string{"scopes applies only to roles on OAuth configs", "admin_role=help_desk"}},
		{"min_remaining_ttl on legacy config", map[string]any{"config": "hd", "admin_role": adminRoleHelpDesk, "min_remaining_ttl": "5m"}, []string{"min_remaining_ttl applies only to roles on OAuth configs"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newOAuthRolesBackend(t)

			// An explicit create, because the existence check returns an
			// unparsable duration as an error rather than an error response.
			resp, err := tb.request(t, logical.CreateOperation, "roles/reader", tt.data)
			message := requireErrorResponse(t, resp, err)

			for _, want := range tt.want {
				if !strings.Contains(message, want) {
					t.Errorf("message %q does not contain %q", message, want)
				}
			}

			assertRoleMissing(t, tb, "reader")
		})
	}
}

func TestRoleMovesBetweenKinds(t *testing.T) {
	t.Parallel()

	tb := newOAuthRolesBackend(t)
	tb.writeRole(t, "helpdesk", "hd", adminRoleHelpDesk, map[string]any{"ttl": "20m", "max_ttl": "30m"})

	// Moving to the OAuth config without naming scopes fails, because the
	// role would otherwise have no stated power.
	resp, err := tb.write(t, "roles/helpdesk", map[string]any{"config": "client"})
	message := requireErrorResponse(t, resp, err)

	if !strings.Contains(message, "scopes is missing") {
		t.Errorf("message %q does not ask for scopes", message)
	}

	tb.mustWrite(t, "roles/helpdesk", map[string]any{"config": "client", "scopes": "rsa.audit.admin"})

	read := tb.mustRequest(t, logical.ReadOperation, "roles/helpdesk", nil)

	for field, value := range map[string]any{"config": "client", "min_remaining_ttl": int64(120), "max_ttl": int64(1800)} {
		if read.Data[field] != value {
			t.Errorf("%s = %#v, expected %#v", field, read.Data[field], value)
		}
	}

	for _, field := range []string{"admin_role", "ttl"} {
		if _, ok := read.Data[field]; ok {
			t.Errorf("role on the OAuth config still shows %s", field)
		}
	}

	if scopes, _ := read.Data["scopes"].([]string); strings.Join(scopes, ",") != "rsa.audit.admin" {
		t.Errorf("scopes = %#v, expected rsa.audit.admin", read.Data["scopes"])
	}

	// Moving back needs admin_role again.
	resp, err = tb.write(t, "roles/helpdesk", map[string]any{"config": "hd"})
	message = requireErrorResponse(t, resp, err)

	if !strings.Contains(message, "admin_role is missing") {
		t.Errorf("message %q does not ask for admin_role", message)
	}

	tb.mustWrite(t, "roles/helpdesk", map[string]any{"config": "hd", "admin_role": adminRoleHelpDesk})

	read = tb.mustRequest(t, logical.ReadOperation, "roles/helpdesk", nil)
	assertRoleData(t, read, map[string]any{
		"config":     "hd",
		"admin_role": adminRoleHelpDesk,
		"ttl":        int64(0),
		"max_ttl":    int64(1800),
	})
}

func TestOAuthRoleUpdateKeepsOtherFields(t *testing.T) {
	t.Parallel()

	tb := newOAuthRolesBackend(t)
	tb.mustWrite(t, "roles/reader", map[string]any{"config": "client", "scopes": "rsa.user.read", "min_remaining_ttl": "5m"})

	tb.mustWrite(t, "roles/reader", map[string]any{"max_ttl": "15m"})

	read := tb.mustRequest(t, logical.ReadOperation, "roles/reader", nil)
	if read.Data["min_remaining_ttl"] != int64(300) || read.Data["max_ttl"] != int64(900) {
		t.Errorf("read after update = %v", read.Data)
	}

	if scopes, _ := read.Data["scopes"].([]string); strings.Join(scopes, ",") != "rsa.user.read" {
		t.Errorf("scopes after update = %#v", read.Data["scopes"])
	}
}

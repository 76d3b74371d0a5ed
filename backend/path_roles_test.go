package backend

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

// newRolesBackend returns a backend with a help_desk config "hd" on keyA and
// a super_admin config "sa" on keyB.
func newRolesBackend(t *testing.T) *testBackend {
	t.Helper()

	tb := newTestBackend(t)
	tb.writeKeyConfig(t, "hd", adminRoleHelpDesk, keyA())
	tb.writeKeyConfig(t, "sa", adminRoleSuperAdmin, keyB())

	return tb
}

// assertRoleData compares a role read with the expected values.
func assertRoleData(t *testing.T, resp *logical.Response, want map[string]any) {
	t.Helper()

	for field, value := range want {
		if resp.Data[field] != value {
			t.Errorf("%s = %#v, expected %#v", field, resp.Data[field], value)
		}
	}

	if len(resp.Data) != len(want) {
		t.Errorf("role read returned fields %v, expected exactly %d", mapKeys(resp.Data), len(want))
	}
}

func TestRoleCreateRead(t *testing.T) {
	t.Parallel()

	tb := newRolesBackend(t)

	resp := tb.mustWrite(t, "roles/reader", map[string]any{
		"config":     "hd",
		"admin_role": adminRoleHelpDesk,
		"ttl":        "20m",
		"max_ttl":    1800,
	})
	if resp != nil {
		t.Errorf("create response = %#v, expected nil", resp)
	}

	read := tb.mustRequest(t, logical.ReadOperation, "roles/reader", nil)

	assertRoleData(t, read, map[string]any{
		"config":     "hd",
		"admin_role": adminRoleHelpDesk,
		"ttl":        int64(1200),
		"max_ttl":    int64(1800),
	})
}

func TestRoleCreateDefaultsTTLs(t *testing.T) {
	t.Parallel()

	tb := newRolesBackend(t)
	tb.writeRole(t, "admin", "sa", adminRoleSuperAdmin, nil)

	read := tb.mustRequest(t, logical.ReadOperation, "roles/admin", nil)

	assertRoleData(t, read, map[string]any{
		"config":     "sa",
		"admin_role": adminRoleSuperAdmin,
		"ttl":        int64(0),
		"max_ttl":    int64(0),
	})
}

func TestRoleUpdateKeepsOtherFields(t *testing.T) {
	t.Parallel()

	tb := newRolesBackend(t)
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, map[string]any{"ttl": "20m", "max_ttl": "30m"})

	resp, err := tb.write(t, "roles/reader", map[string]any{"ttl": "25m"})
	requireSuccess(t, "update ttl", resp, err)

	read := tb.mustRequest(t, logical.ReadOperation, "roles/reader", nil)

	assertRoleData(t, read, map[string]any{
		"config":     "hd",
		"admin_role": adminRoleHelpDesk,
		"ttl":        int64(1500),
		"max_ttl":    int64(1800),
	})
}

func TestRoleUpdateClearsTTLWithZero(t *testing.T) {
	t.Parallel()

	tb := newRolesBackend(t)
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, map[string]any{"ttl": "20m", "max_ttl": "30m"})

	tb.mustWrite(t, "roles/reader", map[string]any{"ttl": 0, "max_ttl": "0s"})

	read := tb.mustRequest(t, logical.ReadOperation, "roles/reader", nil)

	assertRoleData(t, read, map[string]any{
		"config":     "hd",
		"admin_role": adminRoleHelpDesk,
		"ttl":        int64(0),
		"max_ttl":    int64(0),
	})
}

func TestRoleDelete(t *testing.T) {
	t.Parallel()

	tb := newRolesBackend(t)
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, nil)

	tb.mustRequest(t, logical.DeleteOperation, "roles/reader", nil)

	read, err := tb.request(t, logical.ReadOperation, "roles/reader", nil)
	if err != nil {
		t.Fatalf("read after delete: %v", err)
	}

	if read != nil {
		t.Errorf("read after delete = %v, expected nil", read.Data)
	}

	// Deleting a role that does not exist succeeds, as elsewhere in Vault.
	tb.mustRequest(t, logical.DeleteOperation, "roles/reader", nil)
}

func TestRoleList(t *testing.T) {
	t.Parallel()

	tb := newRolesBackend(t)
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, nil)
	tb.writeRole(t, "admin", "sa", adminRoleSuperAdmin, nil)

	resp := tb.mustRequest(t, logical.ListOperation, "roles/", nil)

	keys, _ := resp.Data["keys"].([]string)
	if strings.Join(keys, ",") != "admin,reader" {
		t.Errorf("keys = %q, expected [admin reader]", keys)
	}
}

func TestRoleRejectsBadInput(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		data map[string]any
		want []string // substrings the message must contain
	}{
		{"missing admin_role", map[string]any{"config": "hd"}, []string{"admin_role"}},
		{"unknown admin_role", map[string]any{"config": "hd", "admin_role": "root"}, []string{"admin_role", "root"}},
		{"missing config", map[string]any{"admin_role": adminRoleHelpDesk}, []string{"config"}},
		{"empty config", map[string]any{"config": "", "admin_role": adminRoleHelpDesk}, []string{"config"}},
		{"config not found", map[string]any{"config": "absent", "admin_role": adminRoleHelpDesk}, []string{"config", "absent", "not found"}},
		{"unknown field", map[string]any{"config": "hd", "admin_role": adminRoleHelpDesk, "max_tll": "30m"}, []string{"max_tll"}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newRolesBackend(t)

			resp, err := tb.write(t, "roles/reader", tt.data)
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

func assertRoleMissing(t *testing.T, tb *testBackend, name string) {
	t.Helper()

	read, err := tb.request(t, logical.ReadOperation, "roles/"+name, nil)
	if err != nil {
		t.Fatalf("read role %s: %v", name, err)
	}

	if read != nil {
		t.Errorf("role %s was stored: %v", name, read.Data)
	}
}

func TestRoleAdminRolePairing(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		config    string
		adminRole string
		wantError bool
	}{
		{"help_desk on help_desk", "hd", adminRoleHelpDesk, false},
		{"super_admin on super_admin", "sa", adminRoleSuperAdmin, false},
		{"help_desk on super_admin", "sa", adminRoleHelpDesk, true},
		{"super_admin on help_desk", "hd", adminRoleSuperAdmin, true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newRolesBackend(t)

			resp, err := tb.write(t, "roles/r", map[string]any{"config": tt.config, "admin_role": tt.adminRole})

			if !tt.wantError {
				requireSuccess(t, "create role", resp, err)

				return
			}

			message := requireErrorResponse(t, resp, err)

			for _, want := range []string{"admin_role", tt.config, tt.adminRole} {
				if !strings.Contains(message, want) {
					t.Errorf("message %q does not contain %q", message, want)
				}
			}

			assertRoleMissing(t, tb, "r")
		})
	}
}

func TestRoleUpdateToMismatchRejected(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		data map[string]any
	}{
		{"config only", map[string]any{"config": "sa"}},
		{"admin_role only", map[string]any{"admin_role": adminRoleSuperAdmin}},
		{"both mismatched", map[string]any{"config": "hd", "admin_role": adminRoleSuperAdmin}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newRolesBackend(t)
			tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, nil)

			resp, err := tb.write(t, "roles/reader", tt.data)
			message := requireErrorResponse(t, resp, err)

			if !strings.Contains(message, "admin_role") {
				t.Errorf("message %q does not name admin_role", message)
			}

			read := tb.mustRequest(t, logical.ReadOperation, "roles/reader", nil)

			assertRoleData(t, read, map[string]any{
				"config":     "hd",
				"admin_role": adminRoleHelpDesk,
				"ttl":        int64(0),
				"max_ttl":    int64(0),
			})
		})
	}
}

func TestRoleUpdateToMatchingPair(t *testing.T) {
	t.Parallel()

	tb := newRolesBackend(t)
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, nil)

	tb.mustWrite(t, "roles/reader", map[string]any{"config": "sa", "admin_role": adminRoleSuperAdmin})

	read := tb.mustRequest(t, logical.ReadOperation, "roles/reader", nil)

	assertRoleData(t, read, map[string]any{
		"config":     "sa",
		"admin_role": adminRoleSuperAdmin,
		"ttl":        int64(0),
		"max_ttl":    int64(0),
	})
}

func TestRoleTTLBounds(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		ttl       any // nil leaves the field out
		maxTTL    any
		wantError string // field the message must name; "" for success
	}{
		{"ttl minimum", "10s", nil, ""},
		{"ttl maximum", "59m", nil, ""},
		{"ttl seconds", 600, nil, ""},
		{"ttl below minimum", "9s", nil, "ttl"},
		{"ttl one second", 1, nil, "ttl"},
		{"ttl one hour", "1h", nil, "ttl"},
		{"ttl above maximum", "59m1s", nil, "ttl"},
		{"ttl negative", "-1m", nil, "ttl"},
		{"ttl not a duration", "fifteen", nil, "ttl"},
		{"max_ttl minimum", nil, "10s", ""},
		{"max_ttl maximum", nil, "59m", ""},
		{"max_ttl below minimum", nil, "5s", "max_ttl"},
		{"max_ttl above maximum", nil, "2h", "max_ttl"},
		{"max_ttl negative", nil, -60, "max_ttl"},
		{"max_ttl not a duration", nil, "an hour", "max_ttl"},
		{"ttl equals max_ttl", "30m", "30m", ""},
		{"ttl above max_ttl", "40m", "30m", "max_ttl"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newRolesBackend(t)

			data := map[string]any{"config": "hd", "admin_role": adminRoleHelpDesk}
			if tt.ttl != nil {
				data["ttl"] = tt.ttl
			}

			if tt.maxTTL != nil {
				data["max_ttl"] = tt.maxTTL
			}

			// An explicit create, because the existence check returns an
			// unparsable duration as an error rather than an error response.
			resp, err := tb.request(t, logical.CreateOperation, "roles/reader", data)

			if tt.wantError == "" {
				requireSuccess(t, "create role", resp, err)

				return
			}

			message := requireErrorResponse(t, resp, err)
			t.Logf("message: %s", message)

			// A whole-word match, so "max_ttl" does not count as naming ttl.
			if !regexp.MustCompile(`\b` + tt.wantError + `\b`).MatchString(message) {
				t.Errorf("message %q does not name %s", message, tt.wantError)
			}

			assertRoleMissing(t, tb, "reader")
		})
	}
}

func TestRoleUpdateMaxTTLBelowTTL(t *testing.T) {
	t.Parallel()

	tb := newRolesBackend(t)
	tb.writeRole(t, "reader", "hd", adminRoleHelpDesk, map[string]any{"ttl": "20m"})

	resp, err := tb.write(t, "roles/reader", map[string]any{"max_ttl": "10m"})
	message := requireErrorResponse(t, resp, err)

	if !strings.Contains(message, "max_ttl") {
		t.Errorf("message %q does not name max_ttl", message)
	}

	read := tb.mustRequest(t, logical.ReadOperation, "roles/reader", nil)
	if read.Data["max_ttl"] != int64(0) {
		t.Errorf("max_ttl = %v after a rejected update, expected 0", read.Data["max_ttl"])
	}
}

package backend

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/sdk/logical"
)

func TestNameWithDotDotRejected(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		op   logical.Operation
		path string
		data map[string]any
	}{
		{"config create", logical.CreateOperation, "config/a..b", map[string]any{"key_file": newKeyFile(keyA()).JSON(), "admin_role": adminRoleHelpDesk}},
		{"config read", logical.ReadOperation, "config/a..b", nil},
		{"config delete", logical.DeleteOperation, "config/a..b", nil},
		{"role create", logical.CreateOperation, "roles/a..b", map[string]any{"config": "hd", "admin_role": adminRoleHelpDesk}},
		{"role read", logical.ReadOperation, "roles/a..b", nil},
		{"role delete", logical.DeleteOperation, "roles/a..b", nil},
		{"creds read", logical.ReadOperation, "creds/a..b", nil},
		{"creds update", logical.UpdateOperation, "creds/a..b", nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tb := newTestBackend(t)

			resp, err := tb.request(t, tt.op, tt.path, tt.data)
			message := requireErrorResponse(t, resp, err)

			if !strings.Contains(message, `"a..b"`) {
				t.Errorf("error %q does not name the value", message)
			}
		})
	}
}

func TestNameExistenceCheckWithDotDot(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	for _, path := range []string{"config/a..b", "roles/a..b"} {
		checkFound, exists, err := tb.HandleExistenceCheck(t.Context(), &logical.Request{
			Operation: logical.CreateOperation,
			Path:      path,
			Storage:   tb.storage,
		})
		if err != nil {
			t.Errorf("%s: existence check failed: %v", path, err)
		}

		if !checkFound {
			t.Errorf("%s: existence check not found", path)
		}

		if exists {
			t.Errorf("%s: exists = true, expected false", path)
		}
	}
}

func TestRoleConfigWithDotDotRejected(t *testing.T) {
	t.Parallel()

	tb := newTestBackend(t)

	resp, err := tb.write(t, "roles/reader", map[string]any{"config": "a..b", "admin_role": adminRoleHelpDesk})
	message := requireErrorResponse(t, resp, err)

	if !strings.Contains(message, "config") {
		t.Errorf("error %q does not name the config field", message)
	}
}

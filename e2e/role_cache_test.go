//go:build e2e

package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// The plugin caches roles for the creds path. Through a real Vault, every
// role update and delete must reach the next creds request at once.
func TestCredsSeeRoleChanges(t *testing.T) {
	setup(t)

	env.vault.mustAPI(t, http.MethodPost, "rsa/roles/cache-check", map[string]any{
		"config": "helpdesk-key", "admin_role": "help_desk", "ttl": "10m",
	}, http.StatusNoContent)

	if got := env.vault.mustAPI(t, http.MethodGet, "rsa/creds/cache-check", nil, http.StatusOK).data()["ttl"]; got != float64(600) {
		t.Fatalf("ttl = %v, want 600", got)
	}

	env.vault.mustAPI(t, http.MethodPost, "rsa/roles/cache-check", map[string]any{"ttl": "20m"}, http.StatusNoContent)

	if got := env.vault.mustAPI(t, http.MethodGet, "rsa/creds/cache-check", nil, http.StatusOK).data()["ttl"]; got != float64(1200) {
		t.Errorf("ttl after the role update = %v, want 1200", got)
	}

	env.vault.mustAPI(t, http.MethodDelete, "rsa/roles/cache-check", nil, http.StatusNoContent)

	resp := env.vault.mustAPI(t, http.MethodGet, "rsa/creds/cache-check", nil, http.StatusBadRequest)
	if !strings.Contains(resp.errorsText(), `role "cache-check" not found`) {
		t.Errorf("creds after the role delete: %q, want role not found", resp.errorsText())
	}
}

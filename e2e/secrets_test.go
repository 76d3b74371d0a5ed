//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// TestAuditLogHasNoPrivateKey checks what the tests before it logged.
// TestMain sweeps the same logs again after every test ran. The test writes a
// key itself too, so it cannot pass on an empty log.
func TestAuditLogHasNoPrivateKey(t *testing.T) {
	setup(t)

	// Write a key once more so the log surely has a config write in it, and
	// also a rejected write that carries a key.
	env.vault.mustVault(t, "write", "rsa/config/audit-check", "key_file=@"+env.superAdminPath, "admin_role=super_admin")
	_ = env.vault.vault("write", "rsa/config/audit-check", "key_file=@"+env.superAdminPath, "admin_role=nobody")

	deadline := time.Now().Add(10 * time.Second)

	var audit []byte

	for time.Now().Before(deadline) {
		data, err := os.ReadFile(env.auditPath)
		if err != nil {
			t.Fatalf("read audit log: %v", err)
		}

		audit = data
		if bytes.Contains(audit, []byte("rsa/config/audit-check")) {
			break
		}

		time.Sleep(100 * time.Millisecond)
	}

	if !bytes.Contains(audit, []byte("rsa/config/audit-check")) {
		t.Fatal("audit log has no entry for rsa/config/audit-check")
	}

	assertNoKeyMaterial(t, "audit log", string(audit), env.helpDesk.PrivateKey, env.superAdmin.PrivateKey)

	serverLog, err := os.ReadFile(env.vault.logPath)
	if err != nil {
		t.Fatalf("read vault log: %v", err)
	}

	assertNoKeyMaterial(t, "vault server log", string(serverLog), env.helpDesk.PrivateKey, env.superAdmin.PrivateKey)
}

//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// upgradeVersion is the version of the second plugin build.
const upgradeVersion = "v0.2.0-e2e"

// fileServerConfig is the config of a single Vault server that keeps its
// data in a directory, so a restart finds it again.
const fileServerConfig = `ui               = false
disable_mlock    = true
plugin_directory = %[1]q
api_addr         = "http://%[2]s"

listener "tcp" {
  address     = %[2]q
  tls_disable = true
}

storage "file" {
  path = %[3]q
}
`

// lease is an outstanding creds lease and its token.
type lease struct {
	id    string
	token string
}

// TestUpgradeKillAndRestart follows one server on file storage through an
// operator's life cycle: upgrade the plugin to a second build and reload
// it, kill the plugin process while requests are in flight, and restart
// the Vault server. After each step configs, roles and outstanding leases
// must be unchanged and creds must work.
func TestUpgradeKillAndRestart(t *testing.T) {
	parent := t.TempDir()
	dir, pluginDir := nodeDirs(t, parent, "persistent")

	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}

	config := fmt.Sprintf(fileServerConfig, pluginDir, addr, filepath.Join(dir, "data"))
	n := newNode(t, "persistent", dir, pluginDir, addr, config)
	n.initialize(t)

	if _, err := n.waitHealth(30*time.Second, func(status int) bool { return status == http.StatusOK }); err != nil {
		t.Fatal(err)
	}

	n.mustVault(t, "plugin", "register", "-sha256="+env.pluginSHA, "-command="+pluginBinary, "-version="+pluginVersion, "secret", pluginName)
	n.mustVault(t, "secrets", "enable", "-path=rsa", "-plugin-version="+pluginVersion, pluginName)
	n.mustVault(t, "write", "rsa/config/helpdesk-key", "key_file=@"+env.helpDeskPath, "admin_role=help_desk")
	n.mustVault(t, "write", "rsa/config/superadmin-key", "key_file=@"+env.superAdminPath, "admin_role=super_admin")
	n.mustVault(t, "write", "rsa/roles/helpdesk", "config=helpdesk-key", "admin_role=help_desk", "ttl=10m")
	n.mustVault(t, "write", "rsa/roles/superadmin", "config=superadmin-key", "admin_role=super_admin", "ttl=10m")

	before := haSnapshot(t, n)
	leases := []lease{nodeCreds(t, n, "helpdesk", env.helpDesk), nodeCreds(t, n, "superadmin", env.superAdmin)}

	upgraded := t.Run("upgrade and reload", func(t *testing.T) {
		upgradePlugin(t, n)

		checkState(t, n, before, leases)

		// The new build must be able to end leases the old one issued.
		n.mustVault(t, "lease", "revoke", leases[0].id)

		if result := n.vault("lease", "lookup", leases[0].id); result.err == nil {
			t.Errorf("lease %s still exists after revoke", leases[0].id)
		}

		leases = leases[1:]
	})
	if !upgraded {
		return
	}

	if !t.Run("plugin process killed", func(t *testing.T) {
		killPluginUnderLoad(t, n)
		checkState(t, n, before, leases)
	}) {
		return
	}

	t.Run("server restarted", func(t *testing.T) {
		n.stop()
		n.start(t)
		n.unseal(t)

		if _, err := n.waitHealth(30*time.Second, func(status int) bool { return status == http.StatusOK }); err != nil {
			t.Fatal(err)
		}

		checkState(t, n, before, leases)
		checkRunningVersion(t, n, upgradeVersion)

		for _, version := range []string{pluginVersion, upgradeVersion} {
			n.mustAPI(t, http.MethodGet, "sys/plugins/catalog/secret/"+pluginName+"?version="+version, nil, http.StatusOK)
		}
	})

	t.Run("server killed", func(t *testing.T) {
		// The plugin process starts on the first request after the restart.
		nodeCreds(t, n, "helpdesk", env.helpDesk)
		pid := onePluginPID(t, pluginDir)

		n.kill()

		// A killed Vault cannot stop its plugin, so the plugin must notice
		// on its own and exit rather than keep the parsed keys in memory.
		waitProcessExit(t, pid, 10*time.Second)

		n.start(t)
		n.unseal(t)

		if _, err := n.waitHealth(30*time.Second, func(status int) bool { return status == http.StatusOK }); err != nil {
			t.Fatal(err)
		}

		checkState(t, n, before, leases)
	})
}

// waitProcessExit fails the test unless the process pid is gone within
// timeout. A zombie counts as gone, since it no longer runs code.
func waitProcessExit(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()

	start := time.Now()

	for {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil || strings.Contains(string(status), "\nState:\tZ") {
			t.Logf("plugin process %d exited %.2fs after its Vault server was killed", pid, time.Since(start).Seconds())

			return
		}

		if time.Since(start) > timeout {
			t.Fatalf("plugin process %d still runs %s after its Vault server was killed", pid, timeout)
		}

		time.Sleep(100 * time.Millisecond)
	}
}

// upgradePlugin builds the plugin again with upgradeVersion, copies it
// next to the old build under a versioned name, registers it, pins the
// mount to it and reloads the plugin, as docs/operations.md shows.
func upgradePlugin(t *testing.T, n *node) {
	t.Helper()

	buildDir := t.TempDir()

	sha, err := buildPlugin(buildDir, upgradeVersion)
	if err != nil {
		t.Fatal(err)
	}

	command := pluginBinary + "-" + upgradeVersion
	copyFile(t, filepath.Join(buildDir, pluginBinary), filepath.Join(n.pluginDir, command), 0o755)

	n.mustVault(t, "plugin", "register", "-sha256="+sha, "-command="+command, "-version="+upgradeVersion, "secret", pluginName)
	n.mustVault(t, "secrets", "tune", "-plugin-version="+upgradeVersion, "rsa")
	n.mustVault(t, "plugin", "reload", "-type=secret", "-plugin="+pluginName)

	// Reload starts the new build on the next request.
	nodeCreds(t, n, "helpdesk", env.helpDesk)
	checkRunningVersion(t, n, upgradeVersion)

	mounts := n.mustAPI(t, http.MethodGet, "sys/mounts/rsa", nil, http.StatusOK)
	if got := mounts.data()["running_sha256"]; got != sha {
		t.Errorf("running_sha256 = %v, want the new build's %s", got, sha)
	}

	pid := onePluginPID(t, n.pluginDir)
	if exe := pluginExe(pid); filepath.Base(exe) != command {
		t.Errorf("plugin process %d runs %s, want %s", pid, exe, command)
	}
}

// checkRunningVersion checks the version the mount's plugin reports.
func checkRunningVersion(t *testing.T, n *node, want string) {
	t.Helper()

	mounts := n.mustAPI(t, http.MethodGet, "sys/mounts/rsa", nil, http.StatusOK)

	if got := mounts.data()["running_plugin_version"]; got != want {
		t.Errorf("running_plugin_version = %v, want %s", got, want)
	}

	if got := mounts.data()["plugin_version"]; got != want {
		t.Errorf("pinned plugin_version = %v, want %s", got, want)
	}
}

// nodeCreds reads creds of role through the CLI and checks the token
// locally and at the fake CAS.
func nodeCreds(t *testing.T, n *node, role string, keyFile *castest.KeyFile) lease {
	t.Helper()

	var out credsOutput
	if err := json.Unmarshal([]byte(n.mustVault(t, "read", "-format=json", "rsa/creds/"+role)), &out); err != nil {
		t.Fatalf("decode creds of %s: %v", role, err)
	}

	token, _ := out.Data["token"].(string)

	if _, err := verifyToken(token, &keyFile.PrivateKey.PublicKey, keyFile.AccessID, env.cas.AdminURL(), time.Now()); err != nil {
		t.Fatalf("creds of %s: %v", role, err)
	}

	if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs", token, nil); status != http.StatusOK {
		t.Fatalf("creds of %s: fake CAS status %d (%s)", role, status, message)
	}

	return lease{id: out.LeaseID, token: token}
}

// checkState checks that configs and roles equal before, that every
// outstanding lease still exists and its token still works, and that both
// roles issue tokens.
func checkState(t *testing.T, n *node, before string, leases []lease) {
	t.Helper()

	if after := haSnapshot(t, n); after != before {
		t.Errorf("configs and roles changed:\nbefore %s\nafter  %s", before, after)
	}

	for _, l := range leases {
		n.mustVault(t, "lease", "lookup", l.id)

		if status, message := callCAS(t, http.MethodGet, "/v1/adminlog/exportlogs", l.token, nil); status != http.StatusOK {
			t.Errorf("token of lease %s: fake CAS status %d (%s)", l.id, status, message)
		}
	}

	nodeCreds(t, n, "helpdesk", env.helpDesk)
	nodeCreds(t, n, "superadmin", env.superAdmin)
}

// killPluginUnderLoad kills the plugin process with SIGKILL while clients
// read creds, and checks that Vault starts it again and later reads
// succeed. It logs how many reads failed.
func killPluginUnderLoad(t *testing.T, n *node) {
	t.Helper()

	oldPID := onePluginPID(t, n.pluginDir)
	results, stop := readCredsUntilStopped([]*node{n}, 8, env.helpDesk)

	time.Sleep(time.Second)

	killed := time.Now()
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		stop()
		t.Fatalf("kill plugin process %d: %v", oldPID, err)
	}

	var firstOK time.Time

	for deadline := killed.Add(15 * time.Second); firstOK.IsZero() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)

		firstOK = firstSuccessStartedAfter(results, killed)
	}

	time.Sleep(2 * time.Second)

	all := stop()

	if firstOK.IsZero() {
		t.Fatalf("no creds read that began after the plugin process was killed succeeded within 15s")
	}

	failed := 0
	inFlight := 0

	var sample error

	for _, result := range all {
		if result.started.Before(killed) && result.ended.After(killed) {
			inFlight++
		}

		if result.err == nil {
			continue
		}

		failed++
		sample = result.err

		if result.ended.Before(killed) {
			t.Errorf("creds read failed before the kill: %v", result.err)
		}

		if result.started.After(firstOK) {
			t.Errorf("creds read that began %.2fs after the kill failed after reads had recovered: %v", result.started.Sub(killed).Seconds(), result.err)
		}
	}

	t.Logf("plugin kill: failed_requests=%d in_flight_at_kill=%d total_requests=%d recovered_seconds=%.2f clients=8 (SIGKILL of the plugin process; recovered = end of the first successful read that began after the kill)",
		failed, inFlight, len(all), firstOK.Sub(killed).Seconds())

	if sample != nil {
		t.Logf("plugin kill: a failed read: %v", sample)
	}

	newPID := onePluginPID(t, n.pluginDir)
	if newPID == oldPID {
		t.Errorf("plugin process id %d unchanged after SIGKILL", oldPID)
	}
}

// firstSuccessStartedAfter returns when the first successful read that
// began after since ended, or the zero time.
func firstSuccessStartedAfter(log *resultLog, since time.Time) time.Time {
	var first time.Time

	for _, result := range log.all() {
		if result.err == nil && result.started.After(since) && (first.IsZero() || result.ended.Before(first)) {
			first = result.ended
		}
	}

	return first
}

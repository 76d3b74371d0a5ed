//go:build e2e

package e2e

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rsa-cas/vault-plugin-secrets-rsa-cas/cas/castest"
)

// env is the shared environment of the end-to-end tests: one Vault server
// with the plugin enabled at rsa/ and a file audit device, one fake CAS,
// and two key files registered with it.
var env struct {
	vault     *vaultServer
	cas       *castest.Server
	workDir   string
	auditPath string
	pluginSHA string

	helpDesk   *castest.KeyFile
	superAdmin *castest.KeyFile

	helpDeskPath   string
	superAdminPath string

	// oauthClient is an OAuth client (EC key) registered with the fake,
	// and oauthKeyPath its private JWK file.
	oauthClient  *castest.OAuthKeyFile
	oauthKeyPath string
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		log.Printf("e2e setup failed: %v", err)

		code = 1
	}

	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	bin, err := findVault()
	if err != nil {
		return 1, err
	}

	workDir, err := os.MkdirTemp("", "rsa-cas-e2e-")
	if err != nil {
		return 1, fmt.Errorf("create work dir: %w", err)
	}
	defer os.RemoveAll(workDir)

	env.workDir = workDir

	pluginDir := filepath.Join(workDir, "plugins")
	if err := os.Mkdir(pluginDir, 0o755); err != nil {
		return 1, fmt.Errorf("create plugin dir: %w", err)
	}

	env.pluginSHA, err = buildPlugin(pluginDir, pluginVersion)
	if err != nil {
		return 1, err
	}

	env.cas = castest.NewServer()
	defer env.cas.Close()

	if err := writeKeyFiles(workDir); err != nil {
		return 1, err
	}

	if err := writeOAuthKeyFile(workDir); err != nil {
		return 1, err
	}

	env.vault, err = startVault(bin, pluginDir, workDir)
	if err != nil {
		return 1, err
	}
	defer env.vault.stop()

	if err := enableEngine(workDir); err != nil {
		dumpLog(env.vault.logPath)

		return 1, err
	}

	code := m.Run()

	// TestAuditLogHasNoPrivateKey checks the logs while tests still run, so
	// this sweep covers what the tests after it logged.
	if err := sweepLogsForKeys(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		code = 1
	}

	if code != 0 {
		dumpLog(env.vault.logPath)
	}

	return code, nil
}

// writeKeyFiles makes a Help Desk and a Super Administrator key file whose
// adminRestApiUrl is the fake CAS, and registers both with it.
func writeKeyFiles(workDir string) error {
	var err error

	env.helpDesk, err = castest.NewKeyFile(env.cas.AdminURL(), "E2E Tenant", "help desk key for e2e tests")
	if err != nil {
		return err
	}

	env.superAdmin, err = castest.NewKeyFile(env.cas.AdminURL(), "E2E Tenant", "super admin key for e2e tests")
	if err != nil {
		return err
	}

	env.helpDeskPath = filepath.Join(workDir, "helpdesk.key")
	env.superAdminPath = filepath.Join(workDir, "superadmin.key")

	for path, keyFile := range map[string]*castest.KeyFile{env.helpDeskPath: env.helpDesk, env.superAdminPath: env.superAdmin} {
		if err := os.WriteFile(path, keyFile.JSON, 0o600); err != nil {
			return fmt.Errorf("write key file: %w", err)
		}
	}

	if err := env.cas.RegisterKey(env.helpDesk.Key(env.cas.AdminURL(), castest.RoleHelpDesk)); err != nil {
		return fmt.Errorf("register help desk key: %w", err)
	}

	if err := env.cas.RegisterKey(env.superAdmin.Key(env.cas.AdminURL(), castest.RoleSuperAdmin)); err != nil {
		return fmt.Errorf("register super admin key: %w", err)
	}

	return nil
}

// enableEngine registers the plugin by SHA-256 and version, enables it at
// rsa/, and turns on a file audit device.
func enableEngine(workDir string) error {
	steps := [][]string{
		{"plugin", "register", "-sha256=" + env.pluginSHA, "-command=" + pluginBinary, "-version=" + pluginVersion, "secret", pluginName},
		{"secrets", "enable", "-path=rsa", "-plugin-version=" + pluginVersion, pluginName},
	}

	env.auditPath = filepath.Join(workDir, "audit.log")
	steps = append(steps, []string{"audit", "enable", "file", "file_path=" + env.auditPath})

	for _, args := range steps {
		if result := env.vault.vault(args...); result.err != nil {
			return fmt.Errorf("vault %s: %w\n%s", strings.Join(args, " "), result.err, result.stderr)
		}
	}

	return nil
}

// dumpLog prints the tail of the Vault server log after a failure.
func dumpLog(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Printf("read vault log: %v", err)

		return
	}

	const tail = 8000
	if len(data) > tail {
		data = data[len(data)-tail:]
	}

	log.Printf("tail of %s:\n%s", path, data)
}

// secretFragments returns strings that would only appear in text that leaks
// the private key: its PEM body lines in PKCS#1 and PKCS#8 form.
func secretFragments(key *rsa.PrivateKey) []string {
	var fragments []string

	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(fmt.Sprintf("marshal PKCS#8 key: %v", err))
	}

	for _, der := range [][]byte{x509.MarshalPKCS1PrivateKey(key), pkcs8} {
		body := base64.StdEncoding.EncodeToString(der)

		// Skip the first line, because the DER header is the same for every
		// key of one size.
		for start := 64; start+64 <= len(body); start += 64 {
			fragments = append(fragments, body[start:start+64])
		}
	}

	return fragments
}

// assertNoKeyMaterial fails the test when text contains a fragment of a
// private key. The failure names where, never the fragment.
func assertNoKeyMaterial(t *testing.T, where, text string, keys ...*rsa.PrivateKey) {
	t.Helper()

	if containsKeyMaterial(text, keys...) {
		t.Errorf("%s contains private key material", where)
	}
}

// containsKeyMaterial reports whether text contains a fragment of one of
// keys.
func containsKeyMaterial(text string, keys ...*rsa.PrivateKey) bool {
	for _, key := range keys {
		for _, fragment := range secretFragments(key) {
			if strings.Contains(text, fragment) {
				return true
			}
		}
	}

	return false
}

// sweepLogsForKeys returns an error naming the shared server's audit log or
// server log when either contains legacy private key material, after all
// tests ran.
func sweepLogsForKeys() error {
	for _, path := range []string{env.auditPath, env.vault.logPath} {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read %s for the final key sweep: %w", path, err)
		}

		if containsKeyMaterial(string(data), env.helpDesk.PrivateKey, env.superAdmin.PrivateKey) {
			return fmt.Errorf("%s contains private key material after all tests ran", path)
		}
	}

	return nil
}

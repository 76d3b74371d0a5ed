//go:build e2e

// Package e2e runs the plugin inside a real Vault server and drives it with
// the vault CLI and the HTTP API, against the fake CAS from cas/castest.
//
// Run it with `make test`, which builds Vault first. To run it alone:
//
//	VAULT_BIN=$(scripts/get-vault.sh) go test -tags e2e ./e2e/
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	rootToken     = "e2e-root-token"
	pluginName    = "rsa-cas"
	pluginBinary  = "vault-plugin-secrets-rsa-cas"
	pluginVersion = "v0.1.0-e2e"
	versionFlag   = "github.com/rsa-cas/vault-plugin-secrets-rsa-cas/plugin.Version"
)

// vaultServer is a running `vault server -dev` with the plugin directory
// set.
type vaultServer struct {
	bin       string
	addr      string
	pluginDir string
	logPath   string
	cmd       *exec.Cmd
	exited    chan error
	exitErr   error // how the process ended, once stop returned

	// token authenticates the CLI and API helpers. Empty means rootToken,
	// the dev server's; servers that were initialized set their own.
	token string
}

// authToken returns the token the helpers send.
func (s *vaultServer) authToken() string {
	if s.token != "" {
		return s.token
	}

	return rootToken
}

// buildPlugin compiles the plugin into dir with version stamped in and
// returns the binary's SHA-256 in hex.
func buildPlugin(dir, version string) (string, error) {
	out := filepath.Join(dir, pluginBinary)

	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X "+versionFlag+"="+version, "-o", out, "../cmd/vault-plugin-secrets-rsa-cas")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")

	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build plugin: %w\n%s", err, output)
	}

	data, err := os.ReadFile(out)
	if err != nil {
		return "", fmt.Errorf("read plugin binary: %w", err)
	}

	sum := sha256.Sum256(data)

	return hex.EncodeToString(sum[:]), nil
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago.
func freeLoopbackAddr() (string, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}

	addr := listener.Addr().String()

	if err := listener.Close(); err != nil {
		return "", fmt.Errorf("release port %s: %w", addr, err)
	}

	return addr, nil
}

// startVault starts a dev server on loopback whose plugin directory is
// pluginDir, and waits until it is unsealed and active.
func startVault(bin, pluginDir, workDir string) (*vaultServer, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}

	configPath := filepath.Join(workDir, "vault.hcl")
	config := fmt.Sprintf("plugin_directory = %q\n", pluginDir)

	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		return nil, fmt.Errorf("write vault config: %w", err)
	}

	logPath := filepath.Join(workDir, "vault.log")

	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create vault log: %w", err)
	}

	cmd := exec.Command(bin, "server", "-dev",
		"-dev-root-token-id="+rootToken,
		"-dev-listen-address="+addr,
		"-dev-no-store-token",
		"-config="+configPath,
		"-log-level=debug",
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), "VAULT_DISABLE_MLOCK=true")

	if err := cmd.Start(); err != nil {
		_ = logFile.Close()

		return nil, fmt.Errorf("start vault: %w", err)
	}

	server := &vaultServer{
		bin:       bin,
		addr:      "http://" + addr,
		pluginDir: pluginDir,
		logPath:   logPath,
		cmd:       cmd,
		exited:    make(chan error, 1),
	}

	go func() {
		server.exited <- cmd.Wait()
		_ = logFile.Close()
	}()

	if err := server.waitActive(60 * time.Second); err != nil {
		server.stop()

		return nil, err
	}

	return server, nil
}

func (s *vaultServer) waitActive(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}

	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			return fmt.Errorf("vault exited before it was ready (%w); see %s", err, s.logPath)
		default:
		}

		resp, err := client.Get(s.addr + "/v1/sys/health")
		if err == nil {
			_ = resp.Body.Close()

			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}

		time.Sleep(200 * time.Millisecond)
	}

	return fmt.Errorf("vault at %s was not active after %s; see %s", s.addr, timeout, s.logPath)
}

func (s *vaultServer) stop() {
	if s.cmd.Process == nil {
		return
	}

	_ = s.cmd.Process.Signal(os.Interrupt)

	select {
	case err := <-s.exited:
		s.exitErr = err
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		s.exitErr = <-s.exited
	}
}

// cliResult is the outcome of one vault CLI run.
type cliResult struct {
	stdout, stderr string
	err            error
}

// vault runs the vault CLI against the server with the root token.
func (s *vaultServer) vault(args ...string) cliResult {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = append(os.Environ(), "VAULT_ADDR="+s.addr, "VAULT_TOKEN="+s.authToken(), "VAULT_FORMAT=", "NO_COLOR=1")

	var stdout, stderr bytes.Buffer

	cmd.Stdout = &stdout
	cmd.Stderr = &stderr

	err := cmd.Run()

	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustVault runs the vault CLI and fails the test when it exits non-zero.
func (s *vaultServer) mustVault(t *testing.T, args ...string) string {
	t.Helper()

	result := s.vault(args...)
	if result.err != nil {
		t.Fatalf("vault %s: %v\nstderr: %s", strings.Join(redactArgs(args), " "), result.err, result.stderr)
	}

	return result.stdout
}

// redactArgs hides values passed inline that could hold key material, so a
// failure message never prints a private key.
func redactArgs(args []string) []string {
	out := make([]string, len(args))

	for i, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		if ok && (name == "key_file" || name == "access_key" || name == "private_key") && !strings.HasPrefix(value, "@") {
			arg = name + "=<redacted>"
		}

		out[i] = arg
	}

	return out
}

// apiResponse is a decoded Vault HTTP API response.
type apiResponse struct {
	status int
	body   map[string]any
	raw    []byte
}

// errorsText joins the errors array of a Vault error response.
func (r apiResponse) errorsText() string {
	list, _ := r.body["errors"].([]any)

	parts := make([]string, 0, len(list))
	for _, item := range list {
		parts = append(parts, fmt.Sprint(item))
	}

	return strings.Join(parts, "; ")
}

// data returns the data object of a response.
func (r apiResponse) data() map[string]any {
	data, _ := r.body["data"].(map[string]any)

	return data
}

// api sends one request to the Vault HTTP API with the root token.
func (s *vaultServer) api(method, path string, payload any) (apiResponse, error) {
	var body io.Reader

	if payload != nil {
		encoded, err := json.Marshal(payload)
		if err != nil {
			return apiResponse{}, fmt.Errorf("encode request body: %w", err)
		}

		body = bytes.NewReader(encoded)
	}

	req, err := http.NewRequest(method, s.addr+"/v1/"+path, body)
	if err != nil {
		return apiResponse{}, fmt.Errorf("build request: %w", err)
	}

	req.Header.Set("X-Vault-Token", s.authToken())

	client := &http.Client{Timeout: 30 * time.Second}

	resp, err := client.Do(req)
	if err != nil {
		return apiResponse{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()

	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResponse{}, fmt.Errorf("read response of %s %s: %w", method, path, err)
	}

	result := apiResponse{status: resp.StatusCode, raw: raw}

	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &result.body); err != nil {
			return apiResponse{}, fmt.Errorf("decode response of %s %s (status %d): %w", method, path, resp.StatusCode, err)
		}
	}

	return result, nil
}

// mustAPI sends a request and fails the test unless the status is want.
func (s *vaultServer) mustAPI(t *testing.T, method, path string, payload any, want int) apiResponse {
	t.Helper()

	resp, err := s.api(method, path, payload)
	if err != nil {
		t.Fatal(err)
	}

	if resp.status != want {
		t.Fatalf("%s %s: status %d, want %d; errors: %s", method, path, resp.status, want, resp.errorsText())
	}

	return resp
}

// findVault returns the vault binary named by VAULT_BIN.
func findVault() (string, error) {
	bin := os.Getenv("VAULT_BIN")
	if bin == "" {
		return "", errors.New("VAULT_BIN is not set; run `make test`, or VAULT_BIN=$(scripts/get-vault.sh) go test -tags e2e ./e2e/")
	}

	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("VAULT_BIN=%s: %w", bin, err)
	}

	return bin, nil
}

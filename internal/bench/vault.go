package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// RootToken is the dev server's root token. The server listens on loopback
// only and lives as long as one benchmark run.
const RootToken = "bench-root-token"

// Vault is a running `vault server -dev` on a loopback port.
type Vault struct {
	Addr    string // http://127.0.0.1:port
	LogPath string

	cmd    *exec.Cmd
	client *http.Client
	exited chan error
}

// StartVault starts bin as a dev server on a free 127.0.0.1 port with
// plugin_directory set to pluginDir, writing its config and log into
// workDir, and waits until its health endpoint reports it active.
func StartVault(ctx context.Context, bin, pluginDir, workDir string) (*Vault, error) {
	listener, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free loopback port: %w", err)
	}

	addr := listener.Addr().String()
	if err := listener.Close(); err != nil {
		return nil, fmt.Errorf("release port %s: %w", addr, err)
	}

	configPath := filepath.Join(workDir, "vault.hcl")
	if err := os.WriteFile(configPath, fmt.Appendf(nil, "plugin_directory = %q\n", pluginDir), 0o600); err != nil {
		return nil, fmt.Errorf("write vault config: %w", err)
	}

	logPath := filepath.Join(workDir, "vault.log")

	logFile, err := os.Create(logPath) //nolint:gosec // the path is built from the work directory flag
	if err != nil {
		return nil, fmt.Errorf("create vault log: %w", err)
	}
	defer logFile.Close()

	// Vault keeps its default log level (info), as a production server
	// would; the plugin's debug lines are filtered by Vault.
	cmd := exec.CommandContext(ctx, bin, "server", "-dev", //nolint:gosec // bin is the vault binary named on the command line
		"-dev-root-token-id="+RootToken,
		"-dev-listen-address="+addr,
		"-dev-no-store-token",
		"-config="+configPath)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = append(os.Environ(), "VAULT_DISABLE_MLOCK=true")

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start vault: %w", err)
	}

	v := &Vault{Addr: "http://" + addr, LogPath: logPath, cmd: cmd, client: NewClient(4), exited: make(chan error, 1)}

	go func() { v.exited <- cmd.Wait() }()

	for range 150 {
		select {
		case err := <-v.exited:
			v.exited <- err

			return nil, fmt.Errorf("vault exited before it was ready (%w); see %s", err, logPath)
		case <-time.After(200 * time.Millisecond):
		}

		var health struct {
			Initialized bool `json:"initialized"`
			Sealed      bool `json:"sealed"`
			Standby     bool `json:"standby"`
		}

		if err := v.Call(ctx, http.MethodGet, "sys/health", nil, &health); err == nil && health.Initialized && !health.Sealed && !health.Standby {
			return v, nil
		}
	}

	v.Stop()

	return nil, fmt.Errorf("vault did not become active in 30s; see %s", logPath)
}

// PID is the Vault server's process ID.
func (v *Vault) PID() int {
	return v.cmd.Process.Pid
}

// Stop ends the server and waits up to 10 seconds for it to exit.
func (v *Vault) Stop() {
	if v.cmd.Process == nil {
		return
	}

	_ = v.cmd.Process.Signal(os.Interrupt)

	select {
	case err := <-v.exited:
		v.exited <- err
	case <-time.After(10 * time.Second):
		_ = v.cmd.Process.Kill()
	}
}

// Call sends an API request with the root token. A non-nil in is sent as
// JSON, and a non-nil out receives the JSON response. Any status from 300
// up is an error that quotes Vault's errors.
func (v *Vault) Call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader

	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}

		body = bytes.NewReader(data)
	}

	req, err := http.NewRequestWithContext(ctx, method, v.Addr+"/v1/"+path, body)
	if err != nil {
		return fmt.Errorf("build %s %s: %w", method, path, err)
	}

	req.Header.Set("X-Vault-Token", RootToken)

	resp, err := v.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()

	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}

	if resp.StatusCode >= http.StatusMultipleChoices {
		var vaultErr struct {
			Errors []string `json:"errors"`
		}

		_ = json.Unmarshal(data, &vaultErr)

		return fmt.Errorf("%s %s: HTTP %d: %v", method, path, resp.StatusCode, vaultErr.Errors)
	}

	if out == nil || len(data) == 0 {
		return nil
	}

	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}

	return nil
}

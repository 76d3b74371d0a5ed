//go:build e2e

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// node is a Vault server started from a config file, not in dev mode, so
// it keeps its data on disk, must be initialized and unsealed, and can be
// stopped and started again with the same config.
type node struct {
	*vaultServer

	name       string
	configPath string
	unsealKey  string
	running    bool

	// crashed is set once kill ended the server, which leaves its plugin
	// process behind.
	crashed bool
}

// nodeDirs makes a work directory and a plugin directory for one node, and
// copies the plugin binary that TestMain built into the plugin directory,
// as an operator copies it onto every Vault host.
func nodeDirs(t *testing.T, parent, name string) (string, string) {
	t.Helper()

	dir := filepath.Join(parent, name)
	pluginDir := filepath.Join(dir, "plugins")

	if err := os.MkdirAll(pluginDir, 0o755); err != nil {
		t.Fatalf("create %s: %v", pluginDir, err)
	}

	copyFile(t, filepath.Join(env.vault.pluginDir, pluginBinary), filepath.Join(pluginDir, pluginBinary), 0o755)

	return dir, pluginDir
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()

	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("read %s: %v", from, err)
	}

	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatalf("write %s: %v", to, err)
	}
}

// newNode writes config to dir/vault.hcl and starts `vault server` with it.
// addr is the listener's host:port, which config must name. The node is
// stopped when the test ends, and any plugin process it left behind is
// killed.
func newNode(t *testing.T, name, dir, pluginDir, addr, config string) *node {
	t.Helper()

	n := &node{
		vaultServer: &vaultServer{
			bin:       env.vault.bin,
			addr:      "http://" + addr,
			pluginDir: pluginDir,
			logPath:   filepath.Join(dir, "vault.log"),
		},
		name:       name,
		configPath: filepath.Join(dir, "vault.hcl"),
	}

	if err := os.WriteFile(n.configPath, []byte(config), 0o600); err != nil {
		t.Fatalf("write %s: %v", n.configPath, err)
	}

	t.Cleanup(func() {
		stopping := time.Now()
		wasRunning := n.running

		n.stop()

		if wasRunning {
			t.Logf("%s: stopped in %.1fs, exit status: %v", n.name, time.Since(stopping).Seconds(), n.exitErr)
		}

		killPlugins(t, pluginDir, n.crashed)

		serverLog, err := os.ReadFile(n.logPath)
		if err != nil {
			t.Errorf("read %s: %v", n.logPath, err)
		}

		assertNoKeyMaterial(t, n.name+" server log", string(serverLog), env.helpDesk.PrivateKey, env.superAdmin.PrivateKey)

		if t.Failed() {
			dumpLog(n.logPath)
		}
	})

	n.start(t)

	return n
}

// start runs the server process and waits until its listener responds.
func (n *node) start(t *testing.T) {
	t.Helper()

	logFile, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("open %s: %v", n.logPath, err)
	}

	cmd := exec.Command(n.bin, "server", "-config="+n.configPath, "-log-level=debug")
	cmd.Stdout = logFile
	cmd.Stderr = logFile

	if err := cmd.Start(); err != nil {
		_ = logFile.Close()

		t.Fatalf("start %s: %v", n.name, err)
	}

	n.cmd = cmd
	n.exited = make(chan error, 1)
	n.running = true

	go func(exited chan error) {
		exited <- cmd.Wait()
		_ = logFile.Close()
	}(n.exited)

	t.Logf("%s: started vault server pid %d on %s", n.name, cmd.Process.Pid, n.addr)

	if _, err := n.waitHealth(30*time.Second, func(int) bool { return true }); err != nil {
		t.Fatalf("%s: %v", n.name, err)
	}
}

// stop ends the server with SIGINT, as an operator's service manager does,
// and waits for it to exit. It does nothing when the node is not running.
func (n *node) stop() {
	if !n.running {
		return
	}

	n.vaultServer.stop()
	n.running = false
}

// kill ends the server with SIGKILL, like a crashed host, and waits for the
// process to be gone.
func (n *node) kill() {
	if !n.running {
		return
	}

	_ = n.cmd.Process.Kill()
	n.exitErr = <-n.exited
	n.running = false
	n.crashed = true
}

// health returns the status code of sys/health: 200 active, 429 standby,
// 501 not initialized, 503 sealed.
func (n *node) health() (int, error) {
	client := &http.Client{Timeout: 2 * time.Second}

	resp, err := client.Get(n.addr + "/v1/sys/health")
	if err != nil {
		return 0, fmt.Errorf("health of %s: %w", n.name, err)
	}

	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()

	return resp.StatusCode, nil
}

// waitHealth polls sys/health until ok accepts its status code.
func (n *node) waitHealth(timeout time.Duration, ok func(status int) bool) (int, error) {
	deadline := time.Now().Add(timeout)
	last := "no answer"

	for time.Now().Before(deadline) {
		select {
		case err := <-n.exited:
			n.exited <- err

			return 0, fmt.Errorf("vault exited (%w); see %s", err, n.logPath)
		default:
		}

		status, err := n.health()
		if err == nil && ok(status) {
			return status, nil
		}

		if err != nil {
			last = err.Error()
		} else {
			last = "status " + strconv.Itoa(status)
		}

		time.Sleep(100 * time.Millisecond)
	}

	return 0, fmt.Errorf("%s: sys/health not as expected after %s, last %s; see %s", n.name, timeout, last, n.logPath)
}

// initialize runs `vault operator init` through the API with one unseal key
// share, keeps the key and root token, and unseals the node.
func (n *node) initialize(t *testing.T) {
	t.Helper()

	resp := n.mustAPI(t, http.MethodPut, "sys/init", map[string]any{"secret_shares": 1, "secret_threshold": 1}, http.StatusOK)

	keys, _ := resp.body["keys_base64"].([]any)
	if len(keys) != 1 {
		t.Fatalf("%s: init returned %d unseal keys, want 1", n.name, len(keys))
	}

	n.unsealKey, _ = keys[0].(string)
	n.token, _ = resp.body["root_token"].(string)

	n.unseal(t)
}

// unseal sends the unseal key until the node reports unsealed. A node that
// is joining a Raft cluster may need more than one try, while the join
// completes.
func (n *node) unseal(t *testing.T) {
	t.Helper()

	deadline := time.Now().Add(60 * time.Second)

	for {
		resp, err := n.api(http.MethodPut, "sys/unseal", map[string]any{"key": n.unsealKey})
		if err == nil && resp.status == http.StatusOK {
			if sealed, _ := resp.body["sealed"].(bool); !sealed {
				return
			}
		}

		if time.Now().After(deadline) {
			t.Fatalf("%s: still sealed after 60s (last error %v); see %s", n.name, err, n.logPath)
		}

		time.Sleep(500 * time.Millisecond)
	}
}

// pluginPIDs returns the ids of running processes whose executable is a
// file in pluginDir. Vault starts plugins from its plugin directory, and
// every node in these tests has its own, so the result belongs to one
// Vault server.
func pluginPIDs(pluginDir string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}

	dir, err := filepath.EvalSymlinks(pluginDir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", pluginDir, err)
	}

	var pids []int

	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}

		// A process that exits meanwhile or belongs to another user has no
		// readable exe link; it is not ours.
		exe, err := os.Readlink(filepath.Join("/proc", entry.Name(), "exe"))
		if err != nil {
			continue
		}

		if filepath.Dir(exe) == dir {
			pids = append(pids, pid)
		}
	}

	return pids, nil
}

// pluginExe returns the executable path of a process.
func pluginExe(pid int) string {
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))

	return exe
}

// onePluginPID waits until exactly one plugin process runs from pluginDir
// and returns its id. The engine is multiplexed, so one process serves
// every mount of it.
func onePluginPID(t *testing.T, pluginDir string) int {
	t.Helper()

	deadline := time.Now().Add(15 * time.Second)

	for {
		pids, err := pluginPIDs(pluginDir)
		if err != nil {
			t.Fatal(err)
		}

		if len(pids) == 1 {
			return pids[0]
		}

		if time.Now().After(deadline) {
			t.Fatalf("plugin processes from %s: %v, want exactly one", pluginDir, pids)
		}

		time.Sleep(100 * time.Millisecond)
	}
}

// killPlugins waits up to 5 s for plugin processes from pluginDir to exit,
// then kills the rest by id and logs them, so that no test leaves an orphan.
// After a crash nothing is left to stop them, so it kills them at once.
func killPlugins(t *testing.T, pluginDir string, crashed bool) {
	var (
		pids []int
		err  error
	)

	wait := 5 * time.Second
	if crashed {
		wait = 0
	}

	for deadline := time.Now().Add(wait); ; time.Sleep(100 * time.Millisecond) {
		pids, err = pluginPIDs(pluginDir)
		if err != nil {
			t.Logf("look for leftover plugin processes: %v", err)

			return
		}

		if len(pids) == 0 || time.Now().After(deadline) {
			break
		}
	}

	for _, pid := range pids {
		t.Logf("plugin process %d from %s still ran %s after its Vault server ended (crashed: %t); killing it", pid, pluginDir, wait, crashed)

		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Logf("kill plugin process %d: %v", pid, err)
		}
	}
}

// rssKiB returns VmRSS of a process from /proc/<pid>/status, in KiB.
func rssKiB(pid int) (int, error) {
	file, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("open status of %d: %w", pid, err)
	}
	defer file.Close()

	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		value, ok := strings.CutPrefix(scanner.Text(), "VmRSS:")
		if !ok {
			continue
		}

		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q of %d", scanner.Text(), pid)
		}

		return strconv.Atoi(fields[0])
	}

	if err := scanner.Err(); err != nil {
		return 0, fmt.Errorf("read status of %d: %w", pid, err)
	}

	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

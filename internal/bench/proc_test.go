package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	t.Parallel()

	status := "Name:\tplugin\nVmPeak:\t 900000 kB\nVmHWM:\t   30720 kB\nVmRSS:\t   20480 kB\nThreads:\t9\n"

	mem, err := ParseStatus([]byte(status))
	if err != nil {
		t.Fatalf("ParseStatus: %v", err)
	}

	if mem.Peak != 30<<20 || mem.RSS != 20<<20 {
		t.Errorf("ParseStatus = %+v, expected peak 30 MiB and RSS 20 MiB", mem)
	}

	for _, bad := range []string{
		"VmRSS:\t 1 kB\n",                     // no VmHWM
		"VmHWM:\t x kB\nVmRSS:\t 1 kB\n",      // not a number
		"VmHWM:\t 1 MB\nVmRSS:\t 1 kB\n",      // unexpected unit
		"Name:\tkernel thread\nThreads:\t1\n", // neither
	} {
		if _, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("ParseStatus(%q) accepted it", bad)
		}
	}
}

func TestParseCPUTime(t *testing.T) {
	t.Parallel()

	// The command name holds a space and a parenthesis, as names may.
	stat := "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 12345 100000 2000"

	got, err := parseCPUTime([]byte(stat))
	if err != nil {
		t.Fatalf("parseCPUTime: %v", err)
	}

	if got != 3*time.Second {
		t.Errorf("parseCPUTime = %s, expected 3s (250 + 50 ticks)", got)
	}

	if ppid, ok := parentOf([]byte(stat)); !ok || ppid != 1 {
		t.Errorf("parentOf = %d, %t; expected 1, true", ppid, ok)
	}

	if _, err := parseCPUTime([]byte("4242 (short) S 1 2")); err == nil {
		t.Error("parseCPUTime accepted a stat line without CPU times")
	}
}

func TestFindChildAndReadMemory(t *testing.T) {
	t.Parallel()

	// A copy of sleep with a name no other process has is the "plugin".
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("no sleep command to start a child process with: %v", err)
	}

	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatalf("read %s: %v", sleep, err)
	}

	exe := filepath.Join(t.TempDir(), "bench-test-child")
	if err := os.WriteFile(exe, data, 0o700); err != nil {
		t.Fatalf("write %s: %v", exe, err)
	}

	cmd := exec.Command(exe, "30")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}

	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	pid, err := FindChild(os.Getpid(), "bench-test-child")
	if err != nil {
		t.Fatalf("FindChild: %v", err)
	}

	if pid != cmd.Process.Pid {
		t.Errorf("FindChild = %d, expected %d", pid, cmd.Process.Pid)
	}

	mem, err := ReadMemory(pid)
	if err != nil {
		t.Fatalf("ReadMemory: %v", err)
	}

	if mem.RSS <= 0 || mem.Peak < mem.RSS {
		t.Errorf("ReadMemory = %+v, expected 0 < RSS <= peak", mem)
	}

	if _, err := FindChild(os.Getpid(), "no-such-binary"); err == nil {
		t.Error("FindChild found a child for a binary nobody runs")
	}

	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Errorf("CPUTime of this process: %v", err)
	}

	if model := CPUModel(); model == "" {
		t.Error("CPUModel is empty")
	}

	if load := LoadAverage(); len(strings.Fields(load)) != 3 {
		t.Errorf("LoadAverage = %q, expected three numbers", load)
	}
}

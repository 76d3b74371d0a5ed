package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// errNoPlugin is returned by FindChild when no child runs the binary.
var errNoPlugin = errors.New("no child process runs the plugin binary")

// Memory is a process's resident set size now (VmRSS) and at its peak
// (VmHWM), in bytes, as Linux reports them in /proc/<pid>/status.
type Memory struct {
	RSS  int64
	Peak int64
}

// ParseStatus reads VmRSS and VmHWM from the text of /proc/<pid>/status.
func ParseStatus(text []byte) (Memory, error) {
	var (
		mem       Memory
		rss, peak bool
	)

	scanner := bufio.NewScanner(bytes.NewReader(text))
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}

		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return Memory{}, fmt.Errorf("%s is %q; expected a number of kB", name, strings.TrimSpace(value))
		}

		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%s is %q: %w", name, fields[0], err)
		}

		if name == "VmRSS" {
			mem.RSS, rss = kb*1024, true
		} else {
			mem.Peak, peak = kb*1024, true
		}
	}

	if !rss || !peak {
		return Memory{}, fmt.Errorf("status has no VmRSS or no VmHWM line")
	}

	return mem, nil
}

// ReadMemory returns the memory figures of process pid.
func ReadMemory(pid int) (Memory, error) {
	text, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("read memory of process %d: %w", pid, err)
	}

	mem, err := ParseStatus(text)
	if err != nil {
		return Memory{}, fmt.Errorf("process %d: %w", pid, err)
	}

	return mem, nil
}

// FindChild returns the ID of the child of parent whose executable file is
// named exe, as Vault starts a plugin.
func FindChild(parent int, exe string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}

	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}

		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // the process ended meanwhile
		}

		if ppid, ok := parentOf(stat); !ok || ppid != parent {
			continue
		}

		path, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err == nil && filepath.Base(path) == exe {
			return pid, nil
		}
	}

	return 0, fmt.Errorf("%w %s under process %d", errNoPlugin, exe, parent)
}

// parentOf returns the parent ID from the text of /proc/<pid>/stat. The
// command name in parentheses may hold spaces, so fields count from the last
// ")".
func parentOf(stat []byte) (int, bool) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, false
	}

	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 2 {
		return 0, false
	}

	ppid, err := strconv.Atoi(fields[1])

	return ppid, err == nil
}

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// CPUTime returns the user plus system CPU time process pid has used.
func CPUTime(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}

	return parseCPUTime(stat)
}

// parseCPUTime reads utime and stime, the 14th and 15th fields, from the
// text of /proc/<pid>/stat.
func parseCPUTime(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("stat has no command name")
	}

	// After the name come state (3rd field), ppid (4th) and so on.
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("stat has %d fields after the command name; expected at least 13", len(fields))
	}

	var ticks int64

	for _, field := range fields[11:13] {
		value, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat CPU time %q: %w", field, err)
		}

		ticks += value
	}

	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// CPUModel returns the first "model name" of /proc/cpuinfo.
func CPUModel() string {
	text, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}

	for line := range strings.SplitSeq(string(text), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}

	return "unknown"
}

// LoadAverage returns the 1, 5 and 15 minute load averages from
// /proc/loadavg.
func LoadAverage() string {
	text, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}

	fields := strings.Fields(string(text))
	if len(fields) < 3 {
		return "unknown"
	}

	return strings.Join(fields[:3], " ")
}

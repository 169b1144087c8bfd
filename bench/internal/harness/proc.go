package harness

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// ProcStatus reads a "kB" field of /proc/<pid>/status (VmRSS, VmHWM...),
// in bytes.
func ProcStatus(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// ResetPeak resets VmHWM of pid to its current RSS, so that the next
// peak is that of what follows.
func ResetPeak(pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0o200); err != nil {
		fmt.Fprintf(os.Stderr, "bench: cannot reset the peak RSS (%v): peaks include the phases before\n", err)
	}
}

// MiB formats bytes as whole MiB.
func MiB(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }

// CPUSnapshot returns the CPU time (user + system, seconds) used so far by
// the controller and by each child process of this one, by command name
// (kube-apiserver, etcd...): on a shared machine the wall time depends on
// the neighbours, the CPU time much less.
//
// The processes of others (other gotk-controllers, reported apart) are
// left out.
func CPUSnapshot(controllerPID int, others ...int) map[string]float64 {
	out := map[string]float64{"gotk-controller": cpuSeconds(controllerPID)}
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == controllerPID || slices.Contains(others, pid) {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		fields := statFields(string(stat))
		if len(fields) < 13 || fields[1] != strconv.Itoa(self) {
			continue
		}
		out[fields[0]] += cpuSeconds(pid)
	}
	return out
}

// CPUSince formats the CPU time of the controller, kube-apiserver and
// etcd since before.
func CPUSince(before map[string]float64, pid int, others ...int) string {
	after := CPUSnapshot(pid, others...)
	var parts []string
	for _, name := range []string{"gotk-controller", "kube-apiserver", "etcd"} {
		parts = append(parts, fmt.Sprintf("%s %.1fs", name, after[name]-before[name]))
	}
	return strings.Join(parts, ", ")
}

// CPUOf returns the CPU time (user + system, seconds) used so far by pid.
func CPUOf(pid int) float64 { return cpuSeconds(pid) }

// statFields returns the fields of /proc/<pid>/stat after the
// parenthesised command name, with the name first: name, ppid(1) ...
// utime(11), stime(12).
func statFields(stat string) []string {
	open, closeIdx := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || closeIdx < 0 {
		return nil
	}
	rest := strings.Fields(stat[closeIdx+1:])
	if len(rest) < 13 {
		return nil
	}
	return append([]string{stat[open+1 : closeIdx]}, rest[1:]...)
}

func cpuSeconds(pid int) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := statFields(string(stat))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // clock ticks; USER_HZ is 100 on Linux
}

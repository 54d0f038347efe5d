// Package testproc runs an example as a process of its own, for tests that
// measure its memory or stop it with a signal: the example is built once
// without the race detector (the memory measured is then its own, and
// streams move at full speed), started on a free port, and read for the
// "listening on tcp://host:port" line every example prints.
package testproc

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// Binary is an example package built once per test binary.
type Binary struct {
	Name    string // the program's name
	Package string // the package to build, relative to the test's directory; "" for the test's own

	once sync.Once
	dir  string
	path string
	err  error
}

// Path builds the program, the first time, and returns its path.
func (b *Binary) Path() (string, error) {
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", b.Name+"-test")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, b.Name)
		pkg := b.Package
		if pkg == "" {
			pkg = "."
		}
		if out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	return b.path, b.err
}

// Remove deletes what Path built; TestMain calls it when the tests are
// done.
func (b *Binary) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// Start runs the program with args and returns the process and its TCP
// address. The process is killed when the test ends.
func (b *Binary) Start(t testing.TB, args ...string) (*exec.Cmd, string) {
	t.Helper()
	bin, err := b.Path()
	if err != nil {
		t.Fatal(err)
	}
	proc := exec.Command(bin, args...)
	stdout, err := proc.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proc.Process.Kill()
		proc.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the listening line: %v", err)
	}
	m := regexp.MustCompile(`listening on tcp://(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no address in %q", line)
	}
	return proc, m[1]
}

// PeakRSS is the peak resident memory of process pid (VmHWM), in bytes.
func PeakRSS(t testing.TB, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading process %d's memory: %v", pid, err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return kb << 10
}

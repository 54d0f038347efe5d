package evio

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// TestModuleGraphIsXSysOnly (issue 8): a program that imports the library
// gets golang.org/x/sys in its module graph and nothing else. The library's
// go.mod listed the modules of its tests and examples (go-redis, goleak),
// so every user's graph picked them up, and a user pinned to an older
// go-redis was upgraded without asking.
func TestModuleGraphIsXSysOnly(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/user\n\ngo 1.20\n\nrequire github.com/evio-go/evio v0.0.0\n\nreplace github.com/evio-go/evio => " + root + "\n",
		"main.go": "package main\n\nimport _ \"github.com/evio-go/evio\"\n\nfunc main() {}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Offline: what the library needs is in the module cache already,
	// since its own tests are built.
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off")
	run := func(args ...string) string {
		cmd := exec.Command(gobin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("mod", "tidy")
	var modules []string
	for _, line := range strings.Split(strings.TrimSpace(run("list", "-m", "all")), "\n") {
		modules = append(modules, strings.Fields(line)[0])
	}
	sort.Strings(modules)
	want := []string{"example.com/user", "github.com/evio-go/evio", "golang.org/x/sys"}
	if strings.Join(modules, " ") != strings.Join(want, " ") {
		t.Fatalf("a program importing evio has modules %v, want %v", modules, want)
	}
}

// Command gen writes the seccomp package's syscall tables (tables_*_gen.go) from the Linux UAPI
// headers that Debian ships, evaluating every __NR_* macro with the matching C compiler.
//
// Run it through `go generate ./internal/seccomp/`. With -check it writes nothing and exits
// non-zero when the committed tables differ from what the installed headers produce, so CI can
// catch a hand-edited or stale table:
//
//	go run ./internal/seccomp/gen -check -dir internal/seccomp
//
// It needs a Debian amd64 host with gcc, gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf,
// linux-libc-dev, linux-libc-dev-arm64-cross and linux-libc-dev-armhf-cross installed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", ".", "directory of the seccomp package, where the tables are written")
	check := flag.Bool("check", false,
		"compare the generated tables with the files in -dir instead of writing them")
	flag.Parse()

	if err := run(*dir, *check); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

func run(dir string, check bool) error {
	stale := 0
	for _, target := range targets {
		table, err := extractTable(target)
		if err != nil {
			return fmt.Errorf("extract %s syscalls: %w", target.arch, err)
		}
		source, err := renderTable(target, table)
		if err != nil {
			return fmt.Errorf("render %s table: %w", target.arch, err)
		}

		path := filepath.Join(dir, target.fileName())
		if !check {
			if err := os.WriteFile(path, source, 0o644); err != nil {
				return fmt.Errorf("write %s table: %w", target.arch, err)
			}
			continue
		}

		upToDate, err := compareTable(path, source)
		if err != nil {
			return err
		}
		if !upToDate {
			stale++
		}
	}
	if stale > 0 {
		return fmt.Errorf("%d syscall table(s) differ from the installed headers: "+
			"run `go generate ./internal/seccomp/` and commit the result", stale)
	}
	return nil
}

// compareTable reports whether the file at path holds the same table as source. Lines naming
// the header packages are compared loosely: a Debian update of linux-libc-dev that leaves every
// number unchanged only prints a note, because it would otherwise fail CI for no change.
func compareTable(path string, source []byte) (bool, error) {
	committed, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read committed table: %w", err)
	}
	if bytes.Equal(committed, source) {
		return true, nil
	}
	if bytes.Equal(withoutProvenance(committed), withoutProvenance(source)) {
		fmt.Fprintf(os.Stderr, "gen: note: %s has the same syscalls, "+
			"but its header versions differ from the installed ones\n", path)
		return true, nil
	}
	fmt.Fprintf(os.Stderr, "gen: %s is out of date\n", path)
	return false, nil
}

func withoutProvenance(source []byte) []byte {
	var kept [][]byte
	for _, line := range bytes.Split(source, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte(provenancePrefix)) {
			kept = append(kept, line)
		}
	}
	return bytes.Join(kept, []byte("\n"))
}

package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// headerSource is one UAPI header that defined syscall numbers, with the Debian package and
// version that installed it.
type headerSource struct {
	path    string
	pkg     string
	version string
}

// findHeaderSources lists the headers under asm/ and asm-generic/ that asm/unistd.h includes,
// as the compiler's -M output names them, with the Debian package that owns each one.
func findHeaderSources(t target) ([]headerSource, error) {
	deps, err := runCompiler(t, "#include <asm/unistd.h>\n", "-M")
	if err != nil {
		return nil, err
	}
	var sources []headerSource
	for _, field := range strings.Fields(string(deps)) {
		dir := filepath.Base(filepath.Dir(field))
		if dir != "asm" && dir != "asm-generic" {
			continue
		}
		pkg, err := owningPackage(field)
		if err != nil {
			return nil, err
		}
		version, err := packageVersion(pkg)
		if err != nil {
			return nil, err
		}
		sources = append(sources, headerSource{path: field, pkg: pkg, version: version})
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("the compiler listed no asm/ header for asm/unistd.h")
	}
	sort.Slice(sources, func(i, j int) bool { return sources[i].path < sources[j].path })
	return sources, nil
}

// owningPackage returns the package that installed path, such as "linux-libc-dev:amd64".
func owningPackage(path string) (string, error) {
	out, err := dpkgQuery("-S", path)
	if err != nil {
		return "", err
	}
	pkg, _, ok := strings.Cut(out, ": ")
	if !ok {
		return "", fmt.Errorf("unexpected dpkg-query -S output %q", out)
	}
	return pkg, nil
}

func packageVersion(pkg string) (string, error) {
	return dpkgQuery("-W", "-f=${Version}", pkg)
}

func dpkgQuery(args ...string) (string, error) {
	cmd := exec.Command("dpkg-query", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("run dpkg-query %s: %w: %s",
			strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

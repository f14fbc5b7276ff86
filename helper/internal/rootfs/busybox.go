// Package rootfs builds container root file systems: the shared busybox base, the small
// writable skeleton of each busybox container, and the files that a spec places into a rootfs.
package rootfs

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
)

// BusyboxCandidates are the places where distributions install busybox, in search order.
var BusyboxCandidates = []string{"/bin/busybox", "/usr/bin/busybox", "/sbin/busybox", "/usr/sbin/busybox"}

// ErrNoStaticBusybox is returned when the device has no statically linked busybox.
var ErrNoStaticBusybox = errors.New("no statically linked busybox")

// FindBusybox returns the first candidate that is a statically linked ELF executable. A dynamic
// busybox cannot run in a container that has no C library.
func FindBusybox(candidates []string) (string, error) {
	var problems []string
	for _, candidate := range candidates {
		err := checkStatic(candidate)
		if err == nil {
			return candidate, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			problems = append(problems, err.Error())
		}
	}
	detail := "none of " + strings.Join(candidates, ", ") + " exists"
	if len(problems) > 0 {
		detail = strings.Join(problems, "; ")
	}
	return "", fmt.Errorf("%w on the device (%s); install a static busybox, such as Debian's "+
		"busybox-static package", ErrNoStaticBusybox, detail)
}

// checkStatic returns nil when path is an ELF executable without a program interpreter.
func checkStatic(path string) error {
	file, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return fmt.Errorf("%s is not an ELF executable: %v", path, err)
	}
	defer file.Close()
	for _, prog := range file.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
}

// Busybox base layout. The base holds bin/busybox and one symbolic link per applet in bin/;
// containers bind-mount that bin folder read-only.
const (
	baseBinDir   = "bin"
	baseComplete = ".complete"
)

// EnsureBusyboxBase builds the shared base for the busybox at busyboxPath inside imagesDir,
// once per busybox binary, and returns its folder, named busybox-<first 16 hex digits of the
// binary's SHA-256>. The caller holds the images lock.
func EnsureBusyboxBase(imagesDir, busyboxPath string) (string, error) {
	binary, err := os.ReadFile(busyboxPath)
	if err != nil {
		return "", fmt.Errorf("read busybox: %w", err)
	}
	digest := sha256.Sum256(binary)
	base := filepath.Join(imagesDir, "busybox-"+hex.EncodeToString(digest[:8]))
	if _, err := os.Stat(filepath.Join(base, baseComplete)); err == nil {
		return base, nil
	}

	applets, err := listApplets(busyboxPath)
	if err != nil {
		return "", err
	}
	temp, err := os.MkdirTemp(imagesDir, atomicTempPrefix+"busybox-")
	if err != nil {
		return "", fmt.Errorf("build busybox base: %w", err)
	}
	defer os.RemoveAll(temp)
	if err := writeBase(temp, binary, applets); err != nil {
		return "", fmt.Errorf("build busybox base: %w", err)
	}
	// A base left incomplete by a crash has no marker; it is replaced here.
	if err := os.RemoveAll(base); err != nil {
		return "", fmt.Errorf("build busybox base: remove incomplete %s: %w", base, err)
	}
	if err := os.Rename(temp, base); err != nil {
		return "", fmt.Errorf("build busybox base: %w", err)
	}
	return base, atomicfile.SyncDir(imagesDir)
}

// atomicTempPrefix marks folders under construction, which listings skip.
const atomicTempPrefix = ".tmp-"

func writeBase(dir string, binary []byte, applets []string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(dir, baseBinDir)
	if err := os.Mkdir(bin, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), binary, 0o755); err != nil {
		return err
	}
	for _, applet := range applets {
		if err := os.Symlink("busybox", filepath.Join(bin, applet)); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, baseComplete), nil, 0o644)
}

// listApplets runs busybox --list and returns the applet names, skipping any that could not
// be a plain file name.
func listApplets(busyboxPath string) ([]string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(busyboxPath, "--list")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list busybox applets with %s --list: %w: %s", busyboxPath, err,
			strings.TrimSpace(stderr.String()))
	}
	var applets []string
	for _, name := range strings.Fields(string(out)) {
		if name != "busybox" && name != "." && name != ".." && !strings.Contains(name, "/") {
			applets = append(applets, name)
		}
	}
	if len(applets) == 0 {
		return nil, fmt.Errorf("%s --list printed no applets", busyboxPath)
	}
	return applets, nil
}

// BusyboxBin returns the folder of the base that containers mount on /bin.
func BusyboxBin(base string) string {
	return filepath.Join(base, baseBinDir)
}

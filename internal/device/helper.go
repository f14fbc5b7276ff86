package device

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/pkg/sftp"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/helperbin"
)

// helperDirMode is the mode of the folder that holds the helper. The helper is run only as the
// connecting user, but sshd may run it through a shell that needs to traverse the folder.
const helperDirMode fs.FileMode = 0o755

// ErrHelperMissing matches the errors of a device that has no usable helper: the file is
// missing or not executable. Such errors also match fs.ErrNotExist.
var ErrHelperMissing = errors.New("helper is not installed")

// staleUploadAge is the minimum age of a temporary upload that an install removes. A younger one
// may belong to an install that another Terraform run is doing at the same time.
const staleUploadAge = 10 * time.Minute

// HelperStatus describes the helper on a device after EnsureHelper.
type HelperStatus struct {
	// Machine is the device's `uname -m`.
	Machine string

	// SHA256 is the hex-encoded SHA-256 of the installed helper.
	SHA256 string

	// Uploaded reports whether EnsureHelper replaced or created the helper.
	Uploaded bool
}

// EnsureHelper installs the bundled helper for the device's architecture unless the same
// binary is already installed. It fails when this provider bundles no helper for the device.
func (c *Client) EnsureHelper(ctx context.Context) (HelperStatus, error) {
	machine, err := c.Machine(ctx)
	if err != nil {
		return HelperStatus{}, err
	}
	helper, err := helperbin.ForMachine(machine)
	if err != nil {
		return HelperStatus{}, fmt.Errorf("install helper on device %s: %w", c.target.ID(), err)
	}
	uploaded, err := c.InstallHelper(ctx, helper.Binary, helper.SHA256)
	if err != nil {
		return HelperStatus{}, err
	}
	status := HelperStatus{Machine: machine, SHA256: helper.SHA256, Uploaded: uploaded}
	c.conn.rememberHelper(c.target.HelperPath(), status)
	return status, nil
}

// ReadyHelper is EnsureHelper for callers that run many operations: once EnsureHelper has
// succeeded for the target's helper on the current connection, it returns that status without
// asking the device again. Hashing the installed helper means reading it whole, about 6 MB,
// so checking before every operation dominated the time of applying many containers. The
// device resource keeps calling EnsureHelper, which always checks, and repairs a helper that
// was changed on the device.
func (c *Client) ReadyHelper(ctx context.Context) (HelperStatus, error) {
	if status, ok := c.conn.checkedHelper(c.target.HelperPath()); ok {
		status.Uploaded = false
		return status, nil
	}
	return c.EnsureHelper(ctx)
}

// InstalledHelperSHA256 returns the hex-encoded SHA-256 of the helper installed at
// Target.HelperPath. When the helper is missing or not executable, the error matches
// ErrHelperMissing.
func (c *Client) InstalledHelperSHA256(ctx context.Context) (string, error) {
	var sum string
	err := c.SFTP(ctx, func(client *sftp.Client) error {
		if err := checkExecutable(client, c.target.HelperPath()); err != nil {
			return err
		}
		var err error
		sum, err = remoteSHA256(client, c.target.HelperPath())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read helper on device %s: %w", c.target.ID(), err)
	}
	return sum, nil
}

// InstallHelper installs binary as the helper unless the installed helper already has the
// SHA-256 sha256hex, and reports whether it uploaded. The new binary is written to a temporary
// file next to the helper, verified, and renamed over the old one, so the helper path never
// holds a partial binary. The temporary file is removed on failure.
func (c *Client) InstallHelper(ctx context.Context, binary []byte, sha256hex string) (bool, error) {
	want := strings.ToLower(sha256hex)
	if got := sha256Hex(binary); got != want {
		return false, fmt.Errorf("install helper on device %s: the binary's SHA-256 is %s, not the expected %s",
			c.target.ID(), got, want)
	}
	helperPath := c.target.HelperPath()
	fields := withField(targetFields(c.target), "helper_sha256", want)
	fields["helper_path"] = helperPath

	uploaded := false
	err := c.SFTP(ctx, func(client *sftp.Client) error {
		installed, err := remoteSHA256(client, helperPath)
		if err == nil && installed == want {
			// The right binary may still have lost its execute bits.
			if checkExecutable(client, helperPath) == nil {
				return nil
			}
			uploaded = true
			return client.Chmod(helperPath, 0o755)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := uploadFile(client, helperPath, binary, want); err != nil {
			return err
		}
		uploaded = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("install helper %s on device %s: %w", helperPath, c.target.ID(), err)
	}

	if uploaded {
		c.conn.pool.logger().Debug(ctx, "uploaded helper to device", fields)
	} else {
		c.conn.pool.logger().Debug(ctx, "helper on device is up to date", fields)
	}
	return uploaded, nil
}

// uploadFile atomically replaces the file at target with data, whose SHA-256 is sum, and
// makes it executable.
func uploadFile(client *sftp.Client, target string, data []byte, sum string) (err error) {
	dir := path.Dir(target)
	if err := ensureDir(client, dir); err != nil {
		return err
	}
	suffix := make([]byte, 8)
	if _, err := rand.Read(suffix); err != nil {
		return fmt.Errorf("name temporary file: %w", err)
	}
	prefix := "." + path.Base(target) + ".tmp-"
	removeStaleUploads(client, dir, prefix)
	temporary := path.Join(dir, prefix+hex.EncodeToString(suffix))
	defer func() {
		if err != nil {
			// The upload already failed, so a failed cleanup adds nothing actionable.
			_ = client.Remove(temporary)
		}
	}()

	if err := writeNewFile(client, temporary, data); err != nil {
		return err
	}
	written, err := remoteSHA256(client, temporary)
	if err != nil {
		return err
	}
	if written != sum {
		return fmt.Errorf("verify upload %s: its SHA-256 is %s, expected %s", temporary, written, sum)
	}
	if err := client.Chmod(temporary, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", temporary, err)
	}
	if err := client.PosixRename(temporary, target); err != nil {
		return fmt.Errorf("rename %s to %s: %w", temporary, target, err)
	}
	return nil
}

// removeStaleUploads removes temporary uploads in dir that an interrupted install left behind.
// Failures are ignored: a leftover file wastes space but breaks nothing.
func removeStaleUploads(client *sftp.Client, dir, prefix string) {
	entries, err := client.ReadDir(dir)
	if err != nil {
		return
	}
	for _, entry := range entries {
		if strings.HasPrefix(entry.Name(), prefix) && time.Since(entry.ModTime()) > staleUploadAge {
			_ = client.Remove(path.Join(dir, entry.Name()))
		}
	}
}

// checkExecutable returns an error matching ErrHelperMissing unless name is a regular file that
// its owner can execute.
func checkExecutable(client *sftp.Client, name string) error {
	info, err := client.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist: %w: %w", name, ErrHelperMissing, fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if !info.Mode().IsRegular() || info.Mode().Perm()&0o100 == 0 {
		return fmt.Errorf("%s is not an executable file (mode %s): %w: %w", name, info.Mode(), ErrHelperMissing, fs.ErrNotExist)
	}
	return nil
}

// ensureDir creates dir and its parents unless dir exists, and gives dir helperDirMode.
// Parents that it creates get the server's default mode.
func ensureDir(client *sftp.Client, dir string) error {
	info, err := client.Stat(dir)
	if err == nil {
		if !info.IsDir() {
			return fmt.Errorf("%s exists and is not a folder", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if err := client.MkdirAll(dir); err != nil {
		return fmt.Errorf("create folder %s: %w", dir, err)
	}
	if err := client.Chmod(dir, helperDirMode); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

func writeNewFile(client *sftp.Client, name string, data []byte) error {
	file, err := client.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := file.Write(data); err != nil {
		file.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	return nil
}

// remoteSHA256 returns the hex-encoded SHA-256 of a file on the device. A missing file's
// error matches fs.ErrNotExist.
func remoteSHA256(client *sftp.Client, name string) (string, error) {
	file, err := client.Open(name)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", name, err)
	}
	defer file.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, file); err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return hex.EncodeToString(hash.Sum(nil)), nil
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

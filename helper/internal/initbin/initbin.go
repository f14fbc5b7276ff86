// Package initbin embeds iotfleet-init, the static first process of every container, and
// installs it into the state folder.
//
// `make helpers` builds the init for each architecture into bin/<GOARCH>/iotfleet-init.gz
// before it builds the helper of the same architecture, which embeds only that one. A helper
// built without it still compiles, and its container operations then fail with an error that
// names the make target to run.
package initbin

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
)

// FileName is the init's name inside the state folder's bin folder.
const FileName = "iotfleet-init"

// Binary returns the embedded init for the architecture the helper runs on.
func Binary() ([]byte, error) {
	name := "bin/" + runtime.GOARCH + "/" + FileName + ".gz"
	compressed, err := fs.ReadFile(files, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("this helper was built without iotfleet-init for %s; build the "+
			"helpers with `make helpers`", runtime.GOARCH)
	}
	if err != nil {
		return nil, fmt.Errorf("read embedded iotfleet-init: %w", err)
	}
	reader, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("decompress embedded iotfleet-init: %w", err)
	}
	data, err := io.ReadAll(reader)
	if err != nil {
		return nil, fmt.Errorf("decompress embedded iotfleet-init: %w", err)
	}
	return data, nil
}

// Install writes the init to binDir/FileName with mode 0755 unless a file with the same
// content is already there, and returns its path and SHA-256. Containers bind-mount the file,
// so it is replaced by rename and never rewritten in place: a running container keeps the
// inode it started with.
func Install(binDir string) (path, sum string, err error) {
	data, err := Binary()
	if err != nil {
		return "", "", err
	}
	digest := sha256.Sum256(data)
	sum = hex.EncodeToString(digest[:])
	path = filepath.Join(binDir, FileName)

	current, err := os.ReadFile(path)
	if err == nil && bytes.Equal(current, data) {
		return path, sum, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", "", fmt.Errorf("install iotfleet-init: %w", err)
	}
	if err := atomicfile.WriteFile(path, data, 0o755); err != nil {
		return "", "", fmt.Errorf("install iotfleet-init: %w", err)
	}
	return path, sum, nil
}

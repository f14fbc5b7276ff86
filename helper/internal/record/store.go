package record

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// resultFile is the recording's result inside its folder.
const resultFile = "result.json"

// Store reads and writes recordings in a state folder. The result format is part of the
// protocol, so a helper upgrade keeps the recordings of an older helper readable.
type Store struct {
	StateDir string
}

// Dir returns the folder of the recording name.
func (s Store) Dir(name string) string {
	return filepath.Join(s.StateDir, state.RecordingsDir, name)
}

// LockPath returns the lock file that serializes runs and deletes of the recording name.
func (s Store) LockPath(name string) string {
	return filepath.Join(s.StateDir, state.LocksDir, "recording-"+name)
}

// WithLock runs fn holding the recording's exclusive lock, waiting at most timeout for it
// (zero means state.DefaultLockTimeout). The state folder must exist.
func (s Store) WithLock(ctx context.Context, timeout time.Duration, name string, fn func() error) error {
	if timeout == 0 {
		timeout = state.DefaultLockTimeout
	}
	if err := os.MkdirAll(filepath.Join(s.StateDir, state.LocksDir), 0o700); err != nil {
		return fmt.Errorf("create locks folder: %w", err)
	}
	lock, err := lockfile.Acquire(ctx, s.LockPath(name), lockfile.Exclusive, timeout)
	if err != nil {
		return fmt.Errorf("lock recording %q: %w", name, err)
	}
	err = fn()
	if releaseErr := lock.Release(); releaseErr != nil {
		return errors.Join(err, releaseErr)
	}
	return err
}

// Write stores result atomically as the recording's result and returns its state.
func (s Store) Write(result protocol.RecordingResult) (protocol.RecordingState, error) {
	data, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		return protocol.RecordingState{}, fmt.Errorf("encode recording %q: %w", result.Name, err)
	}
	data = append(data, '\n')
	dir := s.Dir(result.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return protocol.RecordingState{}, fmt.Errorf("create recording folder: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, resultFile), data, 0o600); err != nil {
		return protocol.RecordingState{}, fmt.Errorf("write recording %q: %w", result.Name, err)
	}
	return protocol.RecordingState{Result: result, SHA256: hexSHA256(data)}, nil
}

// Read returns the recording's state, or a CodeNotFound error when it does not exist.
func (s Store) Read(name string) (protocol.RecordingState, error) {
	path := filepath.Join(s.Dir(name), resultFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return protocol.RecordingState{}, protocol.Errorf(protocol.CodeNotFound,
			"recording %q does not exist on the device; run it first", name)
	}
	if err != nil {
		return protocol.RecordingState{}, fmt.Errorf("read recording %q: %w", name, err)
	}
	var result protocol.RecordingResult
	if err := json.Unmarshal(data, &result); err != nil {
		return protocol.RecordingState{}, fmt.Errorf("decode recording %q from %s: %w; delete the "+
			"recording and run it again", name, path, err)
	}
	return protocol.RecordingState{Result: result, SHA256: hexSHA256(data)}, nil
}

// Delete removes the recording's folder and reports whether it existed.
func (s Store) Delete(name string) (bool, error) {
	dir := s.Dir(name)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, fmt.Errorf("delete recording %q: %w", name, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(dir)); err != nil {
		return true, fmt.Errorf("delete recording %q: %w", name, err)
	}
	return true, nil
}

func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

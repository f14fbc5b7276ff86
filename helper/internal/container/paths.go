// Package container carries out the container operations: it validates a spec, allocates the
// container's host IDs, builds its rootfs, writes its LXC configuration and drives liblxc.
package container

import (
	"path/filepath"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
)

// Entries that the container operations add to the state folder. state.ownEntries lists them
// too, so that uninstall removes them.
const (
	ImagesDir  = state.ImagesDir
	LocksDir   = state.LocksDir
	IdmapFile  = state.IdmapFile
	UploadsDir = state.UploadsDir
)

// Files of a container's LXC folder (lxcpath/<name>) and of its record folder
// (state_dir/containers/<name>).
const (
	configFile   = "config"
	rootfsDir    = "rootfs"
	initSpecFile = "init.json"
	filesDir     = "files"
	logFile      = "lxc.log"
	appliedFile  = "applied.json"
)

// Paths locates everything that belongs to one container.
type Paths struct {
	StateDir string
	LXCPath  string
	Name     string
}

// Dir is the container's LXC folder: configuration, rootfs, init spec, files and log.
func (p Paths) Dir() string      { return filepath.Join(p.LXCPath, p.Name) }
func (p Paths) Config() string   { return filepath.Join(p.Dir(), configFile) }
func (p Paths) Rootfs() string   { return filepath.Join(p.Dir(), rootfsDir) }
func (p Paths) InitSpec() string { return filepath.Join(p.Dir(), initSpecFile) }
func (p Paths) FilesDir() string { return filepath.Join(p.Dir(), filesDir) }
func (p Paths) Log() string      { return filepath.Join(p.Dir(), logFile) }

// RecordDir is the container's folder in the state folder; its existence puts the container
// into the inventory.
func (p Paths) RecordDir() string { return filepath.Join(p.StateDir, state.ContainersDir, p.Name) }
func (p Paths) Applied() string   { return filepath.Join(p.RecordDir(), appliedFile) }

// Lock is the container's lock file. Lock files stay after a delete: removing one would let a
// waiter lock the removed inode while a newcomer locks a new file.
func (p Paths) Lock() string { return filepath.Join(p.StateDir, LocksDir, "container-"+p.Name) }

// Shared entries of the state folder.
func (p Paths) ImagesDir() string  { return filepath.Join(p.StateDir, ImagesDir) }
func (p Paths) ImagesLock() string { return filepath.Join(p.StateDir, LocksDir, "images") }
func (p Paths) IdmapPool() string  { return filepath.Join(p.StateDir, IdmapFile) }
func (p Paths) IdmapLock() string  { return filepath.Join(p.StateDir, LocksDir, "idmap") }
func (p Paths) BinDir() string     { return filepath.Join(p.StateDir, state.BinFolder) }

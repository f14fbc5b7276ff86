//go:build !(linux && cgo)

package liblxc

import "time"

// Container is one LXC container. Without cgo no container can be loaded.
type Container struct{}

// Open returns an error: the helper was built without liblxc.
func Open(lxcPath, name string) (*Container, error) { return nil, errNoCgo }

func (c *Container) Close()                                  {}
func (c *Container) Defined() bool                           { return false }
func (c *Container) State() string                           { return "STOPPED" }
func (c *Container) Running() bool                           { return false }
func (c *Container) InitPID() int                            { return -1 }
func (c *Container) Start(time.Duration) error               { return errNoCgo }
func (c *Container) Stop(time.Duration, time.Duration) error { return errNoCgo }
func (c *Container) SetCgroupItem(string, string) error      { return errNoCgo }
func (c *Container) CgroupItem(string) []string              { return nil }
func (c *Container) Attach([]string, []string, uintptr, uintptr, uintptr) (int, error) {
	return 0, errNoCgo
}

// Package initspec defines the file through which the helper tells iotfleet-init, the first
// process of every container, what to run.
package initspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Paths inside the container. LXC's autodev mounts a tmpfs on /dev before it processes mount
// entries, so both files can be bind-mounted there even when the rootfs is read-only and has no
// mount points for them.
const (
	Dir        = "/dev/.iotfleet"
	BinaryPath = Dir + "/init"
	SpecPath   = Dir + "/init.json"
)

// DefaultPath is the PATH that the workload gets when its environment sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Spec is the content of SpecPath. LXC itself switches to the workload's user and group
// (lxc.init.uid and lxc.init.gid) before it starts the init, so Spec carries neither.
type Spec struct {
	// Argv is the workload's argument vector. An empty Argv makes the init stay as a minimal
	// PID 1 that reaps children and exits on SIGTERM, SIGINT or SIGPWR.
	Argv []string `json:"argv,omitempty"`

	// Env is the complete environment of the workload, as KEY=VALUE strings.
	Env []string `json:"env"`

	// Dir is the working directory; empty means /.
	Dir string `json:"dir,omitempty"`

	// SeccompFilter is a classic BPF program that the init loads as a seccomp filter, on top
	// of the policy that LXC loaded, before it runs the workload or pauses. Empty loads none.
	// The helper uses it to refuse every syscall made through a compat ABI, which LXC's policy
	// format cannot express.
	SeccompFilter []Instruction `json:"seccomp_filter,omitempty"`
}

// Instruction is one classic BPF instruction, laid out as struct sock_filter.
type Instruction struct {
	Code uint16 `json:"code"`
	Jt   uint8  `json:"jt"`
	Jf   uint8  `json:"jf"`
	K    uint32 `json:"k"`
}

// MaxFilterLength is the kernel's limit on the instructions of one BPF program (BPF_MAXINSNS).
const MaxFilterLength = 4096

// Marshal encodes s after checking it.
func (s Spec) Marshal() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// Unmarshal decodes and checks a spec.
func Unmarshal(data []byte) (Spec, error) {
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return Spec{}, fmt.Errorf("decode init spec: %w", err)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// Validate checks the invariants that execve(2) needs: no NUL bytes, an argv[0] when there is
// an argv, and KEY=VALUE environment entries.
func (s Spec) Validate() error {
	if len(s.Argv) > 0 && s.Argv[0] == "" {
		return errors.New("invalid init spec: argv[0] is empty")
	}
	if len(s.SeccompFilter) > MaxFilterLength {
		return fmt.Errorf("invalid init spec: the seccomp filter has %d instructions, more than the kernel's %d", len(s.SeccompFilter), MaxFilterLength)
	}
	for i, arg := range s.Argv {
		if strings.ContainsRune(arg, 0) {
			return fmt.Errorf("invalid init spec: argv[%d] contains a NUL byte", i)
		}
	}
	for _, entry := range s.Env {
		key, _, ok := strings.Cut(entry, "=")
		if !ok || key == "" || strings.ContainsRune(entry, 0) {
			return fmt.Errorf("invalid init spec: environment entry %q is not KEY=VALUE", entry)
		}
	}
	if s.Dir != "" && !strings.HasPrefix(s.Dir, "/") {
		return fmt.Errorf("invalid init spec: working directory %q is not absolute", s.Dir)
	}
	return nil
}

// LookPath returns the file that execvp(3) would run for name with the given PATH value: name
// itself when it contains a slash, else the first executable regular file named name in a
// PATH folder. executable reports whether a path is an executable regular file.
func LookPath(name, path string, executable func(string) bool) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		candidate := dir + "/" + name
		if executable(candidate) {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("%q not found in PATH %q", name, path)
}

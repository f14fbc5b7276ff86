package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// toolTimeout bounds one run of an external tool such as nft.
const toolTimeout = 30 * time.Second

// toolPackages names the Debian package of each external tool, for the error when it is missing.
var toolPackages = map[string]string{
	"nft": "nftables",
	"ip":  "iproute2",
}

// toolFolders are searched before PATH, in this order. A non-login SSH session may leave
// /usr/sbin out of PATH, and a fixed order gives the same path under SSH and under the boot
// hook, which matters because the port hook records the path of ip.
var toolFolders = []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"}

// lookTool returns the absolute path of an external tool.
func lookTool(name string) (string, error) {
	for _, dir := range toolFolders {
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	if path, err := exec.LookPath(name); err == nil {
		return filepath.Abs(path)
	}
	return "", fmt.Errorf("%s not found in /usr/sbin, /sbin, /usr/bin, /bin or PATH: install the %s package "+
		"on the device: %w", name, toolPackages[name], fs.ErrNotExist)
}

// runTool runs an external tool with argv, never through a shell, feeds it stdin and returns
// its standard output. The error carries the command and the tail of standard error.
func runTool(ctx context.Context, name string, stdin []byte, args ...string) ([]byte, error) {
	path, err := lookTool(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, toolTimeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		line := strings.Join(append([]string{name}, args...), " ")
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return stdout.Bytes(), fmt.Errorf("%s timed out after %v", line, toolTimeout)
		}
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s", line, err, strings.TrimSpace(lastLines(stderr.String(), 5)))
	}
	return stdout.Bytes(), nil
}

// lastLines returns the last n lines of text, joined by "; ".
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

//go:build linux

package localdevice

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// readyTimeout bounds the wait for sshd to accept connections; it normally takes under 50 ms.
const readyTimeout = 10 * time.Second

// sshdScript runs inside the device's new mount namespace. It bind-mounts $1 over $2 and $3
// over $4, then replaces itself with sshd ($5) reading the config $6, so sshd keeps the PID
// that Start recorded.
//
// Before that it mounts a fresh sysfs over /sys, which lists the device's own network
// interfaces: LXC looks a bridge up in /sys/class/net before it attaches a veth. The host's
// cgroup tree, parked at the empty folder $7 meanwhile, is bound back at /sys/fs/cgroup. A
// whole new sysfs, unlike binds over its network folders, still lets unprivileged containers
// mount their own sysfs, which the kernel refuses while a sysfs has mounts over non-empty folders.
//
// The device also gets its own /etc: an overlay on the host's, with its changes in $8 (work
// folder $9). The helper allocates container ID ranges in /etc/subuid and /etc/subgid, so
// devices must not share them, and it replaces them by renaming, which a file bind mount
// would refuse.
const sshdScript = `mount --bind "$1" "$2" && mount --bind "$3" "$4" &&
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$8,workdir=$9" /etc &&
mount --rbind /sys/fs/cgroup "$7" && mount -t sysfs sysfs /sys &&
mount --rbind "$7" /sys/fs/cgroup && umount -l "$7" &&
exec "$5" -D -e -f "$6"`

// writeFiles creates the device's folder with its subfolders, host key and client key pair.
func (d *Device) writeFiles() error {
	for _, dir := range []string{d.Dir, d.lxcDir(), d.stateDir(), d.sysfsDir(), d.etcUpperDir(), d.etcWorkDir()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create device folder: %w", err)
		}
	}

	hostKey, err := writeKeyPair(d.hostKeyPath(), "root@"+d.Name)
	if err != nil {
		return fmt.Errorf("create host key: %w", err)
	}
	d.HostPublicKey = authorizedKeyLine(hostKey)

	clientKey, err := writeKeyPair(d.ClientKeyPath, "localdevice@"+d.Name)
	if err != nil {
		return fmt.Errorf("create client key: %w", err)
	}
	line := authorizedKeyLine(clientKey) + " localdevice@" + d.Name + "\n"
	if err := os.WriteFile(d.authorizedPath(), []byte(line), 0o644); err != nil {
		return fmt.Errorf("write authorized_keys: %w", err)
	}
	return nil
}

// writeKeyPair writes a new ed25519 private key in OpenSSH format to path and its public key
// to path.pub, and returns the public key.
func writeKeyPair(path, comment string) (ssh.PublicKey, error) {
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(private, comment)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	key, err := ssh.NewPublicKey(public)
	if err != nil {
		return nil, err
	}
	line := authorizedKeyLine(key) + " " + comment + "\n"
	if err := os.WriteFile(path+".pub", []byte(line), 0o644); err != nil {
		return nil, err
	}
	return key, nil
}

// authorizedKeyLine returns key in authorized_keys form without a comment.
func authorizedKeyLine(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// writeConfig writes sshd_config. The device's address must be set.
func (d *Device) writeConfig() error {
	if err := os.WriteFile(d.configPath(), []byte(d.renderConfig()), 0o644); err != nil {
		return fmt.Errorf("write sshd_config: %w", err)
	}
	return nil
}

// renderConfig returns the device's sshd_config. Paths are quoted because the root may contain
// spaces. StrictModes is off because the folder may sit under a world-writable /tmp.
func (d *Device) renderConfig() string {
	lines := []string{
		"# sshd_config of local device " + d.Name + ", written by package localdevice.",
		"Port " + strconv.Itoa(d.Port),
		"ListenAddress " + d.Address(),
		`HostKey "` + d.hostKeyPath() + `"`,
		`AuthorizedKeysFile "` + d.authorizedPath() + `"`,
		`PidFile "` + d.pidPath() + `"`,
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"PermitRootLogin prohibit-password",
		"Subsystem sftp internal-sftp",
		"MaxSessions 10",
	}
	return strings.Join(lines, "\n") + "\n"
}

// startSSHD starts sshd in the device's network namespace and a new private mount namespace,
// detached from the caller's session so that it outlives the calling process.
func (d *Device) startSSHD() error {
	// sshd needs its privilege separation folder, and the bind mounts need their mount points.
	for _, dir := range []string{"/run/sshd", LXCPath, StateDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("start sshd: %w", err)
		}
	}
	logFile, err := os.OpenFile(d.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start sshd: %w", err)
	}
	defer logFile.Close()

	// nsenter and unshare exec their command without forking, and sh execs sshd, so the PID of
	// this command ends up being sshd's. `ip netns exec` is avoided because it remounts /sys,
	// which hides /sys/fs/cgroup from the containers started on the device.
	cmd := exec.Command("nsenter", "--net="+d.netnsPath(), "--",
		"unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", sshdScript, "sh",
		d.lxcDir(), LXCPath, d.stateDir(), StateDir,
		sshdPath, d.configPath(), d.sysfsDir(), d.etcUpperDir(), d.etcWorkDir())
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sshd: %w", err)
	}
	d.PID = cmd.Process.Pid

	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // Reaps sshd. Its exit status is in sshd.log.
		close(exited)
	}()
	d.exited = exited
	return nil
}

// waitReady polls the device's SSH port until sshd sends its banner. It fails with the tail of
// sshd.log when sshd exits first.
func (d *Device) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	address := net.JoinHostPort(d.Address(), strconv.Itoa(d.Port))
	for {
		select {
		case <-d.exited:
			return fmt.Errorf("sshd exited during start: %s", d.logTail())
		default:
		}
		err := readBanner(ctx, address)
		if err == nil {
			break
		}
		if sleepErr := sleepContext(ctx, 10*time.Millisecond); sleepErr != nil {
			return fmt.Errorf("wait for sshd on %s: %w (last error: %v); sshd.log: %s",
				address, sleepErr, err, d.logTail())
		}
	}

	if d.liveSSHD() == 0 {
		return fmt.Errorf("sshd on %s responds, but PID %d is not %s in namespace %s",
			address, d.PID, sshdPath, d.Namespace)
	}
	return nil
}

// readBanner connects to address and reads the SSH identification line.
func readBanner(ctx context.Context, address string) error {
	dialer := net.Dialer{Timeout: time.Second}
	conn, err := dialer.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read SSH banner: %w", err)
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("unexpected SSH banner %q", strings.TrimSpace(line))
	}
	return nil
}

// logTail returns the last lines of sshd.log.
func (d *Device) logTail() string {
	data, err := os.ReadFile(d.logPath())
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", d.logPath(), err)
	}
	if tail := lastLines(string(data), 10); tail != "" {
		return tail
	}
	return "(empty)"
}

// liveSSHD returns the device's sshd PID, or 0 unless that process is alive, runs sshdPath and
// reads the device's sshd_config. The checks keep a reused PID from being taken for sshd, and
// they hold even when someone deleted the device's namespace by hand.
func (d *Device) liveSSHD() int {
	if d.PID <= 0 {
		return 0
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", d.PID))
	if err != nil || strings.TrimSuffix(exe, " (deleted)") != sshdPath {
		return 0
	}
	// sshd rewrites its command line to "sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] ...",
	// which still contains the config path.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", d.PID))
	if err != nil {
		return 0
	}
	args := strings.ReplaceAll(string(cmdline), "\x00", " ") + " "
	if !strings.Contains(args, " -f "+d.configPath()+" ") {
		return 0
	}
	return d.PID
}

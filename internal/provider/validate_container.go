package provider

import (
	"errors"
	"fmt"
	"math/big"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

var (
	// containerNamePattern is a DNS label in lowercase, so a name is safe as an LXC container
	// name, a folder name and a host name inside the container.
	containerNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

	memoryLimitPattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)$`)
	cpuLimitPattern    = regexp.MustCompile(`^([0-9]{1,6})(?:\.([0-9]{1,3}))?$`)
	fileModePattern    = regexp.MustCompile(`^[0-7]{3,4}$`)
	envNamePattern     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sha256Pattern      = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

	// appArmorProfilePattern admits the profile names the helper accepts, including child
	// profiles such as "a//b".
	appArmorProfilePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,254}$`)
)

const (
	// unlimitedMemory is the memory_limit that sets no limit.
	unlimitedMemory = "unlimited"

	// minMemoryLimit is the helper's minimum. It also rejects a forgotten unit ("512" meant as
	// MiB).
	minMemoryLimit = 4 << 20

	// maxIdmapSize is the largest ID range the helper hands one container.
	maxIdmapSize = 16 * 65536

	// cpuPeriodMicros is the CFS period that cpu_limit converts to, the kernel's default. Each
	// thousandth of a CPU is then 100 microseconds of quota.
	cpuPeriodMicros = 100_000

	// minCPUQuotaMicros is the smallest CFS quota the kernel accepts (1 ms), so cpu_limit is at
	// least 0.01.
	minCPUQuotaMicros = 1000

	// maxContainerPathBytes is PATH_MAX less the terminating NUL.
	maxContainerPathBytes = 4095
)

const (
	memoryLimitForms = `use a whole or decimal number with an optional unit: B, K/KiB, M/MiB, G/GiB, T/TiB ` +
		`(powers of 1024) or KB, MB, GB, TB (powers of 1000), for example "64MiB", "512M" or "1G", or "unlimited"`
	cpuLimitForms = `use a number of CPUs with at most three decimals, from 0.01, for example "0.5", "1" or "2.25"`
)

// memoryUnits maps a lowercase memory unit to its size in bytes.
var memoryUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
}

func validateContainerName(name string) error {
	if !containerNamePattern.MatchString(name) {
		return fmt.Errorf("invalid container name %q: use 1 to 63 characters of a-z, 0-9 and '-', starting and "+
			"ending with a letter or digit, for example \"web\" or \"sensor-reader\"", name)
	}
	return nil
}

// parseMemoryLimit returns the bytes that a memory_limit stands for; 0 means no limit.
func parseMemoryLimit(s string) (int64, error) {
	if s == unlimitedMemory {
		return 0, nil
	}
	if strings.HasPrefix(strings.TrimSpace(s), "-") {
		return 0, fmt.Errorf("invalid memory_limit %q: a limit cannot be negative; %s", s, memoryLimitForms)
	}

	match := memoryLimitPattern.FindStringSubmatch(strings.TrimSpace(s))
	if match == nil {
		return 0, fmt.Errorf("invalid memory_limit %q: %s", s, memoryLimitForms)
	}
	unit, ok := memoryUnits[strings.ToLower(match[2])]
	if !ok {
		return 0, fmt.Errorf("invalid memory_limit %q: unknown unit %q; %s", s, match[2], memoryLimitForms)
	}
	amount, ok := new(big.Rat).SetString(match[1])
	if !ok {
		return 0, fmt.Errorf("invalid memory_limit %q: %s", s, memoryLimitForms)
	}

	// Exact arithmetic, so "1.5GiB" is 1610612736 bytes; a fraction of a byte is dropped.
	amount.Mul(amount, new(big.Rat).SetInt64(unit))
	bytes := new(big.Int).Quo(amount.Num(), amount.Denom())
	if !bytes.IsInt64() {
		return 0, fmt.Errorf("invalid memory_limit %q: the value is too large", s)
	}
	if bytes.Sign() == 0 {
		return 0, fmt.Errorf("invalid memory_limit %q: use \"unlimited\" to set no limit", s)
	}
	if bytes.Int64() < minMemoryLimit {
		return 0, fmt.Errorf("invalid memory_limit %q: %d bytes is below the minimum of 4MiB; add a unit, "+
			"for example \"%sMiB\", or use \"unlimited\"", s, bytes.Int64(), match[1])
	}
	return bytes.Int64(), nil
}

// formatMemoryLimit returns the shortest exact memory_limit for bytes, in binary units.
func formatMemoryLimit(bytes int64) string {
	switch {
	case bytes <= 0:
		return unlimitedMemory
	case bytes%(1<<40) == 0:
		return fmt.Sprintf("%dTiB", bytes>>40)
	case bytes%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", bytes>>30)
	case bytes%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", bytes>>20)
	case bytes%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", bytes>>10)
	}
	return strconv.FormatInt(bytes, 10)
}

// parseCPULimit converts a number of CPUs into a CFS quota per cpuPeriodMicros.
func parseCPULimit(s string) (quotaMicros, periodMicros int64, err error) {
	if strings.HasPrefix(strings.TrimSpace(s), "-") {
		return 0, 0, fmt.Errorf("invalid cpu_limit %q: a limit cannot be negative; %s", s, cpuLimitForms)
	}
	match := cpuLimitPattern.FindStringSubmatch(s)
	if match == nil {
		return 0, 0, fmt.Errorf("invalid cpu_limit %q: %s", s, cpuLimitForms)
	}
	whole, _ := strconv.ParseInt(match[1], 10, 64)
	fraction, _ := strconv.ParseInt((match[2] + "000")[:3], 10, 64)
	milliCPUs := whole*1000 + fraction
	quota := milliCPUs * cpuPeriodMicros / 1000
	if quota < minCPUQuotaMicros {
		return 0, 0, fmt.Errorf("invalid cpu_limit %q: the minimum is 0.01 CPUs, the kernel's smallest quota of 1ms "+
			"per 100ms; leave cpu_limit unset for no limit", s)
	}
	return quota, cpuPeriodMicros, nil
}

// formatCPULimit returns the cpu_limit for a CFS quota, rounded to thousandths of a CPU, or ""
// when there is no quota.
func formatCPULimit(quotaMicros, periodMicros int64) string {
	if quotaMicros <= 0 || periodMicros <= 0 {
		return ""
	}
	milliCPUs := (quotaMicros*1000 + periodMicros/2) / periodMicros
	text := fmt.Sprintf("%d.%03d", milliCPUs/1000, milliCPUs%1000)
	return strings.TrimSuffix(strings.TrimRight(text, "0"), ".")
}

// parseFileMode parses an octal permission string such as "0644" or "600".
func parseFileMode(s string) (uint32, error) {
	if !fileModePattern.MatchString(s) {
		return 0, fmt.Errorf("invalid mode %q: use three or four octal digits, for example \"0644\" or \"0600\"", s)
	}
	mode, _ := strconv.ParseUint(s, 8, 32)
	if mode > 0o777 {
		return 0, fmt.Errorf("invalid mode %q: setuid, setgid and sticky bits are not allowed, because a setuid "+
			"file placed by the provider would hand privileges to any process in the container; use permission "+
			"bits only, for example \"0755\"", s)
	}
	return uint32(mode), nil
}

// validateContainerPath checks an absolute path inside a container. A ".." segment is rejected
// even where it would resolve inside the rootfs, because a path that reads as escaping is a
// mistake or an attack.
func validateContainerPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("invalid path %q: use an absolute path inside the container, for example \"/etc/app.conf\"", p)
	case len(p) > maxContainerPathBytes:
		return fmt.Errorf("invalid path %q: it is %d bytes long, more than the limit of %d", p, len(p), maxContainerPathBytes)
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return fmt.Errorf("invalid path %q: control characters are not allowed", p)
	}
	for _, segment := range strings.Split(p, "/") {
		if segment == ".." {
			return fmt.Errorf("invalid path %q: '..' segments are not allowed, so the path cannot leave the "+
				"container's rootfs", p)
		}
	}
	if path.Clean(p) != p {
		return fmt.Errorf("invalid path %q: use the clean form %q, without a trailing slash, '//' or '.' segments",
			p, path.Clean(p))
	}
	return nil
}

// validateFilePath is validateContainerPath for a file, which cannot be the root folder.
func validateFilePath(p string) error {
	if p == "/" {
		return errors.New(`invalid path "/": name a file inside the container, for example "/etc/app.conf"`)
	}
	return validateContainerPath(p)
}

func validateEnvName(name string) error {
	if !envNamePattern.MatchString(name) {
		return fmt.Errorf("invalid environment variable name %q: use letters, digits and '_', not starting with a "+
			"digit, for example \"LOG_LEVEL\"", name)
	}
	return nil
}

// validateArgument checks one element of command or one environment value, which the kernel
// passes as a NUL-terminated string.
func validateArgument(s string) error {
	if strings.ContainsRune(s, 0) {
		return fmt.Errorf("invalid value %q: it contains a NUL byte, which a process argument or environment "+
			"value cannot hold", s)
	}
	return nil
}

func validateSHA256(s string) error {
	if !sha256Pattern.MatchString(s) {
		return fmt.Errorf("invalid SHA-256 %q: use 64 hexadecimal digits as `sha256sum` prints them", s)
	}
	return nil
}

func validateAppArmorProfile(name string) error {
	if !appArmorProfilePattern.MatchString(name) {
		return fmt.Errorf("invalid AppArmor profile %q: use a profile name of letters, digits and '_', '.', ':', "+
			"'/', '-', for example \"iotfleet-web\"", name)
	}
	return nil
}

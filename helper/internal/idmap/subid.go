package idmap

import (
	"fmt"
	"strconv"
	"strings"
)

// SubIDEntry is one line of /etc/subuid or /etc/subgid: Owner (a user name or numeric ID) may
// use Count IDs from Start on.
type SubIDEntry struct {
	Owner string
	Start uint64
	Count uint64
}

// Range returns the entry as a Range.
func (e SubIDEntry) Range() Range {
	return Range{Start: e.Start, Size: e.Count}
}

func (e SubIDEntry) String() string {
	return fmt.Sprintf("%s:%d:%d", e.Owner, e.Start, e.Count)
}

// ParseSubID returns the entries of a subuid or subgid file. Blank lines and lines starting
// with '#' are skipped; shadow's own parser rejects other malformed lines, and so does this one,
// because a range it cannot read might overlap one that the pool hands out.
func ParseSubID(data string) ([]SubIDEntry, error) {
	var entries []SubIDEntry
	for i, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) != 3 || fields[0] == "" {
			return nil, fmt.Errorf("line %d %q is not OWNER:START:COUNT", i+1, line)
		}
		start, err := strconv.ParseUint(fields[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: invalid start: %w", i+1, line, err)
		}
		count, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: invalid count: %w", i+1, line, err)
		}
		entries = append(entries, SubIDEntry{Owner: fields[0], Start: start, Count: count})
	}
	return entries, nil
}

// AddSubID returns data with entry appended as a line, unless the file already has that line.
func AddSubID(data string, entry SubIDEntry) string {
	line := entry.String()
	for _, existing := range strings.Split(data, "\n") {
		if strings.TrimSpace(existing) == line {
			return data
		}
	}
	if data != "" && !strings.HasSuffix(data, "\n") {
		data += "\n"
	}
	return data + line + "\n"
}

// RemoveSubID returns data without the lines that equal entry, keeping every other line as it
// was.
func RemoveSubID(data string, entry SubIDEntry) string {
	line := entry.String()
	lines := strings.SplitAfter(data, "\n")
	kept := lines[:0]
	for _, existing := range lines {
		if strings.TrimSpace(existing) != line {
			kept = append(kept, existing)
		}
	}
	return strings.Join(kept, "")
}

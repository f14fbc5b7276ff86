// Package idmap hands out the host ID ranges that unprivileged containers map their IDs 0..N
// onto. The pool lives in the state folder (idmap.json). Each range is also written to
// /etc/subuid and /etc/subgid as a "root:START:COUNT" line: liblxc 5.0 maps IDs through
// newuidmap and newgidmap whenever those setuid tools are installed (Debian's uidmap package),
// even when it runs as root, and those tools accept only ranges that the files grant to the
// caller.
package idmap

import (
	"errors"
	"fmt"
	"sort"
)

// Pool layout. Ranges start at PoolStart and at multiples of BlockSize after it, so that a
// container's host IDs are easy to read in ps(1) output.
const (
	PoolStart = 1_000_000
	BlockSize = 65536

	// MaxID is the largest host ID a range may end at: (uid_t)-1 is reserved as "no ID", and
	// the kernel refuses 4294967295 in a mapping.
	MaxID = 1<<32 - 2
)

// ErrExhausted is returned when no free range of the requested size is left.
var ErrExhausted = errors.New("idmap pool exhausted")

// Range is Size host IDs from Start on, used for both UIDs and GIDs.
type Range struct {
	Start uint64 `json:"start"`
	Size  uint64 `json:"size"`
}

// End returns the first ID after the range.
func (r Range) End() uint64 { return r.Start + r.Size }

// Overlaps reports whether r and other share at least one ID.
func (r Range) Overlaps(other Range) bool {
	return r.Start < other.End() && other.Start < r.End()
}

// Allocation is a range handed out to one container.
type Allocation struct {
	Owner string `json:"owner"`
	Range
}

// Pool is the content of idmap.json.
type Pool struct {
	Version     int          `json:"version"`
	Allocations []Allocation `json:"allocations"`
}

// poolVersion is the format version of idmap.json.
const poolVersion = 1

// Find returns the allocation of owner.
func (p *Pool) Find(owner string) (Allocation, bool) {
	for _, allocation := range p.Allocations {
		if allocation.Owner == owner {
			return allocation, true
		}
	}
	return Allocation{}, false
}

// Allocate hands out the lowest free block-aligned range of size IDs to owner and records it.
// A range is free when it overlaps neither the pool's allocations nor any range in taken,
// such as the entries of /etc/subuid and /etc/subgid. An owner that already has a range of that
// size keeps it.
func (p *Pool) Allocate(owner string, size uint64, taken []Range) (Range, error) {
	if size == 0 {
		return Range{}, fmt.Errorf("allocate host ID range for %q: size must be positive", owner)
	}
	if existing, ok := p.Find(owner); ok {
		if existing.Size == size {
			return existing.Range, nil
		}
		return Range{}, fmt.Errorf("allocate host ID range for %q: it already holds %d IDs from %d; "+
			"release that range first", owner, existing.Size, existing.Start)
	}

	busy := append([]Range(nil), taken...)
	for _, allocation := range p.Allocations {
		busy = append(busy, allocation.Range)
	}
	sort.Slice(busy, func(i, j int) bool { return busy[i].Start < busy[j].Start })

	// The candidate only moves up, so the scan ends. A range that contains a later one can
	// overlap again after a move, hence the repeated passes.
	candidate := Range{Start: PoolStart, Size: size}
	for moved := true; moved; {
		moved = false
		for _, other := range busy {
			if candidate.Overlaps(other) {
				candidate.Start = alignUp(other.End())
				moved = true
			}
		}
	}
	if candidate.End()-1 > MaxID {
		return Range{}, fmt.Errorf("allocate %d host IDs for %q: %w; delete unused containers or "+
			"choose a smaller idmap size", size, owner, ErrExhausted)
	}
	p.Allocations = append(p.Allocations, Allocation{Owner: owner, Range: candidate})
	return candidate, nil
}

// Release removes the allocation of owner and returns it. It reports false when owner holds
// none.
func (p *Pool) Release(owner string) (Allocation, bool) {
	for i, allocation := range p.Allocations {
		if allocation.Owner == owner {
			p.Allocations = append(p.Allocations[:i], p.Allocations[i+1:]...)
			return allocation, true
		}
	}
	return Allocation{}, false
}

// alignUp rounds id up to the next block boundary counted from PoolStart.
func alignUp(id uint64) uint64 {
	if id <= PoolStart {
		return PoolStart
	}
	offset := id - PoolStart
	return PoolStart + (offset+BlockSize-1)/BlockSize*BlockSize
}

package idmap

import (
	"errors"
	"testing"
)

func TestPoolAllocateFirstFit(t *testing.T) {
	var pool Pool
	first, err := pool.Allocate("a", BlockSize, nil)
	if err != nil {
		t.Fatalf("Allocate(a): %v", err)
	}
	if first != (Range{Start: PoolStart, Size: BlockSize}) {
		t.Errorf("first range = %+v, want start %d size %d", first, PoolStart, BlockSize)
	}
	second, err := pool.Allocate("b", BlockSize, nil)
	if err != nil {
		t.Fatalf("Allocate(b): %v", err)
	}
	if second.Start != PoolStart+BlockSize {
		t.Errorf("second start = %d, want %d", second.Start, PoolStart+BlockSize)
	}
	if second.Overlaps(first) {
		t.Errorf("ranges %+v and %+v overlap", first, second)
	}
}

func TestPoolAllocateReusesReleasedRange(t *testing.T) {
	var pool Pool
	a, _ := pool.Allocate("a", BlockSize, nil)
	if _, err := pool.Allocate("b", BlockSize, nil); err != nil {
		t.Fatalf("Allocate(b): %v", err)
	}
	released, ok := pool.Release("a")
	if !ok || released.Range != a {
		t.Fatalf("Release(a) = %+v, %v; want %+v, true", released, ok, a)
	}
	c, err := pool.Allocate("c", BlockSize, nil)
	if err != nil {
		t.Fatalf("Allocate(c): %v", err)
	}
	if c != a {
		t.Errorf("Allocate(c) = %+v, want the released range %+v", c, a)
	}
	if _, ok := pool.Release("missing"); ok {
		t.Error("Release(missing) reported a range")
	}
}

func TestPoolAllocateSkipsTakenRanges(t *testing.T) {
	var pool Pool
	taken := []Range{
		{Start: PoolStart + 10, Size: 5},             // inside the first block
		{Start: PoolStart + BlockSize, Size: 100000}, // spans the second and third blocks
	}
	got, err := pool.Allocate("a", BlockSize, taken)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	for _, other := range taken {
		if got.Overlaps(other) {
			t.Errorf("allocated %+v overlaps taken range %+v", got, other)
		}
	}
	if want := uint64(PoolStart + 3*BlockSize); got.Start != want {
		t.Errorf("start = %d, want the first free aligned block %d", got.Start, want)
	}
}

func TestPoolAllocateNestedTakenRanges(t *testing.T) {
	var pool Pool
	// The outer range starts first and contains the inner one, so one pass is not enough.
	taken := []Range{{Start: PoolStart, Size: 10 * BlockSize}, {Start: PoolStart + BlockSize, Size: 1}}
	got, err := pool.Allocate("a", BlockSize, taken)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if got.Start != PoolStart+10*BlockSize {
		t.Errorf("start = %d, want %d", got.Start, PoolStart+10*BlockSize)
	}
}

func TestPoolAllocateKeepsExistingRange(t *testing.T) {
	var pool Pool
	first, _ := pool.Allocate("a", BlockSize, nil)
	again, err := pool.Allocate("a", BlockSize, nil)
	if err != nil || again != first {
		t.Errorf("second Allocate(a) = %+v, %v; want %+v", again, err, first)
	}
	if len(pool.Allocations) != 1 {
		t.Errorf("pool has %d allocations, want 1", len(pool.Allocations))
	}
	if _, err := pool.Allocate("a", 2*BlockSize, nil); err == nil {
		t.Error("Allocate(a) with another size succeeded, want an error")
	}
}

func TestPoolAllocateExhausted(t *testing.T) {
	var pool Pool
	taken := []Range{{Start: PoolStart, Size: MaxID - PoolStart}}
	_, err := pool.Allocate("a", BlockSize, taken)
	if !errors.Is(err, ErrExhausted) {
		t.Errorf("Allocate error = %v, want ErrExhausted", err)
	}
}

func TestPoolAllocateZeroSize(t *testing.T) {
	var pool Pool
	if _, err := pool.Allocate("a", 0, nil); err == nil {
		t.Error("Allocate with size 0 succeeded, want an error")
	}
}

package seccomp

import "testing"

func TestRuntimeBaseSetsExistOnMeasuredArch(t *testing.T) {
	sets := RuntimeBaseSets()
	if len(sets) != 3 {
		t.Fatalf("RuntimeBaseSets has %d sets; want lxc-start, its daemonized additions and lxc-attach", len(sets))
	}
	stages := make(map[RuntimeStage]bool)
	for _, set := range sets {
		if stages[set.Stage] {
			t.Errorf("stage %s appears twice", set.Stage)
		}
		stages[set.Stage] = true
		if len(set.Syscalls) == 0 {
			t.Errorf("stage %s has no syscalls", set.Stage)
		}
		p := Profile{DefaultAction: Action{Kind: ActionErrno}, Syscalls: set.Syscalls}
		if err := Validate(p, set.MeasuredArch); err != nil {
			t.Errorf("stage %s on %s: %v", set.Stage, set.MeasuredArch, err)
		}
	}
}

func TestRuntimeBaseSetsReturnsCopy(t *testing.T) {
	sets := RuntimeBaseSets()
	sets[0].Syscalls[0] = "changed"
	if RuntimeBaseSets()[0].Syscalls[0] == "changed" {
		t.Error("RuntimeBaseSets returned the package's own slices")
	}
}

package helperbin

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestForMachineUnknownArch(t *testing.T) {
	_, err := ForMachine("mips")
	if err == nil {
		t.Fatal("ForMachine(mips) returned no error")
	}
	if len(Machines()) > 0 && !strings.Contains(err.Error(), `"mips"`) {
		t.Errorf("error %q does not name the device architecture", err)
	}
}

func TestForMachineBundled(t *testing.T) {
	machines := Machines()
	if len(machines) == 0 {
		t.Skip("no helpers are bundled in this build; `make helpers` builds them")
	}
	for _, machine := range machines {
		helper, err := ForMachine(machine)
		if err != nil {
			t.Errorf("ForMachine(%q): %v", machine, err)
			continue
		}
		if helper.GOARCH != unameToGOARCH[machine] {
			t.Errorf("ForMachine(%q).GOARCH = %q, want %q", machine, helper.GOARCH, unameToGOARCH[machine])
		}
		sum := sha256.Sum256(helper.Binary)
		if got := hex.EncodeToString(sum[:]); got != helper.SHA256 {
			t.Errorf("ForMachine(%q).SHA256 = %s, want the binary's hash %s", machine, helper.SHA256, got)
		}
	}
}

package idmap

import (
	"reflect"
	"testing"
)

func TestParseSubID(t *testing.T) {
	got, err := ParseSubID("# comment\nalice:100000:65536\n\n1000:200000:10\n")
	if err != nil {
		t.Fatalf("ParseSubID: %v", err)
	}
	want := []SubIDEntry{{"alice", 100000, 65536}, {"1000", 200000, 10}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseSubID = %+v, want %+v", got, want)
	}
}

func TestParseSubIDRejectsMalformed(t *testing.T) {
	for _, line := range []string{"alice:1", "alice:x:1", ":1:1", "alice:1:-1", "a:1:2:3"} {
		if _, err := ParseSubID(line + "\n"); err == nil {
			t.Errorf("ParseSubID(%q) = nil error, want one", line)
		}
	}
}

func TestAddRemoveSubID(t *testing.T) {
	entry := SubIDEntry{"root", 1000000, 65536}
	original := "alice:100000:65536"

	added := AddSubID(original, entry)
	if want := "alice:100000:65536\nroot:1000000:65536\n"; added != want {
		t.Errorf("AddSubID = %q, want %q", added, want)
	}
	if again := AddSubID(added, entry); again != added {
		t.Errorf("second AddSubID changed the file to %q", again)
	}
	if removed := RemoveSubID(added, entry); removed != "alice:100000:65536\n" {
		t.Errorf("RemoveSubID = %q, want only alice's line", removed)
	}
}

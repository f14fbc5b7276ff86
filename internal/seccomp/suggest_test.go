package seccomp

import "testing"

func TestSuggest(t *testing.T) {
	cases := []struct {
		name string
		want string
		ok   bool
	}{
		{"opnat", "openat", true},
		{"getdents", "getdents64", true},
		{"epoll_wiat", "epoll_wait", true},
		// clone and clone3 are both one edit away: the lexically first wins.
		{"clone4", "clone", true},
		{"rt_sigreturm", "rt_sigreturn", true},
		{"frobnicate", "", false},
		{"xyz", "", false},
	}
	names := Names(ArchX86_64)
	for _, c := range cases {
		got, ok := Suggest(c.name, names)
		if ok != c.ok || got != c.want && c.ok {
			t.Errorf("Suggest(%q) = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestSuggestSkipsExactMatch(t *testing.T) {
	got, ok := Suggest("read", []string{"read", "readv"})
	if !ok || got != "readv" {
		t.Errorf(`Suggest("read") = %q, %v; want "readv", true`, got, ok)
	}
}

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"kitten", "sitting", 3},
		{"", "abc", 3},
		{"abc", "", 3},
		{"read", "read", 0},
		{"flaw", "lawn", 2},
	}
	for _, c := range cases {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d; want %d", c.a, c.b, got, c.want)
		}
	}
}

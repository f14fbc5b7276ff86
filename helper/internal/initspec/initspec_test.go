package initspec

import (
	"reflect"
	"strings"
	"testing"
)

func TestSpecRoundTrip(t *testing.T) {
	spec := Spec{Argv: []string{"/bin/echo", "a b", ""}, Env: []string{"PATH=/bin", "X=1=2"}, Dir: "/tmp"}
	data, err := spec.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !reflect.DeepEqual(got, spec) {
		t.Errorf("round trip = %#v, want %#v", got, spec)
	}
}

func TestSpecValidateRejects(t *testing.T) {
	cases := map[string]Spec{
		"empty argv0":     {Argv: []string{""}},
		"nul in argument": {Argv: []string{"/bin/sh", "a\x00b"}},
		"env without =":   {Env: []string{"FOO"}},
		"env empty key":   {Env: []string{"=x"}},
		"relative dir":    {Dir: "tmp"},
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			if err := spec.Validate(); err == nil {
				t.Errorf("Validate(%#v) = nil, want an error", spec)
			}
		})
	}
}

func TestLookPath(t *testing.T) {
	executables := map[string]bool{"/usr/bin/tool": true, "/bin/tool": true}
	isExecutable := func(p string) bool { return executables[p] }

	got, err := LookPath("tool", "/sbin:/usr/bin:/bin", isExecutable)
	if err != nil || got != "/usr/bin/tool" {
		t.Errorf("LookPath(tool) = %q, %v; want /usr/bin/tool", got, err)
	}
	got, err = LookPath("./rel/tool", "/bin", isExecutable)
	if err != nil || got != "./rel/tool" {
		t.Errorf("LookPath(./rel/tool) = %q, %v; want the name unchanged", got, err)
	}
	_, err = LookPath("missing", "/bin", isExecutable)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("LookPath(missing) error = %v, want one naming the command", err)
	}
}

func TestWithoutHold(t *testing.T) {
	env := []string{"PATH=/bin", HoldEnv + "=abc", "HOME=/root", HoldEnv + "X=kept", HoldEnv + "="}
	got := WithoutHold(env)
	want := []string{"PATH=/bin", "HOME=/root", HoldEnv + "X=kept"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WithoutHold(%q) = %q, want %q", env, got, want)
	}
}

package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	fwresource "github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

func TestParseSeccompAction(t *testing.T) {
	cases := []struct {
		text   string
		inRule bool
		want   protocol.ProfileAction
	}{
		{"errno", false, protocol.ProfileAction{Action: "errno", Errno: 38, Text: "errno"}},
		{"errno 1", false, protocol.ProfileAction{Action: "errno", Errno: 1, Text: "errno 1"}},
		{"errno 4094", true, protocol.ProfileAction{Action: "errno", Errno: 4094, Text: "errno 4094"}},
		{"kill", false, protocol.ProfileAction{Action: "kill", Text: "kill"}},
		{"trap", true, protocol.ProfileAction{Action: "trap", Text: "trap"}},
		{"allow", true, protocol.ProfileAction{Action: "allow", Text: "allow"}},
	}
	for _, c := range cases {
		got, err := parseSeccompAction(c.text, c.inRule)
		if err != nil || got != c.want {
			t.Errorf("parseSeccompAction(%q, %v) = %+v, %v; want %+v", c.text, c.inRule, got, err, c.want)
		}
	}
}

func TestParseSeccompActionRejects(t *testing.T) {
	cases := []struct {
		text   string
		inRule bool
	}{
		{"allow", false},
		{"errno 0", false},
		{"errno 4095", true},
		{"errno 01", true},
		{"errno x", true},
		{"kill 1", true},
		{"log", true},
		{"kill_process", false},
	}
	for _, c := range cases {
		if got, err := parseSeccompAction(c.text, c.inRule); err == nil {
			t.Errorf("parseSeccompAction(%q, %v) = %+v; want an error", c.text, c.inRule, got)
		}
	}
}

func TestSeccompNumber(t *testing.T) {
	maxUint64, _ := new(big.Float).SetString("18446744073709551615")
	tooLarge, _ := new(big.Float).SetString("18446744073709551616")
	cases := []struct {
		value *big.Float
		want  uint64
		ok    bool
	}{
		{big.NewFloat(0), 0, true},
		{big.NewFloat(1 << 40), 1 << 40, true},
		{maxUint64, 1<<64 - 1, true},
		{tooLarge, 0, false},
		{big.NewFloat(-1), 0, false},
		{big.NewFloat(1.5), 0, false},
	}
	for _, c := range cases {
		got, err := seccompNumber(types.NumberValue(c.value))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("seccompNumber(%s) = %d, %v; want %d, ok %v", c.value.String(), got, err, c.want, c.ok)
		}
	}
}

func TestSeccompProblemPath(t *testing.T) {
	rule2 := path.Root("rules").AtListIndex(2)
	cases := []struct {
		problem seccomp.Problem
		want    path.Path
	}{
		{seccomp.Problem{Field: "default_action", Rule: -1, Arg: -1, Attribute: "errno"}, path.Root("default_action")},
		{seccomp.Problem{Field: "syscalls", Rule: -1, Arg: -1, Syscall: "reed"},
			path.Root("syscalls").AtSetValue(types.StringValue("reed"))},
		{seccomp.Problem{Field: "rules", Rule: 2, Arg: -1, Attribute: "syscall"}, rule2.AtName("syscall")},
		{seccomp.Problem{Field: "rules", Rule: 2, Arg: -1, Attribute: "errno"}, rule2.AtName("action")},
		{seccomp.Problem{Field: "rules", Rule: 2, Arg: -1, Attribute: "args"}, rule2.AtName("args")},
		{seccomp.Problem{Field: "rules", Rule: 2, Arg: -1}, rule2},
		{seccomp.Problem{Field: "rules", Rule: 2, Arg: 1, Attribute: "mask"},
			rule2.AtName("args").AtListIndex(1).AtName("mask")},
		{seccomp.Problem{Field: "rules", Rule: 2, Arg: 0, Attribute: "index"},
			rule2.AtName("args").AtListIndex(0).AtName("index")},
	}
	for _, c := range cases {
		if got := seccompProblemPath(c.problem); !got.Equal(c.want) {
			t.Errorf("seccompProblemPath(%s) = %s; want %s", c.problem.Path(), got, c.want)
		}
	}
}

func TestSeccompProfileMetadataConversion(t *testing.T) {
	ctx := context.Background()
	m := testSeccompModel(t, "x86_64", []string{"write", "read"},
		testSeccompRule("openat", "errno 13", testSeccompArg(2, "masked_eq", 1, ptr(uint64(3)))),
		testSeccompRule("kill", "kill"))
	metadata, diags := seccompProfileMetadata(ctx, m, seccomp.ArchX86_64, []string{"close", "read"})
	if diags.HasError() {
		t.Fatalf("seccompProfileMetadata: %v", diags)
	}
	if strings.Join(metadata.Syscalls, ",") != "read,write" {
		t.Errorf("Syscalls = %v; want sorted [read write]", metadata.Syscalls)
	}
	if strings.Join(metadata.RuntimeBase, ",") != "close,read" {
		t.Errorf("RuntimeBase = %v; want [close read]", metadata.RuntimeBase)
	}
	if metadata.DefaultAction != (protocol.ProfileAction{Action: "errno", Errno: 38, Text: "errno 38"}) {
		t.Errorf("DefaultAction = %+v", metadata.DefaultAction)
	}
	if len(metadata.Rules) != 2 || metadata.Rules[0].Action.Errno != 13 || metadata.Rules[1].Syscall != "kill" {
		t.Fatalf("Rules = %+v; want openat errno 13, then kill", metadata.Rules)
	}
	arg := metadata.Rules[0].Args[0]
	if arg.Index != 2 || arg.Op != "masked_eq" || arg.Value != 1 || arg.Mask == nil || *arg.Mask != 3 {
		t.Errorf("Args[0] = %+v; want index 2, masked_eq, 1, mask 3", arg)
	}

	profile := metadata.SeccompProfile()
	if strings.Join(profile.Syscalls, ",") != "close,read,write" {
		t.Errorf("profile syscalls = %v; want the base and the configured names once each", profile.Syscalls)
	}
}

// TestRenderSeccompPolicy covers the plan: a known architecture renders the policy, its
// SHA-256 and a content-addressed path.
func TestRenderSeccompPolicy(t *testing.T) {
	ctx := context.Background()
	m := testSeccompModel(t, "x86_64", []string{"read"})
	if _, diags := renderSeccompPolicy(ctx, &m, "x86_64"); diags.HasError() {
		t.Fatalf("renderSeccompPolicy: %v", diags)
	}
	policy := m.Policy.ValueString()
	if !strings.HasPrefix(policy, "2\nallowlist errno 38\n") || !strings.Contains(policy, "\nread\n") {
		t.Errorf("policy = %q; want an errno 38 allowlist with read", policy)
	}
	if sum := sha256.Sum256([]byte(policy)); m.SHA256.ValueString() != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 = %s; want the SHA-256 of the policy", m.SHA256.ValueString())
	}
	wantPath := "/var/lib/iotfleet/profiles/web/" + m.SHA256.ValueString() + ".policy"
	if m.Path.ValueString() != wantPath {
		t.Errorf("path = %s; want %s", m.Path.ValueString(), wantPath)
	}
	base, _ := seccomp.RuntimeBase(seccomp.ArchX86_64)
	if len(m.RuntimeBase.Elements()) != len(base) {
		t.Errorf("runtime_base has %d names; want the %d of the x86_64 base", len(m.RuntimeBase.Elements()), len(base))
	}

	// Another syscall changes the content and so the path.
	changed := testSeccompModel(t, "x86_64", []string{"read", "getcwd"})
	if _, diags := renderSeccompPolicy(ctx, &changed, "x86_64"); diags.HasError() {
		t.Fatal(diags)
	}
	if changed.Path.Equal(m.Path) || changed.SHA256.Equal(m.SHA256) {
		t.Errorf("adding a syscall kept path %s; want a new one", m.Path.ValueString())
	}
}

func TestPlanSeccompPolicyWithUnknownArch(t *testing.T) {
	ctx := context.Background()
	m := testSeccompModel(t, "", []string{"reed"})
	if diags := planSeccompPolicy(ctx, &m); diags.HasError() {
		t.Fatalf("planSeccompPolicy: %v", diags)
	}
	if !m.Policy.IsUnknown() || !m.SHA256.IsUnknown() || !m.Path.IsUnknown() || !m.RuntimeBase.IsUnknown() {
		t.Errorf("with an unknown arch, policy, sha256, path and runtime_base must be unknown: %+v", m)
	}
}

func TestPlanSeccompPolicyWithUnknownSyscall(t *testing.T) {
	ctx := context.Background()
	m := testSeccompModel(t, "x86_64", nil)
	m.Syscalls = types.SetValueMust(types.StringType, []attr.Value{types.StringValue("read"), types.StringUnknown()})
	if diags := planSeccompPolicy(ctx, &m); diags.HasError() {
		t.Fatalf("planSeccompPolicy: %v", diags)
	}
	if !m.Policy.IsUnknown() {
		t.Errorf("policy = %s; want unknown while a syscall is unknown", m.Policy)
	}
}

// TestPlanSeccompPolicyProblems checks that each invalid input fails the plan at the
// attribute that holds it, with the reason.
func TestPlanSeccompPolicyProblems(t *testing.T) {
	cases := []struct {
		name     string
		machine  string
		syscalls []string
		rules    []attr.Value
		wantPath path.Path
		wantText string
	}{
		{"unknown name", "x86_64", []string{"reed"}, nil,
			path.Root("syscalls").AtSetValue(types.StringValue("reed")), `did you mean "read"`},
		{"x86_64 only name on arm64", "aarch64", []string{"epoll_ctl_old"}, nil,
			path.Root("syscalls").AtSetValue(types.StringValue("epoll_ctl_old")), "only on x86_64"},
		{"compat only name", "x86_64", []string{"mmap2"}, nil,
			path.Root("syscalls").AtSetValue(types.StringValue("mmap2")), "compat ABI"},
		{"duplicate rules", "x86_64", nil, []attr.Value{
			testSeccompRule("mkdirat", "errno 1", testSeccompArg(0, "eq", 1, nil)),
			testSeccompRule("mkdirat", "errno 1", testSeccompArg(0, "eq", 1, nil))},
			path.Root("rules").AtListIndex(1), "duplicates rules[0]"},
		{"rule and syscall", "x86_64", []string{"mkdirat"}, []attr.Value{testSeccompRule("mkdirat", "kill")},
			path.Root("rules").AtListIndex(0).AtName("syscall"), "also in syscalls"},
		{"mask without masked_eq", "x86_64", nil, []attr.Value{
			testSeccompRule("personality", "allow", testSeccompArg(1, "eq", 1, ptr(uint64(1))))},
			path.Root("rules").AtListIndex(0).AtName("args").AtListIndex(0).AtName("mask"), "only to operator masked_eq"},
		{"argument compared twice", "x86_64", nil, []attr.Value{
			testSeccompRule("personality", "allow", testSeccompArg(1, "eq", 1, nil), testSeccompArg(1, "ne", 2, nil))},
			path.Root("rules").AtListIndex(0).AtName("args").AtListIndex(1).AtName("index"), "already compared"},
		{"wide value on arm", "armv7l", nil, []attr.Value{
			testSeccompRule("personality", "allow", testSeccompArg(1, "eq", 1<<40, nil))},
			path.Root("rules").AtListIndex(0).AtName("args").AtListIndex(0).AtName("value"), "32-bit"},
		{"rule for a base syscall", "x86_64", nil, []attr.Value{testSeccompRule("close", "errno 1")},
			path.Root("rules").AtListIndex(0).AtName("syscall"), "runtime base"},
		{"rule action equals default", "x86_64", nil, []attr.Value{testSeccompRule("personality", "errno")},
			path.Root("rules").AtListIndex(0).AtName("action"), "default action"},
		{"unsupported machine", "mips", []string{"read"}, nil, path.Root("device").AtName("arch"), "mips"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := testSeccompModel(t, c.machine, c.syscalls, c.rules...)
			diags := planSeccompPolicy(context.Background(), &m)
			if !diags.HasError() {
				t.Fatalf("planSeccompPolicy succeeded with policy %q; want an error", m.Policy.ValueString())
			}
			found := false
			for _, d := range diags.Errors() {
				withPath, ok := d.(interface{ Path() path.Path })
				if ok && withPath.Path().Equal(c.wantPath) && strings.Contains(d.Detail(), c.wantText) {
					found = true
				}
			}
			if !found {
				t.Errorf("no error at %s containing %q; got %v", c.wantPath, c.wantText, diags)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// testSeccompModel returns a planned profile "web" on a device whose `uname -m` is machine
// ("" for unknown), with the schema's defaults.
func testSeccompModel(t *testing.T, machine string, syscalls []string, rules ...attr.Value) seccompProfileModel {
	t.Helper()
	arch := types.StringValue(machine)
	if machine == "" {
		arch = types.StringUnknown()
	}
	device := types.ObjectValueMust(targetAttrTypes, map[string]attr.Value{
		"host": types.StringValue("192.0.2.10"), "port": types.Int64Value(22), "user": types.StringValue("root"),
		"host_key": types.StringNull(), "state_dir": types.StringValue("/var/lib/iotfleet"),
		"lxc_path": types.StringValue("/var/lib/lxc"), "arch": arch,
	})
	set, diags := seccompStringSet(syscalls)
	if diags.HasError() {
		t.Fatal(diags)
	}
	ruleType := types.ObjectType{AttrTypes: seccompRuleAttrTypes}
	ruleList := types.ListNull(ruleType)
	if len(rules) > 0 {
		ruleList = types.ListValueMust(ruleType, rules)
	}
	return seccompProfileModel{
		ID: types.StringUnknown(), Device: device, Name: types.StringValue("web"),
		DefaultAction: types.StringValue(seccompDefaultActionText), Syscalls: set, Rules: ruleList,
		IncludeRuntimeBase: types.BoolValue(true), AllowCompatABIs: types.BoolValue(false),
		RuntimeBase: types.SetUnknown(types.StringType), Policy: types.StringUnknown(),
		SHA256: types.StringUnknown(), Path: types.StringUnknown(),
	}
}

func testSeccompRule(syscall, action string, args ...attr.Value) attr.Value {
	argType := types.ObjectType{AttrTypes: seccompArgAttrTypes}
	argList := types.ListNull(argType)
	if len(args) > 0 {
		argList = types.ListValueMust(argType, args)
	}
	return types.ObjectValueMust(seccompRuleAttrTypes, map[string]attr.Value{
		"syscall": types.StringValue(syscall), "action": types.StringValue(action), "args": argList,
	})
}

func testSeccompArg(index int64, op string, value uint64, mask *uint64) attr.Value {
	maskValue := types.NumberNull()
	if mask != nil {
		maskValue = types.NumberValue(new(big.Float).SetUint64(*mask))
	}
	return types.ObjectValueMust(seccompArgAttrTypes, map[string]attr.Value{
		"index": types.Int64Value(index), "op": types.StringValue(op),
		"value": types.NumberValue(new(big.Float).SetUint64(value)), "mask": maskValue,
	})
}

func TestSeccompProfileSchemaIsValid(t *testing.T) {
	ctx := context.Background()
	var resp fwresource.SchemaResponse
	NewSeccompProfileResource().Schema(ctx, fwresource.SchemaRequest{}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("Schema: %v", resp.Diagnostics)
	}
	if diags := resp.Schema.ValidateImplementation(ctx); diags.HasError() {
		t.Errorf("schema is invalid: %v", diags)
	}
	for name, attribute := range resp.Schema.Attributes {
		if attribute.GetMarkdownDescription() == "" {
			t.Errorf("attribute %s has no description", name)
		}
	}
}

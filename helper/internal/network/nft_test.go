package network

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func natRecord(name, cidr, uplink string) Record {
	return Record{Spec: protocol.NetworkSpec{Name: name, Mode: protocol.NetworkModeNAT, IPv4CIDR: cidr}, Uplink: uplink}
}

func modeRecord(name, mode, cidr string) Record {
	return Record{Spec: protocol.NetworkSpec{Name: name, Mode: mode, IPv4CIDR: cidr}}
}

func TestRenderRulesetGolden(t *testing.T) {
	cases := map[string][]Record{
		"empty":  nil,
		"bridge": {modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24")},
		"isolated_and_nat": {
			modeRecord("iso", protocol.NetworkModeIsolated, "10.81.0.1/24"),
			natRecord("out", "10.82.0.1/24", "eth0"),
		},
		"two_nat_and_bridge": {
			modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"),
			natRecord("nat-a", "10.90.0.1/24", "eth0"),
			natRecord("nat-b", "192.168.7.129/25", "wlan0"),
		},
	}
	for name, records := range cases {
		t.Run(name, func(t *testing.T) {
			got := RenderRuleset(records)
			golden := filepath.Join("testdata", name+".nft")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file: %v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("RenderRuleset differs from %s (run go test -update after checking the change):\n%s", golden, got)
			}
		})
	}
}

func TestRenderRulesetAcceptsBeforeDrops(t *testing.T) {
	records := []Record{
		modeRecord("a-bridge", protocol.NetworkModeBridge, "10.80.0.1/24"),
		natRecord("b-nat", "10.90.0.1/24", "eth0"),
		natRecord("c-nat", "10.91.0.1/24", "eth0"),
	}

	rules := forwardRules(records)

	seenDrop := false
	for _, rule := range rules {
		isDrop := strings.HasSuffix(rule.body, " drop")
		if seenDrop && !isDrop {
			t.Errorf("rule %q comes after a drop; a drop of one network would shadow the accepts of another", rule.body)
		}
		seenDrop = seenDrop || isDrop
	}
	if !seenDrop {
		t.Error("forward chain has no drop rule")
	}
}

// TestRenderRulesetLoads checks every golden file with nft's own parser, in a new network
// namespace so the check cannot touch the machine's rules.
func TestRenderRulesetLoads(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("nft -c needs root")
	}
	for _, tool := range []string{"nft", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: %v", tool, err)
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.nft"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		out, err := exec.Command("unshare", "--net", "nft", "-c", "-f", file).CombinedOutput()
		if err != nil {
			t.Errorf("nft -c -f %s: %v: %s", file, err, out)
		}
	}
}

func TestExpectedComments(t *testing.T) {
	records := []Record{
		modeRecord("iso", protocol.NetworkModeIsolated, "10.81.0.1/24"),
		natRecord("out", "10.82.0.1/24", "eth0"),
	}

	iso := expectedComments(records, "iso")
	out := expectedComments(records, "out")

	if want := []string{"iso: drop from", "iso: drop to"}; !slices.Equal(iso, want) {
		t.Errorf("comments of iso = %q, want %q", iso, want)
	}
	for _, want := range []string{"out: within the network", "out: out through eth0", "out: replies", "out: masquerade through eth0"} {
		if !slices.Contains(out, want) {
			t.Errorf("comments of out = %q, want one %q", out, want)
		}
	}
}

func TestParseRuleComments(t *testing.T) {
	data := []byte(`{"nftables": [{"metainfo": {"version": "1.0.6"}},
		{"table": {"family": "ip", "name": "iotfleet", "handle": 2}},
		{"chain": {"family": "ip", "table": "iotfleet", "name": "forward", "handle": 1}},
		{"rule": {"family": "ip", "table": "iotfleet", "chain": "forward", "handle": 3, "comment": "out: replies", "expr": []}},
		{"rule": {"family": "ip", "table": "iotfleet", "chain": "forward", "handle": 4, "expr": []}}]}`)

	comments, err := parseRuleComments(data)

	if err != nil {
		t.Fatal(err)
	}
	if len(comments) != 1 || !comments["out: replies"] {
		t.Errorf("comments = %v, want only \"out: replies\"", comments)
	}
}

func TestParseRuleCommentsMalformed(t *testing.T) {
	if _, err := parseRuleComments([]byte("table ip iotfleet {")); err == nil {
		t.Error("parseRuleComments accepted text output, want an error")
	}
}

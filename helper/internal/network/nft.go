package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// The product's nftables table. The helper replaces it as a whole in one transaction and never
// touches another table, so rules that other software keeps elsewhere survive.
const (
	nftFamily = "ip"
	nftTable  = "iotfleet"
)

// RenderRuleset returns the nft script that replaces the product's table with the rules of
// records. With no records, the script only deletes the table.
//
// The forward chain accepts first and drops last, because one accept ends the chain for a
// packet: a NAT network's traffic to another NAT network must pass before the drops of either.
// Every rule carries a comment "NAME: purpose", which Get compares to spot rules removed on the
// device. A drop here is final, but an accept is not: another table's drop still applies.
func RenderRuleset(records []Record) string {
	var b strings.Builder
	b.WriteString("# Written by iotfleet-helper. It replaces table " + nftFamily + " " + nftTable +
		" and leaves every other table alone.\n")
	// Declaring the table first makes the delete succeed when it does not exist yet.
	fmt.Fprintf(&b, "table %s %s\ndelete table %s %s\n", nftFamily, nftTable, nftFamily, nftTable)
	if len(records) == 0 {
		return b.String()
	}

	fmt.Fprintf(&b, "table %s %s {\n", nftFamily, nftTable)
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	for _, rule := range forwardRules(records) {
		fmt.Fprintf(&b, "\t\t%s comment %q\n", rule.body, rule.comment)
	}
	b.WriteString("\t}\n")
	b.WriteString("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	for _, rule := range postroutingRules(records) {
		fmt.Fprintf(&b, "\t\t%s comment %q\n", rule.body, rule.comment)
	}
	b.WriteString("\t}\n}\n")
	return b.String()
}

// nftRule is one rule of the product's table.
type nftRule struct {
	body    string
	comment string
}

// ruleComment returns the comment of a rule of the named network.
func ruleComment(name, purpose string) string {
	return name + ": " + purpose
}

// forwardRules returns the forward chain: every network's accepts, then every network's drops.
//
// With br_netfilter loaded, frames bridged between two containers of one network pass this
// chain too, with the bridge as both input and output interface. The first accept of a bridge
// or NAT network lets them through.
func forwardRules(records []Record) []nftRule {
	natBridges := natBridgeSet(records)
	var accepts, drops []nftRule
	for _, record := range records {
		name := quoteInterface(record.Spec.Name)
		if record.Spec.Mode != protocol.NetworkModeIsolated {
			accepts = append(accepts, nftRule{
				fmt.Sprintf("iifname %s oifname %s accept", name, name),
				ruleComment(record.Spec.Name, "within the network"),
			})
		}
		if record.Spec.Mode == protocol.NetworkModeNAT {
			accepts = append(accepts,
				nftRule{
					fmt.Sprintf("iifname %s oifname %s accept", name, quoteInterface(record.Uplink)),
					ruleComment(record.Spec.Name, "out through "+record.Uplink),
				},
				nftRule{
					fmt.Sprintf("oifname %s ct state established,related accept", name),
					ruleComment(record.Spec.Name, "replies"),
				},
			)
			if others := withoutName(natBridges, record.Spec.Name); len(others) > 0 {
				accepts = append(accepts, nftRule{
					fmt.Sprintf("iifname %s oifname %s accept", name, interfaceSet(others)),
					ruleComment(record.Spec.Name, "to other nat networks"),
				})
			}
		}
		drops = append(drops,
			nftRule{fmt.Sprintf("iifname %s drop", name), ruleComment(record.Spec.Name, "drop from")},
			nftRule{fmt.Sprintf("oifname %s drop", name), ruleComment(record.Spec.Name, "drop to")},
		)
	}
	return append(accepts, drops...)
}

// postroutingRules masquerades what NAT networks send out through their uplink. Traffic to
// another of the device's networks leaves through that network's bridge, not the uplink, so it
// keeps its source address.
func postroutingRules(records []Record) []nftRule {
	var rules []nftRule
	for _, record := range records {
		if record.Spec.Mode != protocol.NetworkModeNAT {
			continue
		}
		gateway, err := netip.ParsePrefix(record.Spec.IPv4CIDR)
		if err != nil {
			// Records are validated before they are saved, so this is a damaged file.
			continue
		}
		rules = append(rules, nftRule{
			fmt.Sprintf("ip saddr %s oifname %s masquerade", gateway.Masked(), quoteInterface(record.Uplink)),
			ruleComment(record.Spec.Name, "masquerade through "+record.Uplink),
		})
	}
	return rules
}

// natBridgeSet lists the bridges of NAT networks, in record order.
func natBridgeSet(records []Record) []string {
	var bridges []string
	for _, record := range records {
		if record.Spec.Mode == protocol.NetworkModeNAT {
			bridges = append(bridges, record.Spec.Name)
		}
	}
	return bridges
}

// withoutName returns names without name.
func withoutName(names []string, name string) []string {
	var rest []string
	for _, n := range names {
		if n != name {
			rest = append(rest, n)
		}
	}
	return rest
}

// quoteInterface quotes an interface name for nft. Names are validated to letters, digits,
// '_', '.' and '-', so quoting needs no escapes.
func quoteInterface(name string) string {
	return `"` + name + `"`
}

// interfaceSet renders an anonymous set of interface names.
func interfaceSet(names []string) string {
	quoted := make([]string, len(names))
	for i, name := range names {
		quoted[i] = quoteInterface(name)
	}
	return "{ " + strings.Join(quoted, ", ") + " }"
}

// expectedComments returns the comments of the rules that records give the named network.
func expectedComments(records []Record, name string) []string {
	var comments []string
	prefix := ruleComment(name, "")
	for _, rule := range append(forwardRules(records), postroutingRules(records)...) {
		if strings.HasPrefix(rule.comment, prefix) {
			comments = append(comments, rule.comment)
		}
	}
	return comments
}

// applyRuleset loads script with `nft -f -`, which applies it as one transaction.
func applyRuleset(ctx context.Context, script string) error {
	if _, err := runTool(ctx, "nft", []byte(script), "-f", "-"); err != nil {
		return fmt.Errorf("load nftables rules: %w", err)
	}
	return nil
}

// liveComments returns the comments of the rules in the product's table on the device. A
// missing table has none.
func liveComments(ctx context.Context) (map[string]bool, error) {
	out, err := runTool(ctx, "nft", nil, "-j", "list", "table", nftFamily, nftTable)
	if err != nil {
		// nft reports a missing table as ENOENT on standard error.
		if strings.Contains(err.Error(), "No such file or directory") {
			return map[string]bool{}, nil
		}
		return nil, fmt.Errorf("list nftables table %s %s: %w", nftFamily, nftTable, err)
	}
	return parseRuleComments(out)
}

// parseRuleComments returns the comments of the rules in `nft -j list table` output.
func parseRuleComments(data []byte) (map[string]bool, error) {
	var listing struct {
		Nftables []struct {
			Rule *struct {
				Comment string `json:"comment"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(data, &listing); err != nil {
		return nil, fmt.Errorf("parse nft -j output: %w", err)
	}
	comments := map[string]bool{}
	for _, item := range listing.Nftables {
		if item.Rule != nil && item.Rule.Comment != "" {
			comments[item.Rule.Comment] = true
		}
	}
	return comments, nil
}

module github.com/iotfleet/terraform-provider-iotfleet/helper

go 1.26.0

require (
	github.com/cilium/ebpf v0.22.0
	github.com/iotfleet/terraform-provider-iotfleet v0.0.0
	github.com/lxc/go-lxc v0.0.0-20220627182551-ad3d9f7cb822
	github.com/ulikunitz/xz v0.5.17
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	golang.org/x/sys v0.50.0
)

require golang.org/x/crypto v0.59.0 // indirect

// The helper imports the provider module's protocol package from this checkout.
replace github.com/iotfleet/terraform-provider-iotfleet => ../

// The Go module proxy does not serve go-lxc; Debian's golang-gopkg-lxc-go-lxc.v2-dev ships it.
replace github.com/lxc/go-lxc => /usr/share/gocode/src/gopkg.in/lxc/go-lxc.v2

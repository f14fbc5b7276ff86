// Command terraform-provider-iotfleet is the Terraform provider for fleets of Linux IoT devices
// that run hardened LXC containers.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/provider"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers such as delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/iotfleet/iotfleet",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}

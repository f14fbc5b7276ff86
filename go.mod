module github.com/iotfleet/terraform-provider-iotfleet

go 1.26

//go:build linux

// Command localdevice starts and stops throwaway local test devices: real OpenSSH servers, each
// in its own network and mount namespace, that the provider reaches as Linux devices.
//
// Usage:
//
//	localdevice start [-name NAME] [-root DIR]   start a device and print it as JSON
//	localdevice stop -name NAME [-root DIR]      stop a device and remove everything it owns
//	localdevice list [-root DIR]                 list the devices
//	localdevice env -name NAME [-root DIR]       print shell export lines for a device
//
// It must run as root.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

const usage = `usage: localdevice COMMAND [flags]

Commands:
  start [-name NAME] [-root DIR]  start a device, print it as JSON and leave its sshd running
  stop -name NAME [-root DIR]     stop a device and remove its namespace, veth and folder
  list [-root DIR]                list the devices in DIR
  env -name NAME [-root DIR]      print IOTFLEET_* export lines for shell scripts

DIR defaults to ` + localdevice.DefaultRoot + `. Run as root.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "localdevice:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("missing command")
	}
	command, args := args[0], args[1:]

	flags := flag.NewFlagSet("localdevice "+command, flag.ContinueOnError)
	flags.Usage = func() { fmt.Fprint(flags.Output(), usage) }
	root := flags.String("root", localdevice.DefaultRoot, "folder that holds one subfolder per device")
	name := flags.String("name", "", "device name: up to "+
		strconv.Itoa(localdevice.MaxNameLength)+" characters of a-z, 0-9 and '-'")

	switch command {
	case "start":
		*name = "demo"
		if err := flags.Parse(args); err != nil {
			return err
		}
		return startDevice(ctx, *root, *name, stdout)
	case "stop", "env":
		if err := flags.Parse(args); err != nil {
			return err
		}
		if *name == "" {
			return fmt.Errorf("%s: missing -name; `localdevice list` shows the devices", command)
		}
		if command == "stop" {
			return localdevice.StopName(ctx, *root, *name)
		}
		return printEnv(*root, *name, stdout)
	case "list":
		if err := flags.Parse(args); err != nil {
			return err
		}
		return listDevices(*root, stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", command)
	}
}

// deviceJSON is the output of the start command.
type deviceJSON struct {
	Name           string `json:"name"`
	Address        string `json:"address"`
	Port           int    `json:"port"`
	User           string `json:"user"`
	HostKey        string `json:"host_key"`
	PrivateKeyFile string `json:"private_key_file"`
}

func startDevice(ctx context.Context, root, name string, stdout io.Writer) error {
	if os.Geteuid() != 0 {
		return errors.New("start: must run as root, because a device needs network namespaces " +
			"and mounts; rerun as root, e.g. with sudo")
	}
	d, err := localdevice.Start(ctx, localdevice.Options{Name: name, Root: root})
	if err != nil {
		return err
	}
	encoder := json.NewEncoder(stdout)
	encoder.SetIndent("", "  ")
	return encoder.Encode(deviceJSON{
		Name:           d.Name,
		Address:        d.Address(),
		Port:           d.Port,
		User:           d.User,
		HostKey:        d.HostPublicKey,
		PrivateKeyFile: d.ClientKeyPath,
	})
}

func printEnv(root, name string, stdout io.Writer) error {
	d, err := localdevice.Load(root, name)
	if err != nil {
		return err
	}
	if !d.Running() {
		return fmt.Errorf("env: device %q is not running; restart it with `localdevice stop "+
			"-name %s` and `localdevice start -name %s`", name, name, name)
	}
	vars := []struct{ name, value string }{
		{"IOTFLEET_HOST", d.Address()},
		{"IOTFLEET_PORT", strconv.Itoa(d.Port)},
		{"IOTFLEET_HOST_KEY", d.HostPublicKey},
		{"IOTFLEET_PRIVATE_KEY_FILE", d.ClientKeyPath},
		// The host side of the device's link: outside the device, as a server behind its
		// uplink would be.
		{"IOTFLEET_OUTSIDE_ADDRESS", d.HostIP.String()},
		{"IOTFLEET_DEVICE_DIR", d.Dir},
	}
	for _, v := range vars {
		if _, err := fmt.Fprintf(stdout, "export %s=%s\n", v.name, shellQuote(v.value)); err != nil {
			return err
		}
	}
	return nil
}

func listDevices(root string, stdout io.Writer) error {
	devices, err := localdevice.List(root)
	if err != nil {
		return err
	}
	table := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(table, "NAME\tADDRESS\tSTATUS\tSSHD PID\tFOLDER")
	for _, d := range devices {
		status := "not running"
		if d.Running() {
			status = "running"
		}
		fmt.Fprintf(table, "%s\t%s\t%s\t%d\t%s\n", d.Name, d.Address(), status, d.PID, d.Dir)
	}
	return table.Flush()
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

package provider

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

const (
	recordingAddr        = "iotfleet_seccomp_recording.web"
	recordingProfileAddr = "iotfleet_seccomp_profile.recorded"
	recordingConfinedAdr = "iotfleet_container.confined"

	// recordingWorkload spawns children through a shell: ls reads a folder (getdents64) and
	// the pipe joins cat and wc.
	recordingWorkload = "ls /; cat /etc/passwd | wc -l"
)

// recordingSetup is one configuration of the recording test.
type recordingSetup struct {
	workload   string
	extra      bool // records ionice as the recording "extra", which reads an I/O priority
	extraInUse bool // adds extra's syscalls to the profile
}

// recordingConfig returns a running container "app" that the workload is recorded in and a
// profile from the recording. A container "confined" runs the workload at start under that
// profile and writes its output to /tmp/out and its exit status to /tmp/rc.
func recordingConfig(t *testing.T, dev *localdevice.Device, setup recordingSetup) string {
	recordings := "[iotfleet_seccomp_recording.web.syscalls]"
	if setup.extraInUse {
		recordings = "[iotfleet_seccomp_recording.web.syscalls, iotfleet_seccomp_recording.extra.syscalls]"
	}
	config := deviceConfig(t, dev, dev.HostPublicKey) + fmt.Sprintf(`
resource "iotfleet_container" "app" {
  device  = iotfleet_device.test.target
  name    = "app"
  rootfs  = { busybox = true }
  command = ["/bin/sh", "-c", "while true; do sleep 1; done"]
}

resource "iotfleet_seccomp_recording" "web" {
  device          = iotfleet_device.test.target
  name            = "web"
  container       = iotfleet_container.app.name
  command         = ["/bin/sh", "-c", %q]
  timeout_seconds = 120
}

resource "iotfleet_seccomp_profile" "recorded" {
  device     = iotfleet_device.test.target
  name       = "recorded"
  # The confined container sleeps after the workload.
  syscalls   = ["clock_nanosleep", "nanosleep"]
  recordings = %s
}

resource "iotfleet_container" "confined" {
  device          = iotfleet_device.test.target
  name            = "confined"
  rootfs          = { busybox = true }
  seccomp_profile = iotfleet_seccomp_profile.recorded.path
  command         = ["/bin/sh", "-c", %q]
}
`, setup.workload, recordings, confinedCommand(setup.workload))
	if setup.extra {
		config += `
resource "iotfleet_seccomp_recording" "extra" {
  device    = iotfleet_device.test.target
  name      = "extra"
  container = iotfleet_container.app.name
  command   = ["/bin/sh", "-c", "ionice -p 1"]
}
`
	}
	return config
}

func confinedCommand(workload string) string {
	return fmt.Sprintf("/bin/sh -c '%s' >/tmp/out 2>&1; echo $? >/tmp/rc; exec sleep 100000", workload)
}

func TestAccSeccompRecording_command(t *testing.T) {
	testAccPreCheck(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the expected syscall names (getdents64, pipe2) are those of x86_64")
	}
	dev := testDevice(t)
	first := recordingSetup{workload: recordingWorkload}
	changed := recordingSetup{workload: recordingWorkload + "; mkdir -p /tmp/made"}
	var before recordingSnapshot

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: recordingConfig(t, dev, first),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckTypeSetElemAttr(recordingAddr, "syscalls.x86_64.*", "getdents64"),
					resource.TestCheckResourceAttrWith(recordingAddr, "mechanism", checkMechanismUsed),
					resource.TestCheckResourceAttr(recordingAddr, "runs", "1"),
					resource.TestCheckResourceAttr(recordingAddr, "coverage.x86_64:getdents64", "1"),
					resource.TestCheckResourceAttrWith(recordingAddr, "counts.x86_64:getdents64", seccompNonZero),
					resource.TestCheckResourceAttr(recordingAddr, "path", "/var/lib/iotfleet/recordings/web/result.json"),
					resource.TestCheckTypeSetElemAttr(recordingProfileAddr, "allowed.*", "getdents64"),
					checkRecordedPipe,
					checkRecordingOnDevice(t, dev),
					checkConfinedWorkload(t, dev),
					checkConfinedDenied(t, dev, "mkdir", "mkdirat"),
					before.capture,
				),
			},
			{
				Config:   recordingConfig(t, dev, first),
				PlanOnly: true,
			},
			{
				Config:            recordingConfig(t, dev, first),
				ResourceName:      recordingAddr,
				ImportState:       true,
				ImportStateId:     fmt.Sprintf("root@%s:%d/web", dev.Address(), dev.Port),
				ImportStateVerify: true,
				// The import ID carries no host key and the result stores no timeout.
				ImportStateVerifyIgnore: []string{"device.host_key", "device.arch", "timeout_seconds"},
			},
			{
				// A changed command records again, and the profile allows what the new
				// recording adds.
				Config: recordingConfig(t, dev, changed),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkRecordingOnDevice(t, dev),
					before.checkAdded(t),
				),
			},
			{
				Config: recordingConfig(t, dev, recordingSetup{workload: changed.workload, extra: true}),
				Check:  resource.TestCheckTypeSetElemAttr("iotfleet_seccomp_recording.extra", "syscalls.x86_64.*", "ioprio_get"),
			},
			{
				// Both recordings are known now, so the plan shows each added name.
				Config: recordingConfig(t, dev, recordingSetup{workload: changed.workload, extra: true, extraInUse: true}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						expectRecordedNamesAdded{},
						expectSeccompChangedString{address: recordingConfinedAdr, attribute: "seccomp_profile"},
					},
				},
				Check: checkConfinedWorkload(t, dev),
			},
		},
	})
}

// checkRecordedPipe checks that the recording saw the pipe between cat and wc.
func checkRecordedPipe(s *terraform.State) error {
	names, err := stateSet(s, recordingAddr, "syscalls.x86_64")
	if err != nil {
		return err
	}
	if !slices.Contains(names, "pipe") && !slices.Contains(names, "pipe2") {
		return fmt.Errorf("syscalls.x86_64 has neither pipe nor pipe2: %v", names)
	}
	return nil
}

// checkRecordingOnDevice compares the result file on the device with the state.
func checkRecordingOnDevice(t *testing.T, dev *localdevice.Device) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		resultPath, err := stateAttribute(s, recordingAddr, "path")
		if err != nil {
			return err
		}
		want, err := stateAttribute(s, recordingAddr, "sha256")
		if err != nil {
			return err
		}
		sum, err := deviceExec(t, dev, "sha256sum", resultPath)
		if err != nil {
			return fmt.Errorf("hash the result on the device: %v: %s", err, sum)
		}
		if got := strings.Fields(sum)[0]; got != want {
			return fmt.Errorf("result on the device has SHA-256 %s; state has %s", got, want)
		}
		return nil
	}
}

// checkConfinedWorkload checks that the workload ran to its end under the profile, with the
// output that it has without one.
func checkConfinedWorkload(t *testing.T, dev *localdevice.Device) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		pid, err := stateAttribute(s, recordingConfinedAdr, "init_pid")
		if err != nil {
			return err
		}
		root := "/proc/" + pid + "/root"
		status := mustDeviceExec(t, dev, "cat", "/proc/"+pid+"/status")
		if !strings.Contains(status, "Seccomp:\t2") {
			return fmt.Errorf("the confined container's init runs without a seccomp filter:\n%s", status)
		}
		var rc string
		// The workload writes rc last; an empty or missing file means that it is not done yet.
		for attempt := 0; attempt < 50 && rc == ""; attempt++ {
			rc, _ = deviceExec(t, dev, "cat", root+"/tmp/rc")
		}
		out := mustDeviceExec(t, dev, "cat", root+"/tmp/out")
		if rc != "0" {
			return fmt.Errorf("the workload exited with %q under the profile; output:\n%s", rc, out)
		}
		passwd := mustDeviceExec(t, dev, "cat", root+"/etc/passwd")
		lines := strconv.Itoa(len(strings.Split(passwd, "\n")))
		outLines := strings.Split(out, "\n")
		if got := strings.TrimSpace(outLines[len(outLines)-1]); got != lines {
			return fmt.Errorf("wc -l printed %q under the profile; /etc/passwd has %s lines; output:\n%s", got, lines, out)
		}
		if !slices.Contains(outLines, "bin") || !slices.Contains(outLines, "etc") {
			return fmt.Errorf("ls / printed no bin and etc under the profile; output:\n%s", out)
		}
		return nil
	}
}

// checkConfinedDenied checks that a command whose syscalls the recording never saw fails with
// ENOSYS in the confined container. syscalls are the names the command may use for it.
func checkConfinedDenied(t *testing.T, dev *localdevice.Device, syscalls ...string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		allowed, err := stateSet(s, recordingProfileAddr, "allowed")
		if err != nil {
			return err
		}
		for _, name := range syscalls {
			if slices.Contains(allowed, name) {
				return fmt.Errorf("the profile allows %s, so the test cannot check a denial with it", name)
			}
		}
		out, err := containerExec(t, dev, "confined", "/bin/mkdir", "/tmp/denied")
		if err == nil {
			return fmt.Errorf("mkdir succeeded under a profile without %v: %s", syscalls, out)
		}
		// The device's exec error carries the command's output.
		if !strings.Contains(out+err.Error(), "Function not implemented") {
			return fmt.Errorf("mkdir failed without ENOSYS (errno 38): %v: %s", err, out)
		}
		return nil
	}
}

// recordingSnapshot keeps the recording and the profile of one step for a later step.
type recordingSnapshot struct {
	recorded, allowed []string
}

func (r *recordingSnapshot) capture(s *terraform.State) error {
	var err error
	if r.recorded, err = stateSet(s, recordingAddr, "syscalls.x86_64"); err != nil {
		return err
	}
	r.allowed, err = stateSet(s, recordingProfileAddr, "allowed")
	return err
}

// checkAdded checks that the profile gained exactly the names that the new recording added
// and the old one, the profile's syscalls and the runtime base did not have, and lost exactly
// those that only the old recording had.
func (r *recordingSnapshot) checkAdded(t *testing.T) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		recorded, err := stateSet(s, recordingAddr, "syscalls.x86_64")
		if err != nil {
			return err
		}
		allowed, err := stateSet(s, recordingProfileAddr, "allowed")
		if err != nil {
			return err
		}
		base, err := stateSet(s, recordingProfileAddr, "runtime_base")
		if err != nil {
			return err
		}
		kept := append(base, "clock_nanosleep", "nanosleep")
		wantAdded := seccompDifference(seccompDifference(recorded, r.recorded), kept)
		wantRemoved := seccompDifference(seccompDifference(r.recorded, recorded), kept)
		added := seccompDifference(allowed, r.allowed)
		removed := seccompDifference(r.allowed, allowed)
		if !slices.Contains(added, "mkdir") && !slices.Contains(added, "mkdirat") {
			return fmt.Errorf("the profile gained %v after recording mkdir; want mkdir or mkdirat among them", added)
		}
		if !slices.Equal(added, wantAdded) || !slices.Equal(removed, wantRemoved) {
			return fmt.Errorf("the profile gained %v and lost %v; the recordings differ by +%v -%v",
				added, removed, wantAdded, wantRemoved)
		}
		return nil
	}
}

// expectRecordedNamesAdded checks that the profile's planned allowed set adds exactly the
// names of the recording "extra" that the profile did not allow yet, and removes none.
type expectRecordedNamesAdded struct{}

func (expectRecordedNamesAdded) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	var extra []string
	for _, rs := range req.Plan.PriorState.Values.RootModule.Resources {
		if rs.Address != "iotfleet_seccomp_recording.extra" {
			continue
		}
		syscalls, _ := rs.AttributeValues["syscalls"].(map[string]any)
		extra = seccompPlanStrings(syscalls["x86_64"])
	}
	before, after, err := seccompPlannedValues(req, recordingProfileAddr, "allowed")
	if err != nil {
		resp.Error = err
		return
	}
	beforeSet, afterSet := seccompPlanStrings(before), seccompPlanStrings(after)
	want := seccompDifference(extra, beforeSet)
	added := seccompDifference(afterSet, beforeSet)
	removed := seccompDifference(beforeSet, afterSet)
	switch {
	case len(want) == 0:
		resp.Error = fmt.Errorf("the recording extra (%v) adds nothing to the profile, so the check proves nothing", extra)
	case !slices.Equal(added, want) || len(removed) > 0:
		resp.Error = fmt.Errorf("the plan adds %v and removes %v from allowed; want to add %v and remove nothing",
			added, removed, want)
	}
}

// stateSet returns the sorted elements of a set or list attribute from the flat state.
func stateSet(s *terraform.State, address, key string) ([]string, error) {
	rs, ok := s.RootModule().Resources[address]
	if !ok {
		return nil, fmt.Errorf("%s is not in state", address)
	}
	var out []string
	for name, value := range rs.Primary.Attributes {
		rest, ok := strings.CutPrefix(name, key+".")
		if ok && rest != "#" && !strings.Contains(rest, ".") {
			out = append(out, value)
		}
	}
	slices.Sort(out)
	return out, nil
}

// startRecordingConfig returns a configuration that records the start of a busybox container,
// which is running or stopped.
func startRecordingConfig(t *testing.T, dev *localdevice.Device, running bool) string {
	return deviceConfig(t, dev, dev.HostPublicKey) + fmt.Sprintf(`
resource "iotfleet_container" "app" {
  device  = iotfleet_device.test.target
  name    = "app"
  rootfs  = { busybox = true }
  running = %t
  command = ["/bin/sh", "-c", "ls /; exec sleep 100000"]
}

resource "iotfleet_seccomp_recording" "web" {
  device           = iotfleet_device.test.target
  name             = "web"
  container        = iotfleet_container.app.name
  duration_seconds = 3
  runs             = 2
}
`, running)
}

func TestAccSeccompRecording_start(t *testing.T) {
	testAccPreCheck(t)
	if runtime.GOARCH != "amd64" {
		t.Skip("the expected syscall names (getdents64) are those of x86_64")
	}
	dev := testDevice(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      startRecordingConfig(t, dev, true),
				ExpectError: errorRegexp("Container Must Be Stopped", "`running", "false`"),
			},
			{
				Config: startRecordingConfig(t, dev, false),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckTypeSetElemAttr(recordingAddr, "syscalls.x86_64.*", "getdents64"),
					resource.TestCheckTypeSetElemAttr(recordingAddr, "syscalls.x86_64.*", "execve"),
					resource.TestCheckResourceAttr(recordingAddr, "runs", "2"),
					resource.TestCheckResourceAttr(recordingAddr, "coverage.x86_64:getdents64", "2"),
					resource.TestCheckResourceAttr("iotfleet_container.app", "state", "STOPPED"),
					checkRecordingOnDevice(t, dev),
				),
			},
		},
	})
}

package seccomp

import (
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// resolverQuery is one scmp_sys_resolver run: the arguments and the expected output.
type resolverQuery struct {
	arch     Arch
	args     []string
	expected func(output string) bool
	describe string
}

func TestTablesMatchLibseccomp(t *testing.T) {
	resolver, err := exec.LookPath("scmp_sys_resolver")
	if err != nil {
		t.Skip("scmp_sys_resolver not found (Debian package seccomp), so the tables are not compared with libseccomp")
	}

	var queries []resolverQuery
	for _, arch := range Arches() {
		queries = append(queries, tableQueries(t, arch)...)
	}
	failures := runResolver(t, resolver, queries)
	for _, failure := range failures {
		t.Error(failure)
	}
	t.Logf("compared %d names and numbers with %s", len(queries), resolver)
}

// tableQueries checks every name of arch in both directions and each alias left out of the
// table as unknown to libseccomp. libseccomp resolves the multiplexed x86 names to negative
// pseudo numbers, which scmp_sys_resolver -t translates to the multiplexer's number, so those
// are checked by name through their multiplexer and by number as usual.
func tableQueries(t *testing.T, arch Arch) []resolverQuery {
	t.Helper()
	var queries []resolverQuery
	for _, name := range Names(arch) {
		nr, _ := Lookup(arch, name)
		queries = append(queries, resolverQuery{
			arch: arch, args: []string{strconv.Itoa(nr)},
			expected: equals(name), describe: "name " + name,
		})
		multiplexer, multiplexed := x86Multiplexed[name]
		if arch != ArchX86 || !multiplexed {
			queries = append(queries, resolverQuery{
				arch: arch, args: []string{name},
				expected: equals(strconv.Itoa(nr)), describe: "number " + strconv.Itoa(nr),
			})
			continue
		}
		multiplexerNr, ok := Lookup(ArchX86, multiplexer)
		if !ok {
			t.Fatalf("x86 table has no %s, the multiplexer of %s", multiplexer, name)
		}
		queries = append(queries, resolverQuery{
			arch: arch, args: []string{"-t", name},
			expected: equals(strconv.Itoa(multiplexerNr)), describe: multiplexer + " number " + strconv.Itoa(multiplexerNr),
		})
	}
	for alias := range table(arch).aliases {
		queries = append(queries, resolverQuery{
			arch: arch, args: []string{alias},
			expected: isNegative, describe: "a negative number (unknown name)",
		})
	}
	return queries
}

func equals(want string) func(string) bool {
	return func(got string) bool { return got == want }
}

func isNegative(output string) bool {
	n, err := strconv.Atoi(output)
	return err == nil && n < 0
}

// runResolver runs the queries in parallel, one process each because scmp_sys_resolver
// resolves one name per run, and returns a message per mismatch.
func runResolver(t *testing.T, resolver string, queries []resolverQuery) []string {
	t.Helper()
	var (
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
		next     = make(chan resolverQuery)
	)
	for range 2 * runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range next {
				args := append([]string{"-a", q.arch.LibseccompName()}, q.args...)
				out, err := exec.Command(resolver, args...).Output()
				output := strings.TrimSpace(string(out))
				if err == nil && q.expected(output) {
					continue
				}
				mu.Lock()
				failures = append(failures, "scmp_sys_resolver "+strings.Join(args, " ")+
					": got "+strconv.Quote(output)+", want "+q.describe+errorSuffix(err))
				mu.Unlock()
			}
		}()
	}
	for _, q := range queries {
		next <- q
	}
	close(next)
	wg.Wait()
	return failures
}

func errorSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}

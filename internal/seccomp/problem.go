package seccomp

import (
	"fmt"
	"strings"
)

// Problem is one reason a Profile is invalid. Its location fields let a caller attach the
// message to the attribute that holds the value.
type Problem struct {
	// Field is the snake_case name of the Profile field: "default_action", "syscalls" or
	// "rules".
	Field string
	// Rule is the index into Profile.Rules, or -1 when the problem is not in a rule.
	Rule int
	// Arg is the index into the rule's Args, or -1 when the problem is not in an argument
	// filter.
	Arg int
	// Attribute is the snake_case name of the innermost field at fault, such as "errno",
	// "syscall", "action", "args", "index", "op", "value" or "mask", or "" when the problem
	// concerns Field as a whole.
	Attribute string
	// Syscall is the syscall name concerned, or "".
	Syscall string
	// Message describes the problem, with the value at fault and the fix.
	Message string
}

// Path returns the problem's location in the Profile, such as "rules[2].args[0].mask".
func (p Problem) Path() string {
	var b strings.Builder
	b.WriteString(p.Field)
	if p.Rule >= 0 {
		fmt.Fprintf(&b, "[%d]", p.Rule)
	}
	if p.Arg >= 0 {
		fmt.Fprintf(&b, ".args[%d]", p.Arg)
	}
	if p.Attribute != "" {
		b.WriteString("." + p.Attribute)
	}
	return b.String()
}

func (p Problem) String() string {
	return p.Path() + ": " + p.Message
}

// ValidationError lists every problem Validate found in a Profile.
type ValidationError struct {
	Arch     Arch
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("invalid seccomp profile for %s: %s", e.Arch, strings.Join(parts, "; "))
}

// problemList collects problems with their location while Validate walks a Profile.
type problemList struct {
	problems []Problem
}

func (l *problemList) add(p Problem, format string, args ...any) {
	p.Message = fmt.Sprintf(format, args...)
	l.problems = append(l.problems, p)
}

func defaultActionAt(attribute string) Problem {
	return Problem{Field: "default_action", Rule: -1, Arg: -1, Attribute: attribute}
}

func syscallsAt(name string) Problem {
	return Problem{Field: "syscalls", Rule: -1, Arg: -1, Syscall: name}
}

func ruleAt(rule int, attribute, name string) Problem {
	return Problem{Field: "rules", Rule: rule, Arg: -1, Attribute: attribute, Syscall: name}
}

func argAt(rule, arg int, attribute, name string) Problem {
	return Problem{Field: "rules", Rule: rule, Arg: arg, Attribute: attribute, Syscall: name}
}

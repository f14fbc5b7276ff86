package server

import (
	"path"
	"regexp"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// devicePathPattern admits the same conservative character set as the provider's checks of
// state_dir and lxc_path.
var devicePathPattern = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)

// maxPathBytes caps device paths well below PATH_MAX, which is 4096 on Linux.
const maxPathBytes = 1024

// ValidatePath checks that p, the value of the request field named field, is a clean absolute
// path below / made of letters, digits, '.', '_', '-' and '/'. It returns a CodeInvalid error
// naming the field otherwise.
func ValidatePath(field, p string) *protocol.Error {
	switch {
	case p == "":
		return protocol.Errorf(protocol.CodeInvalid, "%s is missing; set it to an absolute path", field)
	case len(p) > maxPathBytes:
		return protocol.Errorf(protocol.CodeInvalid,
			"%s is %d bytes long, more than the limit of %d; use a shorter path", field, len(p), maxPathBytes)
	case !devicePathPattern.MatchString(p):
		return protocol.Errorf(protocol.CodeInvalid,
			"invalid %s %q: use an absolute path made of letters, digits, '.', '_', '-' and '/'", field, p)
	case p == "/":
		return protocol.Errorf(protocol.CodeInvalid, "invalid %s %q: use a folder below /", field, p)
	case hasDotDot(p):
		return protocol.Errorf(protocol.CodeInvalid, "invalid %s %q: '..' segments are not allowed", field, p)
	case path.Clean(p) != p:
		return protocol.Errorf(protocol.CodeInvalid,
			"invalid %s %q: use the clean form %q, without a trailing slash, '//' or '.' segments",
			field, p, path.Clean(p))
	}
	return nil
}

func hasDotDot(p string) bool {
	for _, segment := range strings.Split(p, "/") {
		if segment == ".." {
			return true
		}
	}
	return false
}

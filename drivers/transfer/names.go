package transfer

import (
	"fmt"
	"mime"
	"path"
	"strings"

	"github.com/stowage/storage"
)

// ContentType returns given when it is set, else the type that the name's
// extension suggests, else "application/octet-stream".
func ContentType(name, given string) string {
	if given != "" {
		return given
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// Metadata returns a copy of m with lower-case keys, as every driver hands
// metadata back. Empty keys, keys that are not HTTP header tokens, and two
// keys differing only in case give storage.ErrInvalidArgument.
func Metadata(m map[string]string) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		lk := strings.ToLower(k)
		if !isToken(lk) {
			return nil, fmt.Errorf("%w: metadata key %q is not a header token", storage.ErrInvalidArgument, k)
		}
		if _, dup := out[lk]; dup {
			return nil, fmt.Errorf("%w: metadata key %q given twice in different cases", storage.ErrInvalidArgument, lk)
		}
		out[lk] = v
	}
	return out, nil
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

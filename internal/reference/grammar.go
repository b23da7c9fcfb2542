package reference

import "strings"

// The grammar of a reference, as distribution/reference v0.6 defines it:
//
//	reference  := name [ ":" tag ] [ "@" digest ]
//	name       := [ domain "/" ] component { "/" component }
//	domain     := host [ ":" port ]
//	host       := label { "." label } | "[" { hexdigit | ":" }+ "]"
//	label      := alnum | alnum { alnum | "-" } alnum        (either case)
//	component  := lower { separator lower }   lower := { [a-z0-9] }+
//	separator  := "." | "_" | "__" | { "-" }+
//	tag        := [A-Za-z0-9_] { [A-Za-z0-9_.-] }            (at most 128)
//	digest     := algorithm ":" { hexdigit }32+
//	algorithm  := alpha { alnum } { [-_+.] alpha { alnum } }
//
// It is checked by hand rather than with regular expressions: compiling
// them is what made the upstream package's init cost ~0.5 ms in every
// corral process. Each function below accepts exactly the language of the
// corresponding upstream expression; the differential test holds them to it.

const maxTagLen = 128

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// isWord is regexp's ASCII \w.
func isWord(c byte) bool { return isAlnum(c) || c == '_' }

// allBytes reports whether s is non-empty and every byte satisfies ok.
func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return s != ""
}

// validComponent reports whether s is one path component: runs of [a-z0-9]
// joined by single separators.
func validComponent(s string) bool {
	for {
		n := 0
		for n < len(s) && isLowerAlnum(s[n]) {
			n++
		}
		if n == 0 {
			return false // empty, or a separator not followed by alnum
		}
		if s = s[n:]; s == "" {
			return true
		}
		sep := separatorLen(s)
		if sep == 0 {
			return false
		}
		s = s[sep:]
	}
}

// separatorLen is the length of the separator at the start of s, or 0 if s
// does not start with one. "__" counts as one separator, "___" does not.
func separatorLen(s string) int {
	switch {
	case s == "":
		return 0
	case s[0] == '.':
		return 1
	case s[0] == '_':
		if len(s) > 1 && s[1] == '_' {
			return 2
		}
		return 1
	case s[0] == '-':
		n := 1
		for n < len(s) && s[n] == '-' {
			n++
		}
		return n
	}
	return 0
}

// validRemoteName reports whether s is one or more components joined by "/".
func validRemoteName(s string) bool {
	for {
		comp, rest, more := strings.Cut(s, "/")
		if !validComponent(comp) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// validDomain reports whether s is a host (DNS-like name or bracketed IPv6
// literal) with an optional numeric port.
func validDomain(s string) bool {
	var host, port string
	hasPort := false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host, port = s[:end+1], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port, hasPort = port[1:], true
		}
		if !allBytes(host[1:end], func(c byte) bool { return isHex(c) || c == ':' }) {
			return false
		}
	} else {
		host, port, hasPort = strings.Cut(s, ":")
		if !validHostName(host) {
			return false
		}
	}
	return !hasPort || allBytes(port, isDigit)
}

// validHostName reports whether s is dot-separated labels of letters, digits
// and inner hyphens.
func validHostName(s string) bool {
	for {
		label, rest, more := strings.Cut(s, ".")
		if label == "" || !isAlnum(label[0]) || !isAlnum(label[len(label)-1]) ||
			!allBytes(label, func(c byte) bool { return isAlnum(c) || c == '-' }) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// splitName splits a name into its domain ("" if none) and path. A leading
// component is the domain when it is a valid domain and the rest a valid
// path; otherwise the whole name must be a path.
func splitName(name string) (domain, path string, ok bool) {
	if d, p, found := strings.Cut(name, "/"); found && validDomain(d) && validRemoteName(p) {
		return d, p, true
	}
	if validRemoteName(name) {
		return "", name, true
	}
	return "", "", false
}

// validTag reports whether s is a tag: a word character then up to 127 word
// characters, dots or hyphens.
func validTag(s string) bool {
	if s == "" || len(s) > maxTagLen || !isWord(s[0]) {
		return false
	}
	return allBytes(s, func(c byte) bool { return isWord(c) || c == '.' || c == '-' })
}

// validDigestSyntax reports whether s looks like a digest: an algorithm of
// letter-led alphanumeric parts joined by [-_+.], a colon, and at least 32
// hex digits. go-digest then checks the algorithm and the length.
func validDigestSyntax(s string) bool {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || len(hex) < 32 || !allBytes(hex, isHex) {
		return false
	}
	for {
		i := 1
		if alg == "" || !isAlpha(alg[0]) {
			return false
		}
		for i < len(alg) && isAlnum(alg[i]) {
			i++
		}
		if i == len(alg) {
			return true
		}
		if !strings.ContainsRune("-_+.", rune(alg[i])) {
			return false
		}
		alg = alg[i+1:]
	}
}

// isIdentifier reports whether s is 64 lowercase hex digits: an image ID,
// which may not be used as a name.
func isIdentifier(s string) bool {
	return len(s) == 64 && allBytes(s, func(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' })
}

// parts is a reference split into its fields, before validation of the
// digest's algorithm and length.
type parts struct {
	domain, path, tag, digest string
}

// split matches s against the whole reference grammar. The split is unique:
// tags and digests hold no '/', and a path component holds no ':' or '@', so
// the name ends at the first ':' or '@' after the last '/'.
func split(s string) (parts, bool) {
	last := strings.LastIndexByte(s, '/') + 1
	end := len(s)
	if i := strings.IndexAny(s[last:], ":@"); i >= 0 {
		end = last + i
	}
	var p parts
	var ok bool
	if p.domain, p.path, ok = splitName(s[:end]); !ok {
		return parts{}, false
	}
	rest := s[end:]
	if strings.HasPrefix(rest, ":") {
		at := strings.IndexByte(rest, '@')
		if at < 0 {
			at = len(rest)
		}
		if p.tag, rest = rest[1:at], rest[at:]; !validTag(p.tag) {
			return parts{}, false
		}
	}
	if rest != "" {
		if rest[0] != '@' || !validDigestSyntax(rest[1:]) {
			return parts{}, false
		}
		p.digest = rest[1:]
	}
	return p, true
}

// matchesLowered reports whether s would parse if it were lowercase, to
// tell an uppercase name from a malformed one.
func matchesLowered(s string) bool {
	_, ok := split(strings.ToLower(s))
	return ok
}

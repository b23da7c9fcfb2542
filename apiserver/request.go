package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/corral-dev/corral/api"
	"github.com/corral-dev/corral/errdefs"
)

// maxJSONBody bounds the JSON body of a request; a larger one is 413.
const maxJSONBody = 10 << 20

// boolValue reads a boolean query parameter as dockerd does: "", "0",
// "no", "false" and "none" (any case) are false, anything else true. The
// docker CLI sends 1/0, docker-py True/False.
func boolValue(q url.Values, key string) bool {
	switch strings.ToLower(strings.TrimSpace(q.Get(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// boolOr is boolValue, or def when the parameter is absent.
func boolOr(q url.Values, key string, def bool) bool {
	if _, ok := q[key]; !ok {
		return def
	}
	return boolValue(q, key)
}

// intOr reads an integer query parameter, def when absent or empty.
func intOr(q url.Values, key string, def int) (int, error) {
	s := strings.TrimSpace(q.Get(key))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errdefs.InvalidArgument(fmt.Errorf("invalid value for %s: %q: must be an integer", key, s))
	}
	return n, nil
}

// filtersOf reads the filters= parameter, in either wire form:
// {"label":{"a=b":true}} (the docker CLI) or {"label":["a=b"]} (docker-py,
// and the CLI below API 1.22).
func filtersOf(q url.Values) (api.Filters, error) {
	var f api.Filters
	s := strings.TrimSpace(q.Get("filters"))
	if s == "" {
		return f, nil
	}
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return f, errdefs.InvalidArgument(fmt.Errorf("invalid filters %q: %w", s, err))
	}
	return f, nil
}

// timeOf reads a timestamp parameter (since, until): Unix seconds with an
// optional fraction ("1700000000.000000001", the CLI's form) or RFC 3339.
// Absent or empty is the zero time.
func timeOf(q url.Values, key string) (time.Time, error) {
	s := strings.TrimSpace(q.Get(key))
	if s == "" {
		return time.Time{}, nil
	}
	sec, frac, hasFrac := strings.Cut(s, ".")
	if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
		var nsec int64
		if hasFrac {
			digits := (frac + "000000000")[:9]
			if nsec, err = strconv.ParseInt(digits, 10, 64); err != nil || len(frac) > 9 {
				return time.Time{}, errdefs.InvalidArgument(fmt.Errorf("invalid value for %s: %q", key, s))
			}
		}
		return time.Unix(n, nsec), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errdefs.InvalidArgument(fmt.Errorf("invalid value for %s: %q: want a Unix timestamp or RFC 3339", key, s))
	}
	return t, nil
}

// checkJSON fails unless the body is declared JSON (or undeclared).
func checkJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errdefs.InvalidArgument(fmt.Errorf("unsupported Content-Type header (%s): must be 'application/json'", ct))
	}
	return nil
}

// errEmptyBody is decodeJSON's answer to a request without a body.
var errEmptyBody = errdefs.InvalidArgument(errors.New("invalid JSON: got EOF while reading request body"))

// decodeJSON reads the JSON body into v, at most maxJSONBody bytes. An
// empty body is errEmptyBody; malformed JSON is 400 with the decoder's
// message, a larger body 413.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkJSON(r); err != nil {
		return err
	}
	if r.Body == nil || r.ContentLength == 0 {
		return errEmptyBody
	}
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	defer body.Close()
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return fmt.Errorf("request body larger than %d bytes: %w", maxJSONBody, err)
		case errors.Is(err, io.EOF):
			return errEmptyBody
		}
		return errdefs.InvalidArgument(fmt.Errorf("invalid JSON: %w", err))
	}
	if dec.More() {
		return errdefs.InvalidArgument(errors.New("unexpected content after JSON"))
	}
	return nil
}

// decodeOptionalJSON is decodeJSON where an empty body leaves v as is.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := decodeJSON(w, r, v); err != nil && !errors.Is(err, errEmptyBody) {
		return err
	}
	return nil
}

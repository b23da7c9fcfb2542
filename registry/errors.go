package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/corral-dev/corral/errdefs"
)

// ErrorInfo is one entry of a registry's error answer
// {"errors": [{"code": ..., "message": ..., "detail": ...}]}.
type ErrorInfo struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// String is "code: message" in words ("manifest unknown: manifest unknown"),
// or one of them when they say the same.
func (e ErrorInfo) String() string {
	code := strings.ToLower(strings.ReplaceAll(e.Code, "_", " "))
	switch {
	case code == "":
		return e.Message
	case e.Message == "" || e.Message == code:
		return code
	}
	return code + ": " + e.Message
}

// ResponseError is a registry's answer with a status that is not a success.
// errors.Is matches it against the errdefs class of its status: 401
// ErrUnauthorized, 403 ErrForbidden, 404 ErrNotFound, 429 and 5xx
// ErrUnavailable, 400 ErrInvalidArgument, 405 ErrNotImplemented.
type ResponseError struct {
	Method     string
	Path       string // the URL's path, without the query
	StatusCode int
	Status     string
	Errors     []ErrorInfo
	// RetryAfter is the delay the registry asked for (429, 503), or 0.
	RetryAfter time.Duration
}

func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("%s %s: %s", e.Method, e.Path, e.Status)
	for _, info := range e.Errors {
		msg += ": " + info.String()
	}
	return msg
}

// Unwrap returns the error class of the status.
func (e *ResponseError) Unwrap() error { return statusClass(e.StatusCode) }

func statusClass(code int) error {
	switch {
	case code == http.StatusUnauthorized:
		return errdefs.ErrUnauthorized
	case code == http.StatusForbidden:
		return errdefs.ErrForbidden
	case code == http.StatusNotFound:
		return errdefs.ErrNotFound
	case code == http.StatusTooManyRequests || code >= 500:
		return errdefs.ErrUnavailable
	case code == http.StatusBadRequest:
		return errdefs.ErrInvalidArgument
	case code == http.StatusMethodNotAllowed:
		return errdefs.ErrNotImplemented
	}
	return nil
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// newResponseError reads and closes resp's body and describes the answer.
// HEAD answers have no body; a 404 on a manifest or blob then says "manifest
// unknown" or "blob unknown", as the registry would have.
func newResponseError(resp *http.Response) *ResponseError {
	defer resp.Body.Close()
	e := &ResponseError{
		Method:     resp.Request.Method,
		Path:       resp.Request.URL.Path,
		StatusCode: resp.StatusCode,
		Status:     resp.Status,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After")),
	}
	if e.Status == "" {
		e.Status = strconv.Itoa(resp.StatusCode)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var answer struct {
		Errors  []ErrorInfo `json:"errors"`
		Details string      `json:"details"` // some token servers
	}
	if json.Unmarshal(body, &answer) == nil {
		e.Errors = answer.Errors
		if len(e.Errors) == 0 && answer.Details != "" {
			e.Errors = []ErrorInfo{{Message: answer.Details}}
		}
	}
	if len(e.Errors) == 0 {
		e.Errors = defaultErrors(resp.StatusCode, e.Path)
	}
	return e
}

// defaultErrors says what distribution would have said in the body that a
// HEAD answer lacks.
func defaultErrors(code int, path string) []ErrorInfo {
	switch code {
	case http.StatusNotFound:
		return unknownFor(path)
	case http.StatusUnauthorized:
		return []ErrorInfo{{Code: "UNAUTHORIZED", Message: "authentication required"}}
	case http.StatusForbidden:
		return []ErrorInfo{{Code: "DENIED", Message: "requested access to the resource is denied"}}
	}
	return nil
}

func unknownFor(path string) []ErrorInfo {
	switch {
	case strings.Contains(path, "/manifests/"):
		return []ErrorInfo{{Code: "MANIFEST_UNKNOWN", Message: "manifest unknown"}}
	case strings.Contains(path, "/blobs/uploads/"):
		return []ErrorInfo{{Code: "BLOB_UPLOAD_UNKNOWN", Message: "blob upload unknown"}}
	case strings.Contains(path, "/blobs/"):
		return []ErrorInfo{{Code: "BLOB_UNKNOWN", Message: "blob unknown"}}
	}
	return nil
}

// retryAfter parses a Retry-After value in seconds (the HTTP-date form is
// ignored); it is capped at maxBackoff.
func retryAfter(v string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs <= 0 {
		return 0
	}
	return min(time.Duration(secs)*time.Second, maxBackoff)
}

// statusOf returns the HTTP status of err when it is a ResponseError, or 0.
func statusOf(err error) int {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

package client

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/corral-dev/corral/errdefs"
)

// ResponseError is an error status the daemon answered: its message is
// what the docker client shows ("Error response from daemon: No such
// image: x:latest"). It carries the errdefs class of its status.
type ResponseError struct {
	StatusCode int
	Message    string
	// APIVersion is the daemon's own API version as its answer named it
	// (Api-Version), "" when it named none.
	APIVersion string
}

func (e *ResponseError) Error() string { return "Error response from daemon: " + e.Message }

// statusClasses maps the statuses the API server answers back to the
// error classes it mapped to them.
var statusClasses = map[int]error{
	http.StatusBadRequest:            errdefs.ErrInvalidArgument,
	http.StatusUnauthorized:          errdefs.ErrUnauthorized,
	http.StatusForbidden:             errdefs.ErrForbidden,
	http.StatusNotFound:              errdefs.ErrNotFound,
	http.StatusConflict:              errdefs.ErrConflict,
	http.StatusNotModified:           errdefs.ErrNotModified,
	http.StatusNotImplemented:        errdefs.ErrNotImplemented,
	http.StatusServiceUnavailable:    errdefs.ErrUnavailable,
	http.StatusRequestEntityTooLarge: errdefs.ErrInvalidArgument,
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 1 << 20

// decodeError reads an error answer: {"message": ...}, else the body's
// text, else the status text.
func decodeError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := ""
	var doc struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.Message != "" {
		msg = doc.Message
	} else {
		msg = strings.TrimSpace(string(body))
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	err := error(&ResponseError{StatusCode: resp.StatusCode, Message: msg, APIVersion: resp.Header.Get("Api-Version")})
	if class, ok := statusClasses[resp.StatusCode]; ok {
		err = errdefs.Wrap(class, err)
	}
	return err
}

package monitor

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// Syslog formats (SyslogConfig.Format), Docker's syslog-format values.
const (
	// SyslogFormatUnix is Docker's default: "<PRI>Jan _2 15:04:05 TAG[PID]: MSG".
	SyslogFormatUnix = ""
	// SyslogFormatRFC3164 adds the host: "<PRI>Jan _2 15:04:05 HOST TAG[PID]: MSG".
	SyslogFormatRFC3164 = "rfc3164"
	// SyslogFormatRFC5424 is "<PRI>1 RFC3339-TIME HOST TAG PID TAG - MSG".
	SyslogFormatRFC5424 = "rfc5424"
	// SyslogFormatRFC5424Micro is RFC5424 with microseconds in the time.
	SyslogFormatRFC5424Micro = "rfc5424micro"
)

// SyslogConfig says where and how the syslog driver sends the container's
// output: each line one message, stdout at severity info and stderr at
// err. The monitor never waits for the receiver: a message it cannot send
// at once (no receiver, a full socket, a stream's bounded queue full) is
// dropped and counted (Status.LogDropped).
type SyslogConfig struct {
	// Network is "unixgram", "unix" (a datagram socket, else a stream
	// one, as syslog(3) tries), "udp" or "tcp".
	Network string `json:"network"`
	// Address is a socket's absolute path, or a numeric ip:port.
	Address string `json:"address"`
	// Facility is the syslog facility, 0 (kern) to 23 (local7).
	Facility int `json:"facility"`
	// Tag names the container in each message (Docker: the short ID).
	Tag string `json:"tag"`
	// Format is one of the SyslogFormat constants.
	Format string `json:"format,omitempty"`
}

// maxSyslogTag bounds the tag (RFC 5424's APP-NAME is at most 48
// characters; Docker does not bound it, syslog receivers truncate it).
const maxSyslogTag = 256

// check refuses a log config the monitor cannot run with.
func (l *LogConfig) check() error {
	switch l.Driver {
	case "", "json-file", "none":
		if l.Syslog != nil {
			return fmt.Errorf("syslog settings with log driver %q", l.Driver)
		}
		return nil
	case "syslog":
		if l.Syslog == nil {
			return errors.New("log driver syslog without its settings")
		}
		return l.Syslog.check()
	default:
		return fmt.Errorf("unknown log driver %q", l.Driver)
	}
}

func (s *SyslogConfig) check() error {
	switch s.Network {
	case "unix", "unixgram":
		if !filepath.IsAbs(s.Address) || len(s.Address) > 107 {
			return fmt.Errorf("syslog address %q: not an absolute socket path of at most 107 bytes", s.Address)
		}
	case "udp", "tcp":
		if _, err := netip.ParseAddrPort(s.Address); err != nil {
			return fmt.Errorf("syslog address %q: want a numeric ip:port: %w", s.Address, err)
		}
	default:
		return fmt.Errorf("syslog network %q: want unix, unixgram, udp or tcp", s.Network)
	}
	if s.Facility < 0 || s.Facility > 23 {
		return fmt.Errorf("syslog facility %d: out of 0..23", s.Facility)
	}
	if s.Tag == "" || len(s.Tag) > maxSyslogTag || strings.ContainsAny(s.Tag, " \t\r\n\x00") {
		return fmt.Errorf("syslog tag %q: want 1 to %d bytes without spaces", s.Tag, maxSyslogTag)
	}
	switch s.Format {
	case SyslogFormatUnix, SyslogFormatRFC3164, SyslogFormatRFC5424, SyslogFormatRFC5424Micro:
	default:
		return fmt.Errorf("syslog format %q: want rfc3164, rfc5424 or rfc5424micro", s.Format)
	}
	return nil
}

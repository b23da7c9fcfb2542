package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/template"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"

	ccontainer "github.com/corral-dev/corral/container"
	"github.com/corral-dev/corral/errdefs"
	"github.com/corral-dev/corral/monitor"
)

// LogConfig is a log driver and its options (HostConfig.LogConfig).
type LogConfig = container.LogConfig

// Log drivers: json-file (the default, rotated at 10 MB keeping 3 files
// unless the daemon's log-opts or the container's say otherwise), syslog
// (the monitor sends each line off the host, so it outlives rm), none.
const (
	logJSONFile = "json-file"
	logSyslog   = "syslog"
	logNone     = "none"
)

// Options every driver takes, as dockerd's builtInLogOpts; the monitor
// never blocks the container on a log receiver, and json-file writes
// synchronously, so neither changes anything here.
var builtinLogOpts = map[string]bool{"mode": true, "max-buffer-size": true}

// Options dockerd's drivers know that this engine does not implement: an
// error naming them rather than an option silently ignored.
var unsupportedLogOpts = map[string]bool{"labels": true, "labels-regex": true, "env": true,
	"env-regex": true, "syslog-tls-ca-cert": true, "syslog-tls-cert": true, "syslog-tls-key": true,
	"syslog-tls-skip-verify": true}

// driverLogOpts are the options each driver takes.
var driverLogOpts = map[string]map[string]bool{
	logJSONFile: {"max-size": true, "max-file": true, "compress": true, "tag": true},
	logSyslog:   {"syslog-address": true, "syslog-facility": true, "syslog-format": true, "tag": true},
}

// syslogFacilities are syslog(3)'s facility names.
var syslogFacilities = map[string]int{"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4,
	"syslog": 5, "lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21,
	"local6": 22, "local7": 23}

// logDrivers are the drivers GET /info lists.
var logDrivers = []string{logJSONFile, logNone, logSyslog}

// loggingDriver is the daemon's default log driver, for GET /info.
func (d *Daemon) loggingDriver() string {
	if d.ctrs == nil || d.ctrs.logDefaults.Type == "" {
		return logJSONFile
	}
	return d.ctrs.logDefaults.Type
}

// defaultSyslogTag is dockerd's: the container's short ID.
const defaultSyslogTag = "{{.ID}}"

// Rotation of json-file when neither the daemon nor the container sets
// it: on, unlike dockerd's json-file, as its local driver does.
const (
	defaultLogMaxSize = "10m"
	defaultLogMaxFile = "3"
)

// daemonLogConfig is the daemon's log-driver and log-opts, checked, with
// json-file's rotation defaults under them, so that a container's
// inspect shows the rotation it gets.
func daemonLogConfig(driver string, opts map[string]string) (LogConfig, error) {
	lc, err := mergeLogConfig(LogConfig{Type: driver, Config: opts}, LogConfig{})
	if err != nil {
		return lc, fmt.Errorf("daemon log-driver and log-opts: %w", err)
	}
	if lc.Type == logJSONFile {
		if _, ok := lc.Config["max-size"]; !ok {
			lc.Config["max-size"] = defaultLogMaxSize
		}
		if _, ok := lc.Config["max-file"]; !ok {
			lc.Config["max-file"] = defaultLogMaxFile
		}
	}
	return lc, nil
}

// mergeLogConfig is a container's log config as dockerd settles it at
// create: the daemon's driver when none is given, the daemon's options
// under the container's when the drivers match, then checked.
func mergeLogConfig(lc, def container.LogConfig) (container.LogConfig, error) {
	if def.Type == "" {
		def.Type = logJSONFile
	}
	out := container.LogConfig{Type: lc.Type, Config: maps.Clone(lc.Config)}
	if out.Type == "" {
		out.Type = def.Type
	}
	if out.Config == nil {
		out.Config = map[string]string{}
	}
	if out.Type == def.Type {
		for k, v := range def.Config {
			if _, ok := out.Config[k]; !ok {
				out.Config[k] = v
			}
		}
	}
	if err := checkLogConfig(out); err != nil {
		return container.LogConfig{}, errdefs.InvalidArgument(err)
	}
	return out, nil
}

// checkLogConfig refuses an unknown driver, an option the driver does not
// take, and a value out of range, in dockerd's words where it has them.
func checkLogConfig(lc container.LogConfig) error {
	if lc.Type == logNone {
		return nil
	}
	known, ok := driverLogOpts[lc.Type]
	if !ok {
		return fmt.Errorf("logger: no log driver named '%s' is registered", lc.Type)
	}
	if err := checkBuiltinLogOpts(lc.Config); err != nil {
		return err
	}
	for k := range lc.Config {
		switch {
		case builtinLogOpts[k]:
		case unsupportedLogOpts[k]:
			return fmt.Errorf("log opt '%s' of the %s log driver is not supported by this engine", k, lc.Type)
		case !known[k]:
			return fmt.Errorf("unknown log opt '%s' for %s log driver", k, lc.Type)
		}
	}
	if lc.Type == logSyslog {
		_, err := syslogSettings(lc.Config)
		return err
	}
	_, err := jsonFileSettings(lc.Config)
	return err
}

func checkBuiltinLogOpts(cfg map[string]string) error {
	switch m := cfg["mode"]; m {
	case "", "blocking", "non-blocking":
	default:
		return fmt.Errorf("logger: logging mode not supported: %s", m)
	}
	if s, ok := cfg["max-buffer-size"]; ok {
		if n, err := parseSize(s); err != nil || n <= 0 {
			return fmt.Errorf("invalid max-buffer-size %q: want a positive size", s)
		}
	}
	return nil
}

// jsonFileSettings reads json-file's options as dockerd's driver does;
// unset ones are the monitor's defaults (10 MB, 3 files).
func jsonFileSettings(cfg map[string]string) (monitor.LogConfig, error) {
	var lc monitor.LogConfig
	if s, ok := cfg["max-size"]; ok {
		n, err := units.FromHumanSize(s)
		if err != nil {
			return lc, fmt.Errorf("max-size: %w", err)
		}
		if n <= 0 {
			return lc, errors.New("max-size must be a positive number")
		}
		lc.MaxSize = n
	}
	if s, ok := cfg["max-file"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil {
			return lc, fmt.Errorf("max-file: invalid number %q", s)
		}
		if n < 1 {
			return lc, errors.New("max-file cannot be less than 1")
		}
		lc.MaxFiles = n
	}
	if s, ok := cfg["compress"]; ok {
		on, err := strconv.ParseBool(s)
		if err != nil {
			return lc, fmt.Errorf("compress: invalid boolean %q", s)
		}
		if on {
			return lc, errors.New("log opt compress=true of the json-file log driver is not supported by this engine")
		}
	}
	if _, err := parseLogTag(cfg["tag"], ""); err != nil {
		return lc, err
	}
	return lc, nil
}

// syslogAddress is a parsed syslog-address.
type syslogAddress struct {
	network string // unix, unixgram, udp, tcp
	addr    string // a path, or host:port with the host still a name
}

// syslogSettings reads the syslog driver's options; the address's host
// is resolved at start (syslogConfig).
func syslogSettings(cfg map[string]string) (*monitor.SyslogConfig, error) {
	addr, err := parseSyslogAddress(cfg["syslog-address"])
	if err != nil {
		return nil, err
	}
	sc := &monitor.SyslogConfig{Network: addr.network, Address: addr.addr, Facility: 3}
	if f, ok := cfg["syslog-facility"]; ok && f != "" {
		n, named := syslogFacilities[f]
		if !named {
			var err error
			if n, err = strconv.Atoi(f); err != nil || n < 0 || n > 23 {
				return nil, errors.New("invalid syslog facility")
			}
		}
		sc.Facility = n
	}
	switch f := cfg["syslog-format"]; f {
	case monitor.SyslogFormatUnix, monitor.SyslogFormatRFC3164, monitor.SyslogFormatRFC5424, monitor.SyslogFormatRFC5424Micro:
		sc.Format = f
	default:
		return nil, errors.New("invalid syslog format")
	}
	if _, err := parseLogTag(cfg["tag"], defaultSyslogTag); err != nil {
		return nil, err
	}
	return sc, nil
}

// parseSyslogAddress reads syslog-address as dockerd does: unix:// and
// unixgram:// name an existing socket, udp:// and tcp:// a host with port
// 514 by default; "" is the host's /dev/log.
func parseSyslogAddress(s string) (syslogAddress, error) {
	if s == "" {
		return syslogAddress{network: "unix", addr: "/dev/log"}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return syslogAddress{}, fmt.Errorf("syslog-address: %w", err)
	}
	switch u.Scheme {
	case "unix", "unixgram":
		if _, err := os.Stat(u.Path); err != nil {
			// dockerd's message, an invalid argument, not a missing object.
			return syslogAddress{}, errors.New(err.Error())
		}
		if len(u.Path) > 107 {
			return syslogAddress{}, fmt.Errorf("syslog-address: socket path %s is longer than 107 bytes", u.Path)
		}
		return syslogAddress{network: u.Scheme, addr: u.Path}, nil
	case "udp", "tcp":
	case "tcp+tls":
		return syslogAddress{}, errors.New("syslog-address: tcp+tls is not supported by this engine")
	default:
		return syslogAddress{}, fmt.Errorf("unsupported scheme: '%s'", u.Scheme)
	}
	host := u.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		if !strings.Contains(err.Error(), "missing port in address") {
			return syslogAddress{}, fmt.Errorf("syslog-address: %w", err)
		}
		host = net.JoinHostPort(host, "514")
	}
	if h, _, _ := net.SplitHostPort(host); h == "" {
		return syslogAddress{}, fmt.Errorf("syslog-address %s: no host", s)
	}
	return syslogAddress{network: u.Scheme, addr: host}, nil
}

// logTagInfo is what a tag template may name, as dockerd's logger.Info.
type logTagInfo struct {
	ID, FullID, Name, ImageID, ImageFullID, ImageName, DaemonName string
}

// parseLogTag parses a tag template (def when it is empty).
func parseLogTag(tag, def string) (*template.Template, error) {
	if tag == "" {
		tag = def
	}
	t, err := template.New("log-tag").Parse(tag)
	if err != nil {
		return nil, fmt.Errorf("log opt tag: %w", err)
	}
	return t, nil
}

// logTag is the tag of c's log messages.
func logTag(c *ccontainer.Container, tag string) (string, error) {
	t, err := parseLogTag(tag, defaultSyslogTag)
	if err != nil {
		return "", err
	}
	img := strings.TrimPrefix(c.ImageID, "sha256:")
	info := logTagInfo{ID: shortID(c.ID), FullID: c.ID, Name: strings.TrimPrefix(c.Name, "/"),
		ImageID: shortID(img), ImageFullID: c.ImageID, ImageName: c.Image, DaemonName: "corral"}
	var b strings.Builder
	if err := t.Execute(&b, info); err != nil {
		return "", fmt.Errorf("log opt tag: %w", err)
	}
	return b.String(), nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// monitorLog is the monitor's log config for c, from c's log config as
// create settled it. A syslog host name is resolved now, once.
func monitorLog(ctx context.Context, c *ccontainer.Container) (monitor.LogConfig, error) {
	lc := c.HostConfig.LogConfig
	switch lc.Type {
	case logNone:
		return monitor.LogConfig{Driver: logNone}, nil
	case logSyslog:
		sc, err := syslogSettings(lc.Config)
		if err != nil {
			return monitor.LogConfig{}, errdefs.InvalidArgument(err)
		}
		if sc.Tag, err = logTag(c, lc.Config["tag"]); err != nil {
			return monitor.LogConfig{}, errdefs.InvalidArgument(err)
		}
		if sc.Network == "udp" || sc.Network == "tcp" {
			if sc.Address, err = resolveSyslog(ctx, sc.Address); err != nil {
				return monitor.LogConfig{}, err
			}
		}
		return monitor.LogConfig{Driver: logSyslog, Syslog: sc}, nil
	}
	out, err := jsonFileSettings(lc.Config)
	if err != nil {
		return monitor.LogConfig{}, errdefs.InvalidArgument(err)
	}
	out.Path = c.LogPath
	return out, nil
}

// resolveSyslog turns host:port into a numeric ip:port.
func resolveSyslog(ctx context.Context, hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("syslog-address %s: %w", hostport, err)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return hostport, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no address")
	}
	if err != nil {
		return "", errdefs.InvalidArgument(fmt.Errorf("syslog-address: resolve %s: %w", host, err))
	}
	return net.JoinHostPort(addrs[0].Unmap().String(), port), nil
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/template"

	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/errdefs"
)

// clientInfo is the client's half of info.
type clientInfo struct {
	Debug bool
	clientVersion
	Plugins  []any
	Warnings []string
}

// engineInfo is what info shows, with docker's JSON shape: the engine's
// fields at the top level.
type engineInfo struct {
	*system.Info `json:",omitempty"`
	ServerErrors []string    `json:",omitempty"`
	ClientInfo   *clientInfo `json:",omitempty"`
	ClientErrors []string    `json:",omitempty"`
	// userName is the user logged in to Docker Hub, if any.
	userName string
}

// MarshalJSON writes the info as docker's does: RegistryConfig with its
// keys sorted, as docker's type marshals itself through a map.
func (i engineInfo) MarshalJSON() ([]byte, error) {
	type plain engineInfo
	b, err := marshalRaw(plain(i))
	if err != nil || i.Info == nil || i.RegistryConfig == nil {
		return b, err
	}
	return sortMember(b, "RegistryConfig")
}

// sortMember re-encodes one member of a JSON object with its keys sorted,
// the others as they are.
func sortMember(obj []byte, name string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if k == name {
			var v any
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				return nil, err
			}
			if raw, err = marshalRaw(v); err != nil { // maps come out sorted
				return nil, err
			}
		}
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		key, _ := marshalRaw(k)
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(raw)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func (c *cli) infoCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:         "info [OPTIONS]",
		Short:       "Display system-wide information",
		Args:        noArgs,
		Annotations: map[string]string{"aliases": "corral system info, corral info"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.info(cmd.Context(), format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func (c *cli) info(ctx context.Context, format string) error {
	info := engineInfo{ClientInfo: &clientInfo{clientVersion: newClientVersion(), Plugins: []any{}}, Info: &system.Info{}}
	info.ClientInfo.APIVersion = ""
	var connErr error
	if needsServerInfo(format, info) {
		connErr = c.addServerInfo(ctx, format, &info)
	}
	if format == "" {
		info.userName = c.hubUser()
		return errors.Join(c.prettyPrintInfo(info), connErr)
	}
	return errors.Join(connErr, c.formatInfo(info, format))
}

// addServerInfo asks the engine; a failure to reach it is the error, any
// other goes into ServerErrors (and, with a format, to stderr).
func (c *cli) addServerInfo(ctx context.Context, format string, info *engineInfo) error {
	ea, err := c.engineAPI(ctx)
	var si system.Info
	if err == nil {
		si, err = ea.Info(ctx)
	}
	if err == nil {
		info.Info = &si
		return nil
	}
	if format == "" {
		info.Info = nil
	}
	if connectFailure(err) {
		return err
	}
	info.ServerErrors = append(info.ServerErrors, err.Error())
	if format != "" {
		fmt.Fprintln(c.err, err)
	}
	return nil
}

// hubUser is the user the credentials file has for Docker Hub, or "".
func (c *cli) hubUser() string {
	creds, err := c.credentials()
	if err != nil {
		return ""
	}
	user, _, err := creds.Credentials("docker.io")
	if err != nil {
		return ""
	}
	return user
}

// connectFailure reports whether err is a failure to reach the engine
// rather than an answer of it.
func connectFailure(err error) bool {
	return errors.Is(err, errdefs.ErrUnavailable) && !strings.HasPrefix(err.Error(), "Error response from daemon:")
}

// placeHolders finds a field in a template: a '.' then a letter.
var placeHolders = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\.[a-zA-Z]`) })

// needsServerInfo reports whether the format shows anything of the
// engine: any but a template that runs on the client's fields alone.
func needsServerInfo(format string, info engineInfo) bool {
	switch format {
	case "", jsonFormat, "{{json .}}":
		return true
	}
	if !placeHolders().MatchString(format) {
		return true
	}
	tmpl, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return true
	}
	sparse := struct {
		ClientInfo   *clientInfo `json:",omitempty"`
		ClientErrors []string    `json:",omitempty"`
	}{info.ClientInfo, info.ClientErrors}
	return tmpl.Execute(io.Discard, sparse) != nil
}

func (c *cli) formatInfo(info engineInfo, format string) error {
	if format == jsonFormat {
		format = "{{json .}}"
	}
	tmpl, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return statusError{code: 64, msg: "template parsing error: " + err.Error()}
	}
	err = tmpl.Execute(c.out, info)
	fmt.Fprintln(c.out)
	return err
}

func (c *cli) prettyPrintInfo(info engineInfo) error {
	out := c.out
	fmt.Fprintln(out, "Client:")
	fmt.Fprintln(out, " Version:   ", info.ClientInfo.Version)
	fmt.Fprintln(out, " Context:   ", info.ClientInfo.Context)
	fmt.Fprintln(out, " Debug Mode:", info.ClientInfo.Debug)
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Server:")
	if info.Info != nil {
		for _, err := range c.printServerInfo(info.Info, info.userName) {
			info.ServerErrors = append(info.ServerErrors, err.Error())
		}
	}
	for _, e := range info.ServerErrors {
		fmt.Fprintln(c.err, "ERROR:", e)
	}
	if len(info.ServerErrors) > 0 {
		return errors.New("errors pretty printing info")
	}
	return nil
}

// printLine prints label and value, unless value is "".
func printLine(w io.Writer, label, value string) {
	if value != "" {
		fmt.Fprintln(w, label, value)
	}
}

// printServerInfo prints the engine's part of info as docker's does.
func (c *cli) printServerInfo(i *system.Info, userName string) []error {
	out := c.out
	fmt.Fprintln(out, " Containers:", i.Containers)
	fmt.Fprintln(out, "  Running:", i.ContainersRunning)
	fmt.Fprintln(out, "  Paused:", i.ContainersPaused)
	fmt.Fprintln(out, "  Stopped:", i.ContainersStopped)
	fmt.Fprintln(out, " Images:", i.Images)
	printLine(out, " Server Version:", i.ServerVersion)
	printLine(out, " Storage Driver:", i.Driver)
	for _, kv := range i.DriverStatus {
		fmt.Fprintf(out, "  %s: %s\n", kv[0], kv[1])
	}
	for _, kv := range i.SystemStatus {
		fmt.Fprintf(out, " %s: %s\n", kv[0], kv[1])
	}
	printLine(out, " Logging Driver:", i.LoggingDriver)
	printLine(out, " Cgroup Driver:", i.CgroupDriver)
	printLine(out, " Cgroup Version:", i.CgroupVersion)
	printPlugins(out, i)
	fmt.Fprintln(out, " Swarm:", i.Swarm.LocalNodeState)
	printSwarm(out, i.Swarm)
	printRuntimes(out, i)
	var errs []error
	if i.OSType == "linux" {
		errs = printLinuxInfo(out, i)
	}
	if i.OSType == "windows" {
		fmt.Fprintln(out, " Default Isolation:", i.Isolation)
	}
	printHost(out, i, userName)
	printRegistries(out, i)
	fmt.Fprintln(out)
	for _, w := range i.Warnings {
		fmt.Fprintln(c.err, w)
	}
	return errs
}

// printRuntimes prints the runtimes, sorted (docker's order is a map's).
func printRuntimes(out io.Writer, i *system.Info) {
	if len(i.Runtimes) == 0 {
		return
	}
	names := make([]string, 0, len(i.Runtimes))
	for name := range i.Runtimes {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintln(out, " Runtimes:", strings.Join(names, " "))
	fmt.Fprintln(out, " Default Runtime:", i.DefaultRuntime)
}

func printPlugins(out io.Writer, i *system.Info) {
	fmt.Fprintln(out, " Plugins:")
	fmt.Fprintln(out, "  Volume:", strings.Join(i.Plugins.Volume, " "))
	fmt.Fprintln(out, "  Network:", strings.Join(i.Plugins.Network, " "))
	if len(i.Plugins.Authorization) != 0 {
		fmt.Fprintln(out, "  Authorization:", strings.Join(i.Plugins.Authorization, " "))
	}
	fmt.Fprintln(out, "  Log:", strings.Join(i.Plugins.Log, " "))
	if len(i.CDISpecDirs) > 0 {
		fmt.Fprintln(out, " CDI spec directories:")
		for _, dir := range i.CDISpecDirs {
			fmt.Fprintf(out, "  %s\n", dir)
		}
	}
	if len(i.DiscoveredDevices) > 0 {
		fmt.Fprintln(out, " Discovered Devices:")
		for _, d := range i.DiscoveredDevices {
			fmt.Fprintf(out, "  %s: %s\n", d.Source, d.ID)
		}
	}
}

// printSwarm prints the little corral's engines say of swarm: a node
// outside a swarm shows nothing more.
func printSwarm(out io.Writer, s swarm.Info) {
	if s.LocalNodeState == swarm.LocalNodeStateInactive || s.LocalNodeState == swarm.LocalNodeStateLocked {
		return
	}
	fmt.Fprintln(out, "  NodeID:", s.NodeID)
	if s.Error != "" {
		fmt.Fprintln(out, "  Error:", s.Error)
	}
	fmt.Fprintln(out, "  Is Manager:", s.ControlAvailable)
	fmt.Fprintln(out, "  Node Address:", s.NodeAddr)
	if len(s.RemoteManagers) > 0 {
		managers := make([]string, 0, len(s.RemoteManagers))
		for _, m := range s.RemoteManagers {
			managers = append(managers, m.Addr)
		}
		sort.Strings(managers)
		fmt.Fprintln(out, "  Manager Addresses:")
		for _, m := range managers {
			fmt.Fprintf(out, "   %s\n", m)
		}
	}
}

func printLinuxInfo(out io.Writer, i *system.Info) []error {
	fmt.Fprintln(out, " Init Binary:", i.InitBinary)
	fmt.Fprintln(out, " containerd version:", i.ContainerdCommit.ID)
	fmt.Fprintln(out, " runc version:", i.RuncCommit.ID)
	fmt.Fprintln(out, " init version:", i.InitCommit.ID)
	if len(i.SecurityOptions) == 0 {
		return nil
	}
	opts, err := decodeSecurityOptions(i.SecurityOptions)
	if err != nil {
		return []error{err}
	}
	fmt.Fprintln(out, " Security Options:")
	for _, o := range opts {
		fmt.Fprintln(out, "  "+o.name)
		for _, kv := range o.options {
			if kv[0] == "profile" {
				fmt.Fprintln(out, "   Profile:", kv[1])
			}
		}
	}
	return nil
}

type securityOption struct {
	name    string
	options [][2]string
}

// decodeSecurityOptions reads "name=seccomp,profile=builtin" entries.
func decodeSecurityOptions(list []string) ([]securityOption, error) {
	var out []securityOption
	for _, entry := range list {
		var so securityOption
		for _, field := range strings.Split(entry, ",") {
			k, v, ok := strings.Cut(field, "=")
			if !ok {
				return nil, fmt.Errorf("invalid security option %q", field)
			}
			if k == "" || v == "" {
				return nil, errors.New("invalid empty security option")
			}
			if k == "name" {
				so.name = v
				continue
			}
			so.options = append(so.options, [2]string{k, v})
		}
		out = append(out, so)
	}
	return out, nil
}

func printHost(out io.Writer, i *system.Info, userName string) {
	printLine(out, " Kernel Version:", i.KernelVersion)
	printLine(out, " Operating System:", i.OperatingSystem)
	printLine(out, " OSType:", i.OSType)
	printLine(out, " Architecture:", i.Architecture)
	fmt.Fprintln(out, " CPUs:", i.NCPU)
	fmt.Fprintln(out, " Total Memory:", units.BytesSize(float64(i.MemTotal)))
	printLine(out, " Name:", i.Name)
	printLine(out, " ID:", i.ID)
	fmt.Fprintln(out, " Docker Root Dir:", i.DockerRootDir)
	fmt.Fprintln(out, " Debug Mode:", i.Debug)
	if i.Debug {
		fmt.Fprintln(out, "  File Descriptors:", i.NFd)
		fmt.Fprintln(out, "  Goroutines:", i.NGoroutines)
		fmt.Fprintln(out, "  System Time:", i.SystemTime)
		fmt.Fprintln(out, "  EventsListeners:", i.NEventsListener)
	}
	printLine(out, " HTTP Proxy:", i.HTTPProxy)
	printLine(out, " HTTPS Proxy:", i.HTTPSProxy)
	printLine(out, " No Proxy:", i.NoProxy)
	printLine(out, " Username:", userName)
	if len(i.Labels) > 0 {
		fmt.Fprintln(out, " Labels:")
		for _, l := range i.Labels {
			fmt.Fprintln(out, "  "+l)
		}
	}
	fmt.Fprintln(out, " Experimental:", i.ExperimentalBuild)
}

func printRegistries(out io.Writer, i *system.Info) {
	rc := i.RegistryConfig
	if rc != nil && (len(rc.InsecureRegistryCIDRs) > 0 || len(rc.IndexConfigs) > 0) {
		fmt.Fprintln(out, " Insecure Registries:")
		names := make([]string, 0, len(rc.IndexConfigs))
		for _, ic := range rc.IndexConfigs {
			if ic != nil && !ic.Secure {
				names = append(names, ic.Name)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintln(out, "  "+n)
		}
		for _, p := range rc.InsecureRegistryCIDRs {
			fmt.Fprintf(out, "  %s/%d\n", p.Addr(), p.Bits())
		}
	}
	if rc != nil && len(rc.Mirrors) > 0 {
		fmt.Fprintln(out, " Registry Mirrors:")
		for _, m := range rc.Mirrors {
			fmt.Fprintln(out, "  "+m)
		}
	}
	fmt.Fprintln(out, " Live Restore Enabled:", i.LiveRestoreEnabled)
	if i.ProductLicense != "" {
		fmt.Fprintln(out, " Product License:", i.ProductLicense)
	}
	if len(i.DefaultAddressPools) > 0 {
		fmt.Fprintln(out, " Default Address Pools:")
		for _, p := range i.DefaultAddressPools {
			fmt.Fprintf(out, "   Base: %s, Size: %d\n", p.Base, p.Size)
		}
	}
}

package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"

	"github.com/corral-dev/corral/api"
)

// Version is corral's version, shown by version and info; cmd/corral sets
// it from its build.
var Version = "dev"

// EngineAPI is the engine-wide calls; client.Client implements it.
type EngineAPI interface {
	Info(ctx context.Context) (system.Info, error)
	ServerVersion(ctx context.Context) (system.VersionResponse, error)
	// Events answers the events as they come; the error channel gets one
	// value (nil at a clean end) when the stream ends.
	Events(ctx context.Context, opts api.EventsOptions) (<-chan events.Message, <-chan error)
}

// engineAPI is the engine's client as an EngineAPI.
func (c *cli) engineAPI(ctx context.Context) (EngineAPI, error) {
	client, err := c.client(ctx)
	if err != nil {
		return nil, err
	}
	ea, ok := client.(EngineAPI)
	if !ok {
		return nil, fmt.Errorf("the engine's client (%T) has no engine calls", client)
	}
	return ea, nil
}

// engineCommands are the commands only at the top level: ps (ls under
// "container"), inspect of any object, and the engine-wide info, version
// and events; systemCommands are info and events again under "system".
func (c *cli) engineCommands() []named {
	return []named{{"ps", c.psCommand}, {"inspect", c.inspectAnyCommand}, {"info", c.infoCommand},
		{"version", c.versionCommand}, {"events", c.eventsCommand}}
}

func (c *cli) systemCommands() []*cobra.Command {
	return []*cobra.Command{c.infoCommand(), c.eventsCommand()}
}

// clientVersion is the client's half of version and info, with docker's
// JSON names.
type clientVersion struct {
	Platform          *struct{ Name string } `json:"Platform,omitempty"`
	Version           string                 `json:"Version,omitempty"`
	APIVersion        string                 `json:"ApiVersion,omitempty"`
	DefaultAPIVersion string                 `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string                 `json:"GitCommit,omitempty"`
	GoVersion         string                 `json:"GoVersion,omitempty"`
	Os                string                 `json:"Os,omitempty"`
	Arch              string                 `json:"Arch,omitempty"`
	BuildTime         string                 `json:"BuildTime,omitempty"`
	Context           string                 `json:"Context"`
}

// newClientVersion describes this binary; the commit and build time come
// from the build's VCS stamp, when there is one.
func newClientVersion() clientVersion {
	v := clientVersion{Version: Version, DefaultAPIVersion: api.APIVersion, GoVersion: runtime.Version(),
		Os: runtime.GOOS, Arch: runtime.GOARCH, Context: "default"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.GitCommit = s.Value[:min(7, len(s.Value))]
			case "vcs.time":
				v.BuildTime = reformatDate(s.Value)
			}
		}
	}
	return v
}

// reformatDate shows an RFC 3339 time as docker does ("Mon Jan  2
// 15:04:05 2006"); anything else as it is.
func reformatDate(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.ANSIC)
	}
	return s
}

const versionTemplate = `{{with .Client -}}
Client:{{with .Platform}}{{if .Name}} {{.Name}}{{end}}{{end}}
 Version:	{{.Version}}
 API version:	{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:	{{.GoVersion}}
 Git commit:	{{.GitCommit}}
 Built:	{{.BuildTime}}
 OS/Arch:	{{.Os}}/{{.Arch}}
 Context:	{{.Context}}
{{- end}}

{{- with .Server}}

Server:{{if .Platform.Name}} {{.Platform.Name}}{{end}}
 {{- range $c := .Components}}
 {{$c.Name}}:
  {{- if eq $c.Name "Engine"}}
  Version:	{{.Version}}
  API version:	{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:	{{index .Details "GoVersion"}}
  Git commit:	{{index .Details "GitCommit"}}
  Built:	{{index .Details "BuildTime"}}
  OS/Arch:	{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:	{{index .Details "Experimental"}}
  {{- else}}
  Version:	{{$c.Version}}
  {{- range $key := sortedKeys $c.Details}}
  {{$key}}:	{{index $c.Details $key}}
  {{- end}}
  {{- end}}
 {{- end}}
{{- end}}`

// versionInfo is what version shows.
type versionInfo struct {
	Client clientVersion
	Server *serverVersion
}

// serverVersion is the engine's answer with docker's field order, which
// its JSON shows.
type serverVersion struct {
	Platform      struct{ Name string }     `json:",omitempty"`
	Components    []system.ComponentVersion `json:",omitempty"`
	Version       string
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:",omitempty"`
	GitCommit     string
	GoVersion     string
	Os            string
	Arch          string
	KernelVersion string `json:",omitempty"`
	Experimental  bool   `json:",omitempty"`
	BuildTime     string `json:",omitempty"`
}

func (c *cli) versionCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the corral version information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.version(cmd.Context(), format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

// version prints the client's version and, if the engine answers, the
// engine's; the engine's failure is the error after the client's part.
func (c *cli) version(ctx context.Context, format string) error {
	switch format {
	case "":
		format = versionTemplate
	case jsonFormat:
		format = "{{json .}}"
	}
	funcs := template.FuncMap{"sortedKeys": func(m map[string]string) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	}}
	tmpl, err := template.New("version").Funcs(templateFuncs).Funcs(funcs).Parse(format)
	if err != nil {
		return statusError{code: 64, msg: "template parsing error: " + err.Error()}
	}
	vi := versionInfo{Client: newClientVersion()}
	vi.Client.APIVersion = api.APIVersion
	ea, err := c.engineAPI(ctx)
	if err == nil {
		var sv system.VersionResponse
		if sv, err = ea.ServerVersion(ctx); err == nil {
			vi.Server = engineComponent(sv)
		}
		if av, ok := ea.(interface{ APIVersion() string }); ok && av.APIVersion() != "" {
			vi.Client.APIVersion = av.APIVersion()
		}
	}
	tw := tabwriter.NewWriter(c.out, 20, 1, 1, ' ', 0)
	terr := tmpl.Execute(tw, vi)
	fmt.Fprintln(tw)
	_ = tw.Flush()
	if err != nil {
		return err
	}
	return terr
}

// engineComponent gives the answer an "Engine" component if it has none
// (older daemons), and shows its build time as docker does.
func engineComponent(v system.VersionResponse) *serverVersion {
	sv := &serverVersion{Platform: struct{ Name string }{v.Platform.Name}, Components: v.Components,
		Version: v.Version, APIVersion: v.APIVersion, MinAPIVersion: v.MinAPIVersion, GitCommit: v.GitCommit,
		GoVersion: v.GoVersion, Os: v.Os, Arch: v.Arch, KernelVersion: v.KernelVersion,
		Experimental: v.Experimental, BuildTime: v.BuildTime}
	for _, comp := range sv.Components {
		if comp.Name == "Engine" {
			if bt, ok := comp.Details["BuildTime"]; ok {
				comp.Details["BuildTime"] = reformatDate(bt)
			}
			return sv
		}
	}
	sv.Components = append(sv.Components, system.ComponentVersion{Name: "Engine", Version: sv.Version,
		Details: map[string]string{
			"ApiVersion": sv.APIVersion, "MinAPIVersion": sv.MinAPIVersion, "GitCommit": sv.GitCommit,
			"GoVersion": sv.GoVersion, "Os": sv.Os, "Arch": sv.Arch, "BuildTime": reformatDate(sv.BuildTime),
			"Experimental": fmt.Sprint(sv.Experimental),
		}})
	return sv
}

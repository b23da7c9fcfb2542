package cli

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestPs(t *testing.T) {
	f := newEngineFake()
	sock := serveEngine(t, f)
	table := "CONTAINER ID   IMAGE                   COMMAND                  CREATED          STATUS                     PORTS                                                                      NAMES\n" +
		"5555aaaa5555   6fd955f66c23            \"\"                       20 minutes ago   Created                                                                                               fresh\n" +
		"777788889999   busybox                 \"sh -c 'echo héllo w…\"   45 minutes ago   Up 45 minutes (Paused)                                                                                wörk\n" +
		"3f4c5e6a7b8c   busybox                 \"httpd -f -p 80 -h /…\"   2 hours ago      Up 2 hours                 0.0.0.0:53->53/udp, 443-444/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp   web\n" +
		"9a8b7c6d5e4f   localhost:5000/db:1.0   \"sleep 3600\"             3 days ago       Exited (0) 5 minutes ago                                                                              db\n"
	tests := []manageCase{
		{args: []string{"ps", "-a"}, out: table, calls: []string{"list all=true limit=-1 size=false filters=[]"}},
		{args: []string{"container", "ls", "-a"}, out: table, calls: []string{"list all=true limit=-1 size=false filters=[]"}},
		{args: []string{"ps", "-q"}, out: "3f4c5e6a7b8c\n", calls: []string{"list all=false limit=-1 size=false filters=[]"}},
		{args: []string{"ps", "-l", "-q", "--no-trunc"}, out: newID + "\n", calls: []string{"list all=false limit=1 size=false filters=[]"}},
		{args: []string{"ps", "-n", "2", "--format", "{{.Names}}"}, out: "fresh\nwörk\n", calls: []string{"list all=false limit=2 size=false filters=[]"}},
		// A template that shows .Size asks for sizes; --size=false says no.
		{args: []string{"ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}: {{.Size}}"}, out: "db: 12B (virtual 4.26MB)\n",
			calls: []string{"list all=true limit=-1 size=true filters=[status]"}},
		{args: []string{"ps", "-a", "--size=false", "--filter", "status=exited", "--format", "{{.Size}}"}, out: "0B\n",
			calls: []string{"list all=true limit=-1 size=false filters=[status]"}},
		{args: []string{"ps", "-q", "--format", "{{.Names}}"}, out: "3f4c5e6a7b8c\n",
			err:   "WARNING: Ignoring custom format, because both --format and --quiet are set.\n",
			calls: []string{"list all=false limit=-1 size=false filters=[]"}},
		{args: []string{"ps", "--format", `table {{.ID}}\t{{.Label "tier"}}\t{{.Mounts}}\t{{.LocalVolumes}}\t{{.Platform}}`},
			out: "CONTAINER ID   tier      MOUNTS                      LOCAL VOLUMES   PLATFORM\n" +
				"3f4c5e6a7b8c   front     webdata0123456…,/srv/conf   1               linux/amd64\n",
			calls: []string{"list all=false limit=-1 size=false filters=[]"}},
		{args: []string{"ps", "--format", "{{.Nope}}"}, code: 1,
			err: "failed to execute template: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *cli.psRow\n"},
		{args: []string{"ps", "--format", "{{"}, code: 1, err: "failed to parse template: template: :1: unclosed action\n"},
		{args: []string{"ps", "--filter", "bogus=x"}, code: 1, err: "Error response from daemon: invalid filter 'bogus'\n",
			calls: []string{"list all=false limit=-1 size=false filters=[bogus]"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) { checkManage(t, f, sock, tc) })
	}
}

func TestDisplayPorts(t *testing.T) {
	ip := netip.MustParseAddr
	tests := []struct {
		ports []container.PortSummary
		want  string
	}{
		{nil, ""},
		{[]container.PortSummary{{PrivatePort: 80, Type: "tcp"}}, "80/tcp"},
		{[]container.PortSummary{{PrivatePort: 81, Type: "tcp"}, {PrivatePort: 80, Type: "tcp"}, {PrivatePort: 82, Type: "tcp"},
			{PrivatePort: 90, Type: "tcp"}}, "80-82/tcp, 90/tcp"},
		{[]container.PortSummary{{IP: ip("0.0.0.0"), PrivatePort: 80, PublicPort: 80, Type: "tcp"},
			{IP: ip("0.0.0.0"), PrivatePort: 81, PublicPort: 81, Type: "tcp"}}, "0.0.0.0:80-81->80-81/tcp"},
		{[]container.PortSummary{{IP: ip("::"), PrivatePort: 80, PublicPort: 8080, Type: "tcp"}}, "[::]:8080->80/tcp"},
		{[]container.PortSummary{{PrivatePort: 53, Type: "udp"}, {PrivatePort: 53, Type: "tcp"}}, "53/tcp, 53/udp"},
	}
	for _, tt := range tests {
		if got := displayPorts(tt.ports); got != tt.want {
			t.Errorf("displayPorts(%v) = %q, want %q", tt.ports, got, tt.want)
		}
	}
}

func TestPsColumns(t *testing.T) {
	tests := []struct {
		c                         container.Summary
		image, names, command, id string
	}{
		{container.Summary{ID: webID, Image: "busybox:latest", ImageID: busyboxID, Names: []string{"/web"}, Command: "sh"},
			"busybox:latest", "web", `"sh"`, "3f4c5e6a7b8c"},
		{container.Summary{Image: "docker.io/library/busybox:1.36@" + busyboxDig, Names: []string{"/a/b", "/b"}},
			"busybox:1.36", "b", `""`, ""},
		{container.Summary{Image: "localhost:5000/x@" + busyboxDig, Names: []string{"/x"}, Command: `echo "hi"` + strings.Repeat(".", 20)},
			"localhost:5000/x", "x", `"echo \"hi\"..........…"`, ""},
		{container.Summary{Image: "", Names: []string{"/x"}}, "<no image>", "x", `""`, ""},
		{container.Summary{Image: "Not A Reference", Names: []string{"/x"}}, "Not A Reference", "x", `""`, ""},
	}
	for _, tt := range tests {
		r := &psRow{c: tt.c, trunc: true}
		if r.Image() != tt.image || r.Names() != tt.names || r.Command() != tt.command || r.ID() != tt.id {
			t.Errorf("%+v: image %q names %q command %q id %q", tt.c, r.Image(), r.Names(), r.Command(), r.ID())
		}
	}
	r := &psRow{c: container.Summary{Names: []string{"/a/b", "/b"}, Image: "docker.io/library/busybox:1.36"}}
	if r.Names() != "a/b,b" || r.Image() != "docker.io/library/busybox:1.36" {
		t.Errorf("untruncated: names %q image %q", r.Names(), r.Image())
	}
	if got := (headerLabels{}).Label("com.example.my-label_x"); got != "my label x" {
		t.Errorf("header of a label column: %q", got)
	}
}

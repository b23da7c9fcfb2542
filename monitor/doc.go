// Package monitor is the Go side of the per-container monitor: Start,
// which runs one, its Client, its files, and the reader of its logs.
//
// The monitor itself is a small C program, cmd/corral-monitor (one runs
// per container, so its memory counts: about 0.1 MiB PSS idle, where a Go
// program takes 0.8 MiB). The daemon starts one per container with Spawn
// and Create (Start is both at once; Spawn starts the process before the
// bundle is written, to overlap its exec with the daemon's work), which
// run it as `corral-monitor monitor DIR` from beside the corral
// binary; Spares keeps one spawned ahead of the next start, as
// `corral-monitor monitor -`, which reads DIR from its go pipe at Create
// (its command line keeps the "-": its directory is its working
// directory). A spare also starts the runtime ahead, as `corral-runc
// standby`, and sends it the container's create instead of spawning a
// runtime then (cmd/corral-monitor/standby.c). Either runs detached from
// the daemon (new session, stdio on /dev/null, re-parented away from it),
// so containers outlive the daemon. It drives
// the OCI runtime through runc's command line, as conmon drives runc:
// corral-runc beside the corral binary, else `corral runtime`. As a child
// subreaper it inherits the container's init and exec processes when the
// runtime's commands exit, and reaps them. It owns their stdio (pipes, or
// the pty master with a terminal), writes the output to a json-file log
// with rotation, records the exit code, exit time and OOM kill in
// exit.json, and exits once the container exited, the exit is recorded and
// attached clients have their output. Before it records the exit it
// deletes the container from the runtime, unless Config.NoDelete leaves
// that to the caller (the daemon calls DeleteFromRuntime in its own
// process, which saves a runtime process at every exit). Its start operation releases the
// created container itself through the runtime's exec.fifo and exec.done
// when the bundle has no poststart hooks (else it runs the runtime's
// start), which saves a runtime process on every start.
//
// # Files
//
// A monitor's directory, StateDir/ID, is its working directory and holds
// monitor.json (its Config), monitor.sock (the control socket, 0600),
// monitor.pid ("PID STARTTIME"), exit.json (ExitStatus, written atomically
// once the container exited), runtime.log (the runtime's warnings and
// errors, JSON lines) and, by default, the log container-json.log with its
// rotated files container-json.log.1, .2, ... While a runtime command
// runs, the files it takes or leaves are there too: init.pid, and an
// exec's exec-N.json (its process), exec-N.pid and exec-N.sock.
//
// # Protocol
//
// Every request is one connection to monitor.sock. The client sends one
// JSON line {"op": ...}; the monitor answers one JSON line {"error",
// "class", "status", "pid", "exitCode", "data"} ("class" carries the errdefs
// class). Operations:
//
//	status                    Status
//	wait                      Status, once the container has exited
//	start                     the created container runs its process
//	attach stdin stdout stderr   then a stream (below)
//	resize h w [exec]         pty window size of the container or an exec
//	signal signal all [exec]  kill(2) the init, every process, or an exec
//	exec exec process stdin detach   pid; then a stream unless detached
//	exec-wait exec            exitCode, once the exec has exited
//	stats                     data: one runtime stats event
//	pause, resume             freeze or thaw the container
//	pids                      data: the container's host pids
//	update resources          change its resource limits
//	logfollow                 then the log's files (below)
//
// After attach and exec the connection carries the process's stdio. From
// the monitor: output as raw bytes with a terminal, otherwise in Docker's
// multiplexed framing (8-byte header [stream 1|2, 0, 0, 0, size uint32
// big-endian], then the payload), so the daemon copies it to a hijacked
// HTTP connection unchanged; the monitor closes the connection when the
// output has ended. From the client: stdin in frames with stream 0; a frame
// of size 0 ends the input (Docker's half-close: the process's stdin closes
// with StdinOnce, output goes on); closing the connection without it is a
// detach. Attach before start sees the output from its first byte.
//
// After logfollow (refused with class conflict when no json-file log is
// being written) the connection carries the files of the log, for a
// follower (LogFiles, ReadLogEntries with Follow): one message of one
// byte 'f' with a read-only descriptor (SCM_RIGHTS, its own file offset)
// of the current file at once, then one for each file the monitor makes,
// sent from rotate() as it makes it, before any later rotation can remove
// it. The send never waits: a follower whose socket cannot take one (it is
// about 278 files behind, with the default socket buffer of 208 KiB) is
// dropped, its connection closed. The monitor closes every follower's
// connection once it has closed the log and written exit.json; the
// follower tells the two ends apart by the exit file and by whether the
// last file it got is the one at the log's path.
//
// An attached client that does not keep up gets a bounded queue
// (Config.AttachBuffer); when it is full the output waits for the client
// (back-pressure, as with dockerd's attach), so no attached client loses
// output; the log is written before the queue. Exec output, which is not
// logged, is written to its one client directly (the process waits for a
// slow client, as in Docker).
//
// # Failures
//
// When the daemon dies, monitors and containers go on; Connect reaches
// them again. When a monitor dies, its container is not supervised: Connect
// and Wait return ErrMonitorDead and Recover kills the container and
// records exit code 255.
package monitor

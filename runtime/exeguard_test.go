package runtime

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/corral-dev/corral/runtime/nsinit"
	"golang.org/x/sys/unix"
)

// envExeguardHelper makes the test binary act as the helper of the
// exeguard tests: "check" runs the checks in the helper's own mount
// namespace, "child" is the process started from the sealed binary.
const envExeguardHelper = "CORRAL_TEST_EXEGUARD"

func TestEscapeLayer(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/":      "/usr/bin/",
		"/a:b/":          `/a\:b/`,
		`/a\b,c/`:        `/a\\b\,c/`,
		"/tmp/x:y:z\\/,": `/tmp/x\:y\:z\\/\,`,
	} {
		if got := escapeLayer(in); got != want {
			t.Errorf("escapeLayer(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSealedSelf runs the checks in a helper in a mount namespace of its
// own: both sealed views hold the running binary and refuse to be written,
// and a process started through sealExecutable runs from a view it cannot
// write either.
func TestSealedSelf(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: overlayfs and the new mount API")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelperExeguard$", "-test.count=1")
	cmd.Env = append(os.Environ(), envExeguardHelper+"=check")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "exeguard-ok") {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	t.Logf("helper:\n%s", out)
}

// TestHelperExeguard is not a test: it is the helper of TestSealedSelf.
func TestHelperExeguard(t *testing.T) {
	var err error
	switch os.Getenv(envExeguardHelper) {
	case "check":
		err = exeguardChecks()
	case "child":
		err = exeguardChild()
	default:
		t.Skip("helper process of TestSealedSelf")
	}
	if err != nil {
		fmt.Println("exeguard-failed:", err)
		os.Exit(1)
	}
	fmt.Println("exeguard-ok")
	os.Exit(0)
}

func exeguardChecks() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	want, err := hashOf("/proc/self/exe")
	if err != nil {
		return err
	}
	for name, seal := range map[string]func() (*os.File, error){"overlay": overlaySelf, "memfd": memfdSelf} {
		f, err := seal()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		err = checkSealed(f, want)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("%s: same content, not writable\n", name)
	}
	return runSealedChild()
}

// checkSealed checks that f holds the binary (hash want) and that neither a
// reopen for writing nor a write through one succeeds.
func checkSealed(f *os.File, want string) error {
	link := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	got, err := hashOf(link)
	if err != nil {
		return err
	}
	if got != want {
		return errors.New("the sealed view does not hold the running binary")
	}
	w, err := os.OpenFile(link, os.O_WRONLY, 0)
	if err != nil {
		fmt.Printf("  reopen for writing: %v\n", err)
		return nil
	}
	defer w.Close()
	_, err = w.WriteAt([]byte("PWNED"), 0)
	if err == nil {
		return errors.New("wrote into the sealed binary")
	}
	fmt.Printf("  write: %v\n", err)
	return nil
}

// runSealedChild starts this binary through sealExecutable.
func runSealedChild() error {
	cmd := &exec.Cmd{Args: []string{"exeguard-child", "-test.run=^TestHelperExeguard$", "-test.count=1"},
		Env: []string{envExeguardHelper + "=child"}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.ExtraFiles = []*os.File{os.Stdin, os.Stdin} // the sealed file must come after these
	release, err := sealExecutable(cmd)
	if err != nil {
		return err
	}
	err = cmd.Start()
	release()
	if err == nil {
		err = cmd.Wait()
	}
	fmt.Printf("child (%s):\n%s", cmd.Path, out.String())
	if err != nil || !strings.Contains(out.String(), "exeguard-ok") {
		return fmt.Errorf("child from the sealed binary: %v", err)
	}
	return nil
}

// exeguardChild runs from the sealed binary: its exe must not be writable
// and the descriptor named by EnvExeFD must be the one it runs from.
func exeguardChild() error {
	fd, err := strconv.Atoi(os.Getenv(nsinit.EnvExeFD))
	if err != nil || fd != 5 {
		return fmt.Errorf("%s=%q, want 5 (after two extra files)", nsinit.EnvExeFD, os.Getenv(nsinit.EnvExeFD))
	}
	target, _ := os.Readlink("/proc/self/exe")
	fmt.Println("exe:", target)
	_, err = os.OpenFile("/proc/self/exe", os.O_WRONLY, 0)
	if err == nil {
		return errors.New("/proc/self/exe opened for writing")
	}
	fmt.Println("open /proc/self/exe for writing:", err)
	nsinit.CloseExeFD()
	if err := unix.Fstat(fd, new(unix.Stat_t)); !errors.Is(err, unix.EBADF) {
		return fmt.Errorf("CloseExeFD left descriptor %d open: %v", fd, err)
	}
	return nil
}

func hashOf(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// TestCloseInheritedFDs checks that descriptors past the preserved ones
// become close-on-exec, and the preserved ones stay as they were.
func TestCloseInheritedFDs(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// In a child, so that this test process keeps its own descriptors.
	cmd := exec.Command(exe, "-test.run=^TestHelperCloseInherited$", "-test.count=1")
	cmd.Env = append(os.Environ(), envExeguardHelper+"=fds")
	cmd.ExtraFiles = []*os.File{os.Stdin, os.Stdin, os.Stdin}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "fds-ok") {
		t.Fatalf("helper: %v\n%s", err, out)
	}
}

// TestHelperCloseInherited is not a test: the child of
// TestCloseInheritedFDs, with descriptors 3, 4 and 5 inherited.
func TestHelperCloseInherited(t *testing.T) {
	if os.Getenv(envExeguardHelper) != "fds" {
		t.Skip("helper process of TestCloseInheritedFDs")
	}
	if err := closeInheritedFDs(1); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for fd, wantCloexec := range map[int]bool{3: false, 4: true, 5: true} {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || (flags&unix.FD_CLOEXEC != 0) != wantCloexec {
			fmt.Printf("fd %d: flags %#x (%v), want close-on-exec %v\n", fd, flags, err, wantCloexec)
			os.Exit(1)
		}
	}
	fmt.Println("fds-ok")
	os.Exit(0)
}

// BenchmarkSealedSelf measures what each way of sealing costs per spawn.
func BenchmarkSealedSelf(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for name, seal := range map[string]func() (*os.File, error){"overlay": overlaySelf, "memfd": memfdSelf} {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				f, err := seal()
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}

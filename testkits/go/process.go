package gregortest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds the wait for the bootstrap line; a debug build on
	// a busy CI machine can take seconds to load.
	startTimeout = 60 * time.Second
	// stopTimeout is how long a broker has after SIGTERM before it is killed.
	stopTimeout = 20 * time.Second
	// stderrTailLines is how much of the broker's log a failed test shows:
	// enough for the last errors and the linter's summary printed at exit.
	stderrTailLines = 40
	// startAttempts covers the free admin port being taken by someone else
	// between the moment it was picked and the moment gregor binds it.
	startAttempts = 3
)

// process is one running `gregor broker --dev`: a single broker, or a whole
// cluster in one process.
type process struct {
	brokers []string
	admin   admin
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has exited
	waitErr error         // what Wait answered; read only after exited is closed
	stderr  string        // the file that holds the broker's stderr
}

// launch starts gregor in dev mode with devArgs (e.g. --brokers 3), waits for
// its bootstrap line and stops it when the test ends.
func launch(t testing.TB, devArgs []string, opts []Option) *process {
	t.Helper()
	var s settings
	for _, opt := range opts {
		opt(&s)
	}
	bin := binary(t)
	// Dev mode keeps its data in a temporary directory that it removes on
	// SIGTERM; under the test's own directory, not even a killed broker's
	// data outlives the test.
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		listener, picked, err := adminListener(s)
		if err != nil {
			t.Fatalf("gregortest: %v", err)
		}
		args := append([]string{"broker", "--dev", "--port", "0"}, devArgs...)
		args = append(args, s.args...)
		for _, kv := range s.overrides {
			args = append(args, "--override", kv[0]+"="+kv[1])
		}
		if picked {
			args = append(args, "--override", "admin.listener="+listener)
		}
		stderr := filepath.Join(dir, fmt.Sprintf("gregor-%d.stderr", attempt))
		p, err := start(bin, args, dir, stderr)
		if err == nil {
			p.admin = admin{url: "http://" + listener}
			t.Cleanup(func() { p.stop(t) })
			return p
		}
		if picked && attempt < startAttempts && errors.Is(err, errPortTaken) {
			continue
		}
		t.Fatalf("gregortest: %s %s: %v", bin, strings.Join(args, " "), err)
	}
}

var errPortTaken = errors.New("a port was taken")

// adminListener is the admin listener's address: the one set with
// WithOverride, else a free loopback port (picked says which).
func adminListener(s settings) (address string, picked bool, err error) {
	for _, kv := range s.overrides {
		if kv[0] == "admin.listener" {
			address = kv[1]
		}
	}
	if address != "" {
		return address, false, nil
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", false, fmt.Errorf("no free loopback port for the admin listener: %w", err)
	}
	defer listener.Close()
	return listener.Addr().String(), true, nil
}

func start(bin string, args []string, dir, stderrPath string) (*process, error) {
	stderr, err := os.Create(stderrPath)
	if err != nil {
		return nil, err
	}
	defer stderr.Close() // the child has its own descriptor
	stdout := &firstLine{line: make(chan string, 1)}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), stderr: stderrPath}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	select {
	case line := <-stdout.line:
		p.brokers = strings.Split(line, ",")
		return p, nil
	case <-p.exited:
		tail := p.stderrTail()
		if strings.Contains(tail, "Address already in use") {
			return nil, fmt.Errorf("%w: %s", errPortTaken, tail)
		}
		return nil, fmt.Errorf("exited (%v) before printing its address; stderr:\n%s", p.waitErr, tail)
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-p.exited
		return nil, fmt.Errorf("printed no address within %v; stderr:\n%s", startTimeout, p.stderrTail())
	}
}

// stop sends SIGTERM, as Ctrl-C would, and waits; a broker that has not
// exited after stopTimeout is killed. An exit other than a clean one fails
// the test, and a failed test shows the end of the broker's log.
func (p *process) stop(t testing.TB) {
	select {
	case <-p.exited:
		t.Errorf("gregortest: gregor exited before the test ended: %v", p.waitErr)
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = p.cmd.Process.Kill()
		}
		select {
		case <-p.exited:
			if p.waitErr != nil {
				t.Errorf("gregortest: gregor stopped with %v", p.waitErr)
			}
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("gregortest: gregor had not stopped %v after SIGTERM: killed it", stopTimeout)
		}
	}
	if t.Failed() {
		t.Logf("gregortest: the end of gregor's stderr:\n%s", p.stderrTail())
	}
}

func (p *process) stderrTail() string {
	data, err := os.ReadFile(p.stderr)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.stderr, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > stderrTailLines {
		lines = lines[len(lines)-stderrTailLines:]
	}
	return strings.Join(lines, "\n")
}

// firstLine is the broker's stdout: it hands over the first line (the
// bootstrap addresses) and discards the rest. exec calls Write from a single
// goroutine.
type firstLine struct {
	pending []byte
	line    chan string
	sent    bool
}

func (w *firstLine) Write(data []byte) (int, error) {
	if !w.sent {
		w.pending = append(w.pending, data...)
		if end := bytes.IndexByte(w.pending, '\n'); end >= 0 {
			w.line <- strings.TrimSpace(string(w.pending[:end]))
			w.sent, w.pending = true, nil
		}
	}
	return len(data), nil
}

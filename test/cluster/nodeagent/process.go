package nodeagent

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// processSpec is one container instance as a host process.
type processSpec struct {
	argv    []string
	env     []string // KEY=VALUE
	dir     string
	logPath string
	pidPath string
	// readinessArgv is the container's exec readiness probe, prepared like
	// argv (Windows nodes only; nil: no probe is run).
	readinessArgv []string
}

// process is a running container instance. It runs in its own process group
// so that stopping the "container" reaches everything it started, the way a
// container's PID namespace does.
type process struct {
	cmd      *exec.Cmd
	pgid     int
	pidPath  string
	exited   chan struct{}
	exitCode int32
	started  time.Time
	finished time.Time
}

// pipeDrainTimeout bounds how long output is read after the main process has
// exited and its group was killed: a grandchild that left the group may hold
// the pipe open forever.
const pipeDrainTimeout = 2 * time.Second

// startProcess starts spec.argv with stdout/stderr going to a CRI log file.
// The error of a failed start reads like the runtime's StartError message.
func startProcess(spec processSpec) (*process, error) {
	if len(spec.argv) == 0 {
		return nil, errors.New("no command to run")
	}
	path, err := lookPath(spec.argv[0], envValue(spec.env, "PATH"), spec.dir)
	if err != nil {
		return nil, err
	}
	log, err := openCRILog(spec.logPath)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		log.Close()
		return nil, err
	}
	defer devNull.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		log.Close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		log.Close()
		outR.Close()
		outW.Close()
		return nil, err
	}

	cmd := &exec.Cmd{
		Path:        path,
		Args:        spec.argv,
		Env:         spec.env,
		Dir:         spec.dir,
		Stdin:       devNull,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		for _, f := range []*os.File{outR, outW, errR, errW} {
			f.Close()
		}
		return nil, fmt.Errorf("failed to start %q: %w", spec.argv[0], err)
	}
	outW.Close()
	errW.Close()

	p := &process{cmd: cmd, pgid: cmd.Process.Pid, pidPath: spec.pidPath, exited: make(chan struct{}), started: time.Now()}
	if spec.pidPath != "" {
		_ = writePidFile(spec.pidPath, p.pgid)
	}

	var copying sync.WaitGroup
	copying.Add(2)
	go func() { defer copying.Done(); log.copyStream("stdout", outR) }()
	go func() { defer copying.Done(); log.copyStream("stderr", errR) }()

	go func() {
		err := cmd.Wait()
		p.finished = time.Now()
		p.exitCode = exitCodeOf(cmd.ProcessState, err)
		// The container ends with its first process; whatever it left behind
		// in its group goes too, as when a PID namespace's init exits.
		_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
		drained := make(chan struct{})
		go func() { copying.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-time.After(pipeDrainTimeout):
			outR.Close()
			errR.Close()
			<-drained
		}
		outR.Close()
		errR.Close()
		log.Close()
		if p.pidPath != "" {
			_ = os.Remove(p.pidPath)
		}
		close(p.exited)
	}()
	return p, nil
}

// signal sends sig to the whole process group.
func (p *process) signal(sig syscall.Signal) {
	select {
	case <-p.exited:
	default:
		_ = syscall.Kill(-p.pgid, sig)
	}
}

// exitCodeOf reports the exit code as container runtimes do: 128+signal for
// a process killed by a signal (143 for SIGTERM, 137 for SIGKILL).
func exitCodeOf(state *os.ProcessState, err error) int32 {
	if state == nil {
		return 128
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int32(128 + int(ws.Signal()))
	}
	return int32(state.ExitCode())
}

// lookPath resolves name against the container's PATH, not the agent's:
// exec.LookPath would consult the agent's own environment.
func lookPath(name, pathEnv, dir string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("exec: %q: stat %s: no such executable file", name, p)
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if d == "" {
			continue
		}
		if p := filepath.Join(d, name); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH (the test bed runs container commands as host processes: install it on the host or pass its directory with --path)", name)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func envValue(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return ""
}

// writePidFile records the group leader with its start time so that a
// restarted agent kills only its own leftovers, not a process that reused the
// PID.
func writePidFile(path string, pid int) error {
	start, err := processStartTime(pid)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(fmt.Sprintf("%d %d\n", pid, start)), 0o640)
}

// processStartTime is field 22 of /proc/<pid>/stat (clock ticks since boot).
func processStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	// comm (field 2) may contain spaces and parentheses; fields resume after the last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat format", pid)
	}
	fields := strings.Fields(s[i+1:])
	const startTimeField = 22 - 3 // fields after ')' start at field 3 (state)
	if len(fields) <= startTimeField {
		return 0, fmt.Errorf("unexpected /proc/%d/stat format", pid)
	}
	return strconv.ParseUint(fields[startTimeField], 10, 64)
}

// killLeftoverProcessGroup kills the group recorded in a pid file by an
// earlier agent run, if that process still exists, and removes the file.
func killLeftoverProcessGroup(pidPath string) (bool, error) {
	defer os.Remove(pidPath)
	b, err := os.ReadFile(pidPath)
	if err != nil {
		return false, err
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil || pid <= 1 {
		return false, fmt.Errorf("bad pid file %s", pidPath)
	}
	now, err := processStartTime(pid)
	if err != nil || now != start {
		return false, nil
	}
	return true, syscall.Kill(-pid, syscall.SIGKILL)
}

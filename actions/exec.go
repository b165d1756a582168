package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Defaults of the exec action.
const (
	// DefaultExecTimeout bounds one run of the command when the step gives no
	// `timeout`; the step's own timeout, carried by the context, applies as well.
	DefaultExecTimeout = 60 * time.Second
	// DefaultExecMaxOutput caps what is kept of stdout, and of stderr, in bytes.
	DefaultExecMaxOutput = 1 << 20
	// execWaitDelay is how long a finished or killed command's output pipes may stay
	// open (held by a child that escaped the kill) before they are closed.
	execWaitDelay = 2 * time.Second
)

// execInherited are the variables of the server's environment a command gets; any
// other, the server's secrets among them, must be passed explicitly in `env`.
var execInherited = []string{"PATH", "HOME"}

var _ Action = (*Exec)(nil)

// Exec is the `exec` action: it runs a program, without a shell, and returns its exit
// code and output. It refuses to run unless Allow is set (`serve --allow-exec`), so the
// zero value is safe and refuses.
//
// The command gets a minimal environment: PATH and HOME of the server, plus `env`.
// A command that exits with a status other than 0, is killed by a signal or runs out
// of time fails the step and is retried if the step has `retry`; a missing program,
// a missing directory and bad parameters are final. On timeout or cancellation the
// command's whole process group is killed (on Unix), its children with it.
type Exec struct {
	// Allow lets commands run; without it every Run is refused.
	Allow bool
	// MaxOutput caps what is kept of stdout, and of stderr, in bytes; 0 means
	// DefaultExecMaxOutput. The rest is read and dropped, and the output says so.
	MaxOutput int
}

// newExec returns the exec action of a registry: allow is Options.AllowExec.
func newExec(allow bool) *Exec {
	return &Exec{Allow: allow}
}

// Spec describes the exec action's parameters.
func (e *Exec) Spec() Spec {
	return Spec{
		Doc: "Runs a program without a shell and returns exit_code, stdout and stderr (each " +
			"capped at 1 MiB; stdout_truncated and stderr_truncated say when output was cut). " +
			"A non-zero exit fails the step. Refused unless hookflow serve runs with --allow-exec.",
		Params: []Param{
			{Name: "command", Type: TypeString, Required: true,
				Doc: "The program: a path, or a name looked up in the server's PATH. No shell: give sh as the command and -c as an arg for one."},
			{Name: "args", Type: TypeList,
				Doc: "Arguments, one list element each, passed as is (no globbing, no splitting); numbers and bools are formatted as text."},
			{Name: "env", Type: TypeMap,
				Doc: "Environment variables, name to value, added to the only ones inherited from the server: PATH and HOME."},
			{Name: "dir", Type: TypeString,
				Doc: "Working directory; default the server's. A relative command path starts from it."},
			{Name: "stdin", Type: TypeString,
				Doc: "Text written to the command's standard input; default none (empty input)."},
			{Name: "timeout", Type: TypeDuration,
				Doc: "Longest run, e.g. 5m; then the command and its children are killed. Default 60s; 0 leaves only the step's timeout."},
		},
	}
}

// Run runs the command once. When the command ran but failed it returns the output
// (exit_code, stdout, stderr) together with the error, for the history.
func (e *Exec) Run(ctx context.Context, in Input) (any, error) {
	if !e.Allow {
		return nil, Permanent(errors.New("exec: refused: start hookflow serve with --allow-exec to allow it"))
	}
	c, err := newExecCall(in.With)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	return c.run(ctx, e.maxOutput())
}

// maxOutput is MaxOutput or its default.
func (e *Exec) maxOutput() int {
	if e.MaxOutput > 0 {
		return e.MaxOutput
	}
	return DefaultExecMaxOutput
}

// execCall is one validated run of the exec action.
type execCall struct {
	command string
	args    []string
	env     []string // never nil: a nil Env would inherit the server's environment
	dir     string
	stdin   *string // nil: no input
	timeout time.Duration
}

// newExecCall validates the rendered parameters; every error it returns is Permanent.
func newExecCall(with map[string]any) (*execCall, error) {
	c := &execCall{}
	var err error
	if c.command, err = requiredString(with, "command"); err != nil {
		return nil, err
	}
	if c.args, err = execArgs(with); err != nil {
		return nil, err
	}
	if c.env, err = execEnv(with); err != nil {
		return nil, err
	}
	if c.dir, err = stringParam(with, "dir"); err != nil {
		return nil, err
	}
	if _, ok := param(with, "stdin"); ok {
		s, err := stringParam(with, "stdin")
		if err != nil {
			return nil, err
		}
		c.stdin = &s
	}
	if c.timeout, err = durationParam(with, "timeout", DefaultExecTimeout); err != nil {
		return nil, err
	}
	// The kernel refuses a NUL byte; say which parameter holds it rather than fail at start.
	for name, s := range map[string]string{"command": c.command, "dir": c.dir} {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, Permanentf("%s: contains a NUL byte", name)
		}
	}
	return c, nil
}

// execArgs reads args: each element a string, number or bool. A null element is an
// error, not dropped, since dropping it would shift the arguments after it.
func execArgs(with map[string]any) ([]string, error) {
	list, err := listParam(with, "args")
	if err != nil {
		return nil, err
	}
	args := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := scalarString(e)
		if !ok {
			return nil, Permanentf("args: element %d: want a string, got %s", i, typeName(e))
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, Permanentf("args: element %d: contains a NUL byte", i)
		}
		args = append(args, s)
	}
	return args, nil
}

// execEnv builds the command's environment, sorted: the inherited variables, then env
// (which may replace them; a null value leaves a variable as it was).
func execEnv(with map[string]any) ([]string, error) {
	extra, err := mapParam(with, "env")
	if err != nil {
		return nil, err
	}
	vars := make(map[string]string, len(execInherited)+len(extra))
	for _, name := range execInherited {
		if v, ok := os.LookupEnv(name); ok {
			vars[name] = v
		}
	}
	for name, v := range extra {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return nil, Permanentf("env: invalid variable name %q", name)
		}
		if v == nil {
			continue
		}
		s, ok := scalarString(v)
		if !ok {
			return nil, Permanentf("env.%s: want a string, got %s", name, typeName(v))
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, Permanentf("env.%s: contains a NUL byte", name)
		}
		vars[name] = s
	}
	env := make([]string, 0, len(vars))
	for name, v := range vars {
		env = append(env, name+"="+v)
	}
	slices.Sort(env)
	return env, nil
}

// run starts the command, waits for it and classifies its outcome.
func (c *execCall) run(ctx context.Context, maxOutput int) (any, error) {
	runCtx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(runCtx, c.command, c.args...)
	cmd.Env, cmd.Dir = c.env, c.dir
	if c.stdin != nil {
		cmd.Stdin = strings.NewReader(*c.stdin)
	}
	stdout, stderr := &execOutput{max: maxOutput}, &execOutput{max: maxOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = execWaitDelay
	killGroupOnCancel(cmd)

	if err := cmd.Start(); err != nil {
		return nil, startError(c.command, err)
	}
	err := cmd.Wait()
	exitCode := -1
	if cmd.ProcessState != nil {
		exitCode = cmd.ProcessState.ExitCode()
	}
	out := map[string]any{
		"exit_code":        exitCode,
		"stdout":           stdout.String(),
		"stderr":           stderr.String(),
		"stdout_truncated": stdout.dropped > 0,
		"stderr_truncated": stderr.dropped > 0,
	}
	return out, c.waitError(ctx, runCtx, err, stderr)
}

// waitError turns the result of Wait into the step's error: nil for a clean exit,
// retryable for a non-zero status, a signal, a timeout or a cancellation.
func (c *execCall) waitError(ctx, runCtx context.Context, err error, stderr *execOutput) error {
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return nil
	case runCtx.Err() != nil && ctx.Err() == nil:
		return fmt.Errorf("exec: %s: no exit within %s: %w", c.command, c.timeout, context.DeadlineExceeded)
	case ctx.Err() != nil:
		return fmt.Errorf("exec: %s: %w", c.command, ctx.Err())
	case errors.Is(err, exec.ErrWaitDelay):
		// The command exited 0, but a child it left behind held its output open: the
		// command's own work is done, and its output up to then is kept.
		return nil
	case errors.As(err, &exitErr):
		msg := fmt.Sprintf("exec: command exited with status %d", exitErr.ExitCode())
		if exitErr.ExitCode() < 0 {
			msg = fmt.Sprintf("exec: command did not exit normally (%s)", exitErr.ProcessState)
		}
		if s := snippet(stderr.buf.Bytes(), 200); s != "" {
			msg += ": " + s
		}
		return errors.New(msg)
	}
	return fmt.Errorf("exec: %s: %w", c.command, err)
}

// startError wraps a failure to start the command. A missing program or directory,
// a file that is not executable and a bad path are final; anything else (out of
// processes or memory) may pass and is retryable.
func startError(command string, err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		err = ee.Err // exec.Error repeats the command named below
	}
	err = fmt.Errorf("exec: starting %q: %w", command, err)
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, exec.ErrDot) ||
		errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) ||
		errors.Is(err, syscall.ENOEXEC) || errors.Is(err, syscall.ENOTDIR) {
		return Permanent(err)
	}
	return err
}

// execOutput keeps the first max bytes written to it and counts the rest, so that a
// chatty command neither blocks on a full pipe nor fills the server's memory.
type execOutput struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

// Write keeps what fits and drops the rest; it never fails.
func (o *execOutput) Write(p []byte) (int, error) {
	keep := min(max(o.max-o.buf.Len(), 0), len(p))
	o.buf.Write(p[:keep])
	o.dropped += int64(len(p) - keep)
	return len(p), nil
}

// String returns the kept output; when it was cut, without a trailing partial
// UTF-8 sequence.
func (o *execOutput) String() string {
	b := o.buf.Bytes()
	if o.dropped > 0 {
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return string(b)
}

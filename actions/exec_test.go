//go:build unix

package actions

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runExec runs an allowed Exec with with.
func runExec(t *testing.T, e *Exec, with map[string]any) (map[string]any, error) {
	t.Helper()
	out, err := e.Run(context.Background(), input(with))
	m, _ := out.(map[string]any)
	return m, err
}

// sh returns the parameters of a run of script by sh.
func sh(script string) map[string]any {
	return map[string]any{"command": "sh", "args": []any{"-c", script}}
}

func TestExecRefused(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	for name, e := range map[string]*Exec{"zero value": {}, "newExec(false)": newExec(false)} {
		t.Run(name, func(t *testing.T) {
			out, err := runExec(t, e, map[string]any{"command": "touch", "args": []any{marker}})
			if err == nil || !IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent refusal", err)
			}
			want(t, "error", err.Error(), "exec: refused: start hookflow serve with --allow-exec to allow it")
			want(t, "output", out, map[string]any(nil))
			if _, err := os.Stat(marker); err == nil {
				t.Error("the refused command ran")
			}
		})
	}
}

func TestExecOutput(t *testing.T) {
	out, err := runExec(t, newExec(true), sh("echo hi; echo err >&2"))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want(t, "output", out, map[string]any{"exit_code": 0, "stdout": "hi\n", "stderr": "err\n",
		"stdout_truncated": false, "stderr_truncated": false})
}

func TestExecArgsAreNotSplitNorGlobbed(t *testing.T) {
	out, err := runExec(t, newExec(true), map[string]any{
		"command": "printf", "args": []any{"%s|%s|%s|%s", 1, 2.5, true, "a b *"},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want(t, "stdout", out["stdout"], "1|2.5|true|a b *")
}

func TestExecExitStatus(t *testing.T) {
	out, err := runExec(t, newExec(true), sh("echo out; echo boom >&2; exit 3"))
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	want(t, "error", err.Error(), "exec: command exited with status 3: boom")
	want(t, "exit_code", out["exit_code"], 3)
	want(t, "stdout", out["stdout"], "out\n")

	_, err = runExec(t, newExec(true), sh("kill -9 $$"))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "did not exit normally (signal: killed)") {
		t.Fatalf("killed by a signal: err = %v, want a retryable error naming the signal", err)
	}
}

func TestExecTimeoutKillsTheProcessGroup(t *testing.T) {
	start := time.Now()
	// The shell's child would keep the output pipe open for 30s if it outlived the shell.
	with := sh("sleep 30 & echo $!; wait")
	with["timeout"] = "300ms"
	out, err := runExec(t, newExec(true), with)
	if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a retryable deadline error", err)
	}
	want(t, "error", err.Error(), "exec: sh: no exit within 300ms: context deadline exceeded")
	want(t, "exit_code", out["exit_code"], -1)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run took %v after a 300ms timeout", d)
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(out["stdout"].(string)))
	if perr != nil {
		t.Fatalf("stdout = %q, want the child's pid", out["stdout"])
	}
	waitGone(t, pid)
}

// waitGone waits until process pid is gone or a zombie (killed, not yet reaped by an
// init that does not reap); it reads /proc, and skips the test without it.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc to check that the child was killed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if _, rest, ok := strings.Cut(string(stat), ") "); ok && strings.HasPrefix(rest, "Z") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command's child %d still runs: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExecCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()
	_, err := newExec(true).Run(ctx, input(map[string]any{"command": "sleep", "args": []any{"30"}}))
	if err == nil || IsPermanent(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a retryable cancellation", err)
	}
}

func TestExecEnvironment(t *testing.T) {
	t.Setenv("HOOKFLOW_EXEC_TEST_SECRET", "must not leak")
	t.Setenv("HOME", "/home/hookflow-test")
	out, err := runExec(t, newExec(true), map[string]any{
		"command": "env", "env": map[string]any{"FOO": "bar baz", "N": 5, "GONE": nil},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want(t, "environment", strings.Split(strings.TrimSpace(out["stdout"].(string)), "\n"),
		[]string{"FOO=bar baz", "HOME=/home/hookflow-test", "N=5", "PATH=" + os.Getenv("PATH")})

	out, err = runExec(t, newExec(true), map[string]any{"command": "env", "env": map[string]any{"HOME": "/elsewhere"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(out["stdout"].(string), "HOME=/elsewhere\n") {
		t.Errorf("env did not replace HOME: %q", out["stdout"])
	}
}

func TestExecDir(t *testing.T) {
	dir := t.TempDir()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	with := sh("pwd -P")
	with["dir"] = dir
	out, err := runExec(t, newExec(true), with)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want(t, "pwd", out["stdout"], real+"\n")

	// A relative command path starts from dir.
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho script\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = runExec(t, newExec(true), map[string]any{"command": "./run.sh", "dir": dir})
	if err != nil {
		t.Fatalf("Run ./run.sh: %v", err)
	}
	want(t, "stdout", out["stdout"], "script\n")
}

func TestExecStdin(t *testing.T) {
	out, err := runExec(t, newExec(true), map[string]any{"command": "cat", "stdin": "line 1\nline 2"})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want(t, "stdout", out["stdout"], "line 1\nline 2")

	out, err = runExec(t, newExec(true), map[string]any{"command": "cat"})
	if err != nil {
		t.Fatalf("Run without stdin: %v", err)
	}
	want(t, "stdout without stdin", out["stdout"], "")
}

func TestExecOutputCap(t *testing.T) {
	out, err := runExec(t, &Exec{Allow: true, MaxOutput: 7}, sh("printf 0123456789; printf ééééé >&2"))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want(t, "stdout", out["stdout"], "0123456")
	want(t, "stdout_truncated", out["stdout_truncated"], true)
	want(t, "stderr (no partial character)", out["stderr"], "ééé")
	want(t, "stderr_truncated", out["stderr_truncated"], true)

	// Output far beyond the default cap is read to the end, not left to block the command.
	out, err = runExec(t, newExec(true), map[string]any{"command": "head", "args": []any{"-c", 5 << 20, "/dev/zero"}})
	if err != nil {
		t.Fatalf("Run head: %v", err)
	}
	want(t, "stdout length", len(out["stdout"].(string)), DefaultExecMaxOutput)
	want(t, "stdout_truncated", out["stdout_truncated"], true)
}

func TestExecStartErrors(t *testing.T) {
	dir := t.TempDir()
	notExecutable := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(notExecutable, []byte("echo no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		with map[string]any
		msg  string
	}{
		{"missing program", map[string]any{"command": "hookflow-no-such-program"},
			`exec: starting "hookflow-no-such-program": executable file not found in $PATH`},
		{"missing path", map[string]any{"command": filepath.Join(dir, "nope")}, "no such file or directory"},
		{"missing dir", map[string]any{"command": "true", "dir": filepath.Join(dir, "nope")}, "no such file or directory"},
		{"not executable", map[string]any{"command": notExecutable}, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runExec(t, newExec(true), tt.with)
			if err == nil || !IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent error", err)
			}
			if !strings.HasPrefix(err.Error(), "exec: starting ") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error = %q, want it to mention %q", err, tt.msg)
			}
			want(t, "output", out, map[string]any(nil))
		})
	}
}

func TestExecBadParams(t *testing.T) {
	tests := []struct {
		name string
		with map[string]any
		msg  string
	}{
		{"no command", map[string]any{"args": []any{"x"}}, "exec: command is required"},
		{"args with a map", map[string]any{"command": "echo", "args": []any{"a", map[string]any{}}}, "exec: args: element 1: want a string, got map"},
		{"args with null", map[string]any{"command": "echo", "args": []any{"a", nil, "b"}}, "exec: args: element 1: want a string, got null"},
		{"args with NUL", map[string]any{"command": "echo", "args": []any{"a\x00b"}}, "exec: args: element 0: contains a NUL byte"},
		{"env not a map", map[string]any{"command": "env", "env": []any{"A=1"}}, "exec: env: want a map, got list"},
		{"env value a list", map[string]any{"command": "env", "env": map[string]any{"A": []any{1}}}, "exec: env.A: want a string, got list"},
		{"env name with =", map[string]any{"command": "env", "env": map[string]any{"A=B": "1"}}, `exec: env: invalid variable name "A=B"`},
		{"dir a list", map[string]any{"command": "true", "dir": []any{"/"}}, "exec: dir: want a string, got list"},
		{"bad timeout", map[string]any{"command": "true", "timeout": 5}, `exec: timeout: want a duration such as "30s", got number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runExec(t, newExec(true), tt.with)
			if err == nil || !IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent error", err)
			}
			want(t, "error", err.Error(), tt.msg)
		})
	}
}

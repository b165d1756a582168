//go:build !unix

package actions

import "os/exec"

// killGroupOnCancel leaves cmd as it is: without Unix process groups a timeout or a
// cancellation kills the command's process only.
func killGroupOnCancel(*exec.Cmd) {}
